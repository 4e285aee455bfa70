"""A run folder's saved config is its identity: the report describes the run by it.

Hydra writes the config of every start into the run folder before our code runs. It writes it
into INCOMING_DIR (conf/hydra/default.yaml: hydra.output_subdir), not over .hydra/, and train()
then decides (adopt_incoming):
- a new folder: the incoming config becomes .hydra/;
- the same config again (a restarted sweep, a resume): .hydra/ stays as it is;
- another config on a finished run: refused, naming the keys that differ, and nothing in the
  folder changes; with force=true the run is retrained in a staging folder, and .hydra/ takes
  the new config with the new run's files, once it has finished (runs/retraining.py; a failure
  keeps the old run whole);
- another config on an interrupted run: refused unless every differing key is listed in
  resume.allow_changes (default: trainer.max_epochs); then .hydra/ takes the new config.
Keys that say where rather than what (paths, data.root, force ...: hydra.job.config.
override_dirname.exclude_keys, the keys left out of run folder names) never count.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from omegaconf import OmegaConf

from csxa_lightning.runs.folder import CONFIG_FILE, HYDRA_DIR
from csxa_lightning.utils.errors import UserError

INCOMING_DIR = ".hydra-incoming"
RESUME_KEY = "resume"  # resume.allow_changes: never part of what a run is


class RunConfigChangedError(UserError):
    """A run folder started again with a config other than the one its run was made with."""


def flat(config: dict, prefix: str = "") -> dict[str, object]:
    """{dotted key: value} of a nested config (lists are values)."""
    found: dict[str, object] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            found.update(flat(value, f"{name}."))
        else:
            found[name] = value
    return found


# Modules whose classes a saved config names by `_target_` and that moved when the package took
# its layered layout: a run folder saved before names the same class by its old path, which is
# no change of what the run is.
MOVED_MODULES = {
    "csxa_lightning.model": "csxa_lightning.models.classifier",
    "csxa_lightning.checkpoint_io": "csxa_lightning.training.checkpoint_io",
    "csxa_lightning.run_checkpoint": "csxa_lightning.training.model_checkpoint",
    "csxa_lightning.divergence": "csxa_lightning.training.divergence",
    "csxa_lightning.curves": "csxa_lightning.training.csv_logger",
}


def current_target(value: object) -> object:
    """A `_target_` as this version spells it (MOVED_MODULES); any other value as it is."""
    if isinstance(value, str) and "." in value:
        module, name = value.rsplit(".", 1)
        if module in MOVED_MODULES:
            return f"{MOVED_MODULES[module]}.{name}"
    return value


def with_current_targets(tree: object) -> object:
    """tree with every `_target_` in it, in dicts and lists at any depth, as current_target
    spells it."""
    if isinstance(tree, dict):
        return {
            k: current_target(v) if k == "_target_" else with_current_targets(v)
            for k, v in tree.items()
        }
    if isinstance(tree, list):
        return [with_current_targets(v) for v in tree]
    return tree


# Config nodes a later version added for what earlier versions did without a key (the
# per-epoch seeding and the logging interval were built in code): absent from an older run
# folder's config, they are no change.
ADDED_SINCE = ("callbacks.seed_each_epoch", "callbacks.log_interval")


def differing_keys(old: dict, new: dict, ignored: list[str]) -> dict[str, tuple]:
    """{key: (old value, new value)} of every key whose value differs, keys under `ignored`
    (and resume.*) left out; a key present on one side only shows "absent" on the other. A
    class named by its path before the package's modules moved is the same class."""
    skip = [*ignored, RESUME_KEY]
    before, after = flat(with_current_targets(old)), flat(new)
    found = {}
    for key in dict.fromkeys([*before, *after]):
        if any(key == s or key.startswith(f"{s}.") for s in skip):
            continue
        a, b = before.get(key, "absent"), after.get(key, "absent")
        added = a == "absent" and any(key.startswith(f"{k}.") for k in ADDED_SINCE)
        if a != b and not added:
            found[key] = (a, b)
    return found


def described(changes: dict[str, tuple], limit: int = 8) -> str:
    shown = [f"{k} {a!r} -> {b!r}" for k, (a, b) in list(changes.items())[:limit]]
    more = len(changes) - limit
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def load_config(folder: Path) -> dict:
    loaded = OmegaConf.to_container(OmegaConf.load(folder / CONFIG_FILE), resolve=False)
    return loaded if isinstance(loaded, dict) else {}


def adopt_incoming(
    folder: Path,
    finished: bool,
    force: bool,
    allow_changes: list[str],
    ignored: list[str],
) -> bool:
    """Decide what the config Hydra just saved in folder/INCOMING_DIR becomes (module
    docstring); a no-op when there is none (train() called without Hydra's command line).
    True: the incoming config waits in INCOMING_DIR until the forced retraining finishes."""
    incoming, saved = folder / INCOMING_DIR, folder / HYDRA_DIR
    if not (incoming / CONFIG_FILE).is_file():
        return False
    if not (saved / CONFIG_FILE).is_file():
        replace_config(incoming, saved)
        return False
    changes = differing_keys(load_config(saved), load_config(incoming), ignored)
    if not changes:
        discard_incoming(folder)
        return False
    if finished and force:
        return True
    if finished:
        discard_incoming(folder)
        raise RunConfigChangedError(
            f"{folder}: holds a finished run made with another config ({described(changes)}); "
            "nothing was changed. Train the new config in a new folder (leave out "
            "hydra.run.dir), or retrain this one with force=true"
        )
    if not finished:
        refused = {k: v for k, v in changes.items() if k not in allow_changes}
        if refused:
            discard_incoming(folder)
            raise RunConfigChangedError(
                f"{folder}: the interrupted run was started with another config "
                f"({described(refused)}); its checkpoint would continue with the old values. "
                "Resume with the original settings, list a change in "
                "resume.allow_changes=[...] (default [trainer.max_epochs]), or start over "
                "with force=true"
            )
    replace_config(incoming, saved)
    return False


def replace_config(incoming: Path, saved: Path) -> None:
    """saved/ takes incoming/'s files, one atomic replace each; incoming/ goes."""
    saved.mkdir(exist_ok=True)
    for path in incoming.iterdir():
        os.replace(path, saved / path.name)
    incoming.rmdir()


def discard_incoming(folder: Path) -> None:
    shutil.rmtree(folder / INCOMING_DIR, ignore_errors=True)


def settle_incoming(folder: Path) -> None:
    """After a start, whatever it did: a config not adopted goes, unless the folder has no
    saved config at all (a new run that stopped before adopting it keeps the config it was
    started with, beside its log)."""
    incoming, saved = folder / INCOMING_DIR, folder / HYDRA_DIR
    if not (incoming / CONFIG_FILE).is_file():
        return
    if (saved / CONFIG_FILE).is_file():
        discard_incoming(folder)
    else:
        replace_config(incoming, saved)
