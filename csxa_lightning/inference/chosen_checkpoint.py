"""The checkpoint a command that uses a trained model reads (predict, evaluate, export):
ckpt=FILE, or run=DIR, a finished training run folder, whose tested checkpoint its metrics.json
names. run= saves copying the checkpoint's path out of a folder name full of `=` and `,`, and
finds the checkpoint in the folder's own checkpoints/ even after the folder was moved or
copied (runs.folder.checkpoint_candidates)."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, ListConfig, OmegaConf

from csxa_lightning.runs.folder import (
    METRICS_FILE,
    existing_checkpoint,
    is_finished,
    read_metrics,
)
from csxa_lightning.utils.errors import ConfigValueError, UserError

CKPT_EXAMPLE = "outputs/train/runs/<overrides>/<time>/checkpoints/epoch009.ckpt"
RUN_EXAMPLE = "outputs/train/runs/<overrides>/<time>"


class RunFolderError(UserError):
    """run=DIR names no finished training run, or its tested checkpoint is not there."""


def chosen_checkpoints(cfg: DictConfig) -> list[Path]:
    """The checkpoint files cfg's ckpt= or run= name: one, or the members of an ensemble
    (ckpt=[a,b,c] or run=[dir1,dir2,dir3]), in the order given."""
    ckpts, runs = (given_list(cfg, key) for key in ("ckpt", "run"))
    if len(ckpts) <= 1 and len(runs) <= 1:
        return [chosen_checkpoint(cfg)]
    if ckpts and runs:
        raise ConfigValueError(
            f"ckpt= and run= both given: give one. An ensemble lists its members in one of them, "
            f"e.g. run=[{RUN_EXAMPLE}_1,{RUN_EXAMPLE}_2]"
        )
    paths = [Path(c).expanduser() for c in ckpts]
    paths += [tested_checkpoint(Path(r).expanduser()) for r in runs]
    twice = [str(p) for p in paths if paths.count(p) > 1]
    if twice:
        raise ConfigValueError(f"{twice[0]}: listed twice in the ensemble; list each member once")
    return paths


def given_list(cfg: DictConfig, key: str) -> list[str]:
    """cfg's value of key as a list of texts: [] when unset, [x] for one value."""
    value = OmegaConf.select(cfg, key, default=None, throw_on_missing=False)
    if isinstance(value, ListConfig | list):
        return [str(v) for v in value if v not in (None, "")]
    return [] if value in (None, "") else [str(value)]


def chosen_checkpoint(cfg: DictConfig) -> Path:
    """The checkpoint file cfg's ckpt= or run= names (exactly one of them is given)."""
    listed = {key: given_list(cfg, key) for key in ("ckpt", "run")}
    for key, values in listed.items():
        if len(values) > 1:
            raise ConfigValueError(
                f"{key}= lists {len(values)} members: this command uses one model; give one "
                f"{key}= (predict and evaluate take a list: an ensemble)"
            )
    ckpt, run = (values[0] if values else None for values in listed.values())
    if ckpt is not None and run is not None:
        raise ConfigValueError(
            f"ckpt={ckpt} and run={run} both given: give one. run=DIR uses the checkpoint its "
            "metrics.json names; ckpt=FILE any other checkpoint"
        )
    if run is not None:
        return tested_checkpoint(Path(run).expanduser())
    if ckpt is None:
        raise ConfigValueError(
            f"ckpt= or run= is required: a finished training run's folder, e.g. run={RUN_EXAMPLE}, "
            f"or a checkpoint, e.g. ckpt={CKPT_EXAMPLE}"
        )
    return Path(ckpt).expanduser()


def tested_checkpoint(folder: Path) -> Path:
    """The checkpoint a finished run tested (its metrics.json names it), looked up in the
    folder's own checkpoints/ first."""
    if not folder.is_dir():
        raise RunFolderError(
            f"run={folder}: no such folder. Give a training run folder, e.g. run={RUN_EXAMPLE}"
        )
    if not is_finished(folder):
        raise RunFolderError(
            f"run={folder}: no {METRICS_FILE} there, so no tested checkpoint: give a finished "
            f"training run's folder (the one holding {METRICS_FILE}), or a checkpoint with "
            f"ckpt=FILE, e.g. ckpt={folder / 'checkpoints' / 'last.ckpt'}"
        )
    found, candidates = existing_checkpoint(folder, read_metrics(folder))
    if found is not None:
        return found
    looked_for = " or ".join(str(c) for c in candidates)
    raise RunFolderError(
        f"run={folder}: its tested checkpoint is not there ({looked_for}); give another "
        "checkpoint with ckpt=FILE"
    )
