"""The options each command takes, and the arguments Hydra would misread, refused before it
parses them.

A command that reads a checkpoint (predict, evaluate, export) takes only the keys of its own
config file: Hydra lets `csxa-predict +crop=tight` add a training group to predict's config,
then nothing reads it (the preprocessing comes from the checkpoint), and answers a plain
`crop=tight` with the wrong advice "use +crop=tight". And a path holding `=` (run folder names
do: `+variant=cropped,experiment=table1`) ends in Hydra's "mismatched input '=' expecting
<EOF>". Both end as one `error:` line that says the fix, before Hydra parses anything
(exit_on_misread_argument, called first by each command's main).

Light on purpose: the commands import this module at the top, and `--help` must not wait for
torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePath

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf

from csxa_lightning.utils.errors import ConfigValueError
from csxa_lightning.utils.override_quoting import pasteable_override

# The commands that read a trained model, not training's config.
CHECKPOINT_COMMANDS = ("predict", "evaluate", "export")
# Hydra's own flags (hydra/_internal/utils.py: get_args_parser) that take the next word as their
# value; --info's value is optional and one of INFO_VALUES.
FLAGS_WITH_VALUE = frozenset(
    ["--cfg", "-c", "--package", "-p", "--config-path", "-cp", "--config-name", "-cn"]
    + ["--config-dir", "-cd", "--experimental-rerun"]
)
INFO_FLAGS = frozenset(["--info", "-i"])
INFO_VALUES = frozenset(["all", "config", "defaults", "defaults-tree", "plugins", "searchpath"])
# With these the options are not conf/<command>.yaml's alone (a config of the user's), or the
# words are not overrides (`-sc install=bash`): only Hydra judges them.
OTHER_CONFIG_FLAGS = frozenset(
    ["--config-path", "-cp", "--config-name", "-cn", "--config-dir", "-cd"]
)
COMPLETION_FLAGS = frozenset(["--shell-completion", "-sc"])


def own_options(config_dir: str | Path, command: str) -> set[str]:
    """The top-level keys conf/<command>.yaml declares and the config groups its defaults list
    composes (evaluate's data and paths), hydra's aside."""
    declared = OmegaConf.load(Path(config_dir) / f"{command}.yaml")
    return (set(declared.keys()) | set(default_groups(declared))) - {"defaults", "hydra"}


def refuse_foreign_options(cfg: DictConfig, own: set[str], command: str) -> None:
    """After composing: what an option Hydra let in (`+crop=tight`) added to the config."""
    foreign = sorted(set(cfg.keys()) - own - {"hydra"})
    if foreign:
        raise ConfigValueError(foreign_options_message(command, ", ".join(foreign), own))


def exit_on_misread_argument(
    argv: Sequence[str], command: str, own: set[str] | None = None
) -> None:
    """The first thing each command's main does, on sys.argv[1:]: an argument Hydra would
    misread ends the command as one `error:` line (exit code 1), before Hydra parses."""
    problem = misread_argument(argv, command, own)
    if problem is not None:
        raise SystemExit(f"error: {problem}")


# Pure functions: the command line, read as Hydra will.


def misread_argument(argv: Sequence[str], command: str, own: set[str] | None) -> str | None:
    """What is wrong with the first argument Hydra would misread, and its fix, in one line; None
    when there is none. own: the options the command takes (None: not checked, as for train's
    many groups and keys)."""
    if COMPLETION_FLAGS & set(argv):
        return None
    if OTHER_CONFIG_FLAGS & {word.split("=", 1)[0] for word in argv}:
        own = None
    for override in overrides_in(argv):
        problem = unquoted_path_problem(override, command)
        if problem is None and own is not None:
            problem = foreign_option_problem(override, command, own)
        if problem is not None:
            return problem
    return None


def overrides_in(argv: Sequence[str]) -> list[str]:
    """The words of argv Hydra reads as overrides: not its flags, nor the flags' values."""
    overrides, words = [], iter(argv)
    for word in words:
        if word in FLAGS_WITH_VALUE:
            next(words, None)
        elif word in INFO_FLAGS:
            value = next(words, None)
            if value is not None and value not in INFO_VALUES:
                overrides.append(value)
        elif not word.startswith("-"):
            overrides.append(word)
    return overrides


def unquoted_path_problem(override: str, command: str) -> str | None:
    """`key=a/b=c/d` (a path holding `=`, unquoted): Hydra cannot parse it. The fix: the same
    argument quoted for Hydra and the shell, or for a checkpoint, its run folder (run=DIR)."""
    key, equals, value = override.partition("=")
    if not equals or "=" not in value or parses(override):
        return None
    fix = pasteable_override(key, value)
    message = (
        f'{override}: a value holding "=" (run folder names do) must be quoted for Hydra and '
        f"the shell: {fix}"
    )
    run_folder = checkpoint_run_folder(key, value) if command in CHECKPOINT_COMMANDS else None
    if run_folder is not None:
        message += f", or name its run folder: {pasteable_override('run', run_folder)}"
    return message


def foreign_option_problem(override: str, command: str, own: set[str]) -> str | None:
    """An override whose option the command does not take (`crop=tight` to predict)."""
    key = override.partition("=")[0].lstrip("+~")
    option = key.split("@", 1)[0].split("/", 1)[0].split(".", 1)[0]
    if option in own or option == "hydra" or not option:
        return None
    return foreign_options_message(command, option, own)


def foreign_options_message(command: str, foreign: str, own: set[str]) -> str:
    return (
        f"{command} does not take {foreign}: the preprocessing and the model come from the "
        f"checkpoint. Its options: {', '.join(sorted(own))} (csxa-{command} --help)"
    )


def checkpoint_run_folder(key: str, value: str) -> str | None:
    """The run folder of ckpt=<run>/checkpoints/<file>.ckpt, else None."""
    if key.lstrip("+") != "ckpt":
        return None
    path = PurePath(value)
    return str(path.parent.parent) if path.parent.name == "checkpoints" else None


def parses(override: str) -> bool:
    try:
        OverridesParser.create().parse_override(override)
    except HydraException:
        return False
    return True


def default_groups(declared: DictConfig) -> list[str]:
    """The config groups a config's defaults list names (`- data: csxa` is data; `_self_` and
    `override hydra/...` are none)."""
    groups = []
    for entry in declared.get("defaults") or []:
        if isinstance(entry, DictConfig):
            for key in entry:
                groups.append(str(key).removeprefix("optional ").split("@")[0].split("/")[0])
    return [g for g in groups if not g.startswith("override ")]
