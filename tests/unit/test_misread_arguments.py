"""Arguments Hydra would misread end as one `error:` line that says the fix, before Hydra parses
(config/command_options.py): a path holding `=` (run folder names do), and an option the
command does not take (`crop=tight` to predict, where Hydra would advise `+crop=tight`)."""

from __future__ import annotations

import shlex

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser

from csxa_lightning.config.command_options import misread_argument, overrides_in, own_options
from csxa_lightning.config.location import CONFIG_DIR
from tests.helpers import run_module

RUN = "outputs/train/runs/+variant=cropped,experiment=table1/2026-01-02_08-00-00_4242"
CKPT = f"{RUN}/checkpoints/epoch012.ckpt"
CHECKPOINT_COMMANDS = ("predict", "evaluate", "export")


def pasted(word: str) -> tuple[str, str]:
    """(key, value) Hydra reads from a suggested word once the shell has unquoted it."""
    (unquoted,) = shlex.split(word)
    (override,) = OverridesParser.create().parse_overrides([unquoted])
    return override.key_or_group, override.value()


@pytest.mark.parametrize("command", CHECKPOINT_COMMANDS)
def test_an_unquoted_checkpoint_path_gets_the_quoted_argument_and_its_run_folder(command):
    problem = misread_argument([f"ckpt={CKPT}", "input=films"], command, own(command))
    assert problem.startswith(f'ckpt={CKPT}: a value holding "=" (run folder names do) must be')
    fixes = [word for word in problem.split() if word.startswith("'")]
    assert [pasted(fix.rstrip(",")) for fix in fixes] == [("ckpt", CKPT), ("run", RUN)]


@pytest.mark.parametrize(
    "argument", [f"data.root=/data/{RUN}", f"hydra.run.dir={RUN}", f"+out=/tmp/{RUN}"]
)
def test_train_gets_the_quoted_argument_for_any_path_holding_an_equals_sign(argument):
    problem = misread_argument(["model=resnet18", argument], "train", None)
    key, value = argument.split("=", 1)
    (fix,) = [word for word in problem.split() if word.startswith("'")]
    assert pasted(fix) == (key.lstrip("+"), value) and "run=" not in problem


@pytest.mark.parametrize(
    "argv",
    [
        [f'ckpt="{CKPT}"', "input=films"],  # quoted for Hydra: it parses
        ["seed=range(start=1,stop=3)", "model=resnet18,vgg19"],  # sweeps hold `=` and `,`
        ["--cfg", "job", "-cn", "train", "--info", "config", "hydra.verbose=true"],
        ["-sc", "install=bash"],  # shell completion: not overrides
    ],
)
def test_what_hydra_reads_as_meant_passes(argv):
    assert misread_argument(argv, "train", None) is None


@pytest.mark.parametrize("command", CHECKPOINT_COMMANDS)
@pytest.mark.parametrize("argument", ["crop=tight", "+crop=tight", "++model.arch=vgg19"])
def test_an_option_the_command_does_not_take_gets_the_options_it_takes(command, argument):
    problem = misread_argument(["ckpt=x.ckpt", argument], command, own(command))
    option = argument.lstrip("+").split("=")[0].split(".")[0]
    assert problem.startswith(f"{command} does not take {option}: ")
    assert f"Its options: {', '.join(sorted(own(command)))} (csxa-{command} --help)" in problem


@pytest.mark.parametrize(
    ("command", "argv"),
    [
        ("evaluate", ["data=phantom", "data.phantom.seed=7", "paths.log_dir=/x", "subset=test"]),
        ("predict", ["run=r", "input=[a.png,b.png]", "hydra.verbose=true", "~cam"]),
        ("export", ["hydra/job_logging=disabled", "format=onnx", "opset=18"]),
        ("predict", ["--config-dir", "my_conf", "crop=tight"]),  # a config of the user's
    ],
)
def test_the_commands_own_options_pass(command, argv):
    assert misread_argument(argv, command, own(command)) is None


def test_hydras_flags_and_their_values_are_not_overrides():
    argv = ["-m", "--cfg", "job", "-p", "data", "--info", "a=b", "-cd", "c=d", "--help", "x=1"]
    assert overrides_in(argv) == ["a=b", "x=1"]  # --info's value is one of its choices


@pytest.mark.parametrize(
    ("command", "argv", "starts"),
    [
        *(
            (c, [f"ckpt={CKPT}", "input=films"], f"error: ckpt={CKPT}: a value holding")
            for c in CHECKPOINT_COMMANDS
        ),
        *((c, ["crop=tight"], f"error: {c} does not take crop: ") for c in CHECKPOINT_COMMANDS),
        ("train", [f"data.root=/data/{RUN}"], f"error: data.root=/data/{RUN}: a value holding"),
    ],
)
def test_the_command_line_ends_with_one_error_line(command, argv, starts, tmp_path):
    result = run_module(f"csxa_lightning.{command}", *argv, cwd=tmp_path, timeout=120)
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines() == [result.stderr.strip()]  # one line, no traceback
    assert result.stderr.startswith(starts), result.stderr
    assert "Traceback" not in result.stderr and "mismatched input" not in result.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written


def own(command: str) -> set[str]:
    return own_options(CONFIG_DIR, command)
