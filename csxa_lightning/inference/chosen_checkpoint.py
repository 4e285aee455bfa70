"""The checkpoint a command that uses a trained model reads (predict, evaluate, export):
ckpt=FILE, or run=DIR, a finished training run folder, whose tested checkpoint its metrics.json
names. run= saves copying the checkpoint's path out of a folder name full of `=` and `,`, and
finds the checkpoint in the folder's own checkpoints/ even after the folder was moved or
copied (runs.folder.checkpoint_candidates)."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

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


def chosen_checkpoint(cfg: DictConfig) -> Path:
    """The checkpoint file cfg's ckpt= or run= names (exactly one of them is given)."""
    ckpt, run = (given(cfg, key) for key in ("ckpt", "run"))
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


def given(cfg: DictConfig, key: str) -> str | None:
    """cfg's value of key as text; None when unset (null, empty, ??? or not declared)."""
    value = OmegaConf.select(cfg, key, default=None, throw_on_missing=False)
    return None if value in (None, "") else str(value)
