"""A training run's checkpoints: the callbacks that write them, the one a run resumes from, and
the tidy-up when it has finished. (Reading a checkpoint as a model to use is
inference/loading.py's.)

- readable_checkpoint: the last.ckpt an interrupted training resumes from, if torch can read it.
- build_callbacks: cfg.callbacks instantiated, the checkpoint callback first, with the overrides
  a run without validation needs.
- finish_run_checkpoints: the finished run's checkpoint folder tidied up
  (training/model_checkpoint.py).
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from hydra.utils import instantiate
from lightning.fabric.utilities.rank_zero import rank_zero_only
from omegaconf import DictConfig

from csxa_lightning.runs.folder import LAST_CHECKPOINT
from csxa_lightning.utils.quiet import CONSOLE

log = logging.getLogger(__name__)


def is_global_zero() -> bool:
    """Process 0 of a DDP run (or the only process). Lightning reads the rank from the
    environment its launcher, torchrun or SLURM sets, before any trainer exists."""
    return rank_zero_only.rank == 0


def readable_checkpoint(path: Path) -> str | None:
    """path if it holds a checkpoint torch can read, else None. Local checkpoints are written
    whole (training/checkpoint_io.py), but a file can still be cut short: copied by hand, written by
    Lightning's own writer (remote paths, an older version of this package, where a move
    across file systems is a copy a kill interrupts), or damaged on disk. The run then starts
    over, with a warning, instead of failing inside Lightning. The damaged file is kept for
    inspection."""
    if not path.exists():
        return None
    try:
        # mmap: the archive's index is checked without reading the tensors into memory.
        # weights_only: a checkpoint is data; reading it runs no pickled code.
        torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as err:  # noqa: BLE001  (any unreadable file means: start over)
        damaged = path.with_name(path.name + ".damaged")
        if not is_global_zero():
            return None  # rank 0 sees the same file, keeps it and says so
        path.replace(damaged)
        log.warning(
            "%s cannot be read (%s: %s); it was cut off while being written. Starting the run "
            "over; the file is kept as %s",
            path,
            type(err).__name__,
            err,
            damaged,
        )
        return None
    return str(path)


def resume_checkpoint(checkpoint_callback, force: bool) -> str | None:
    """The last.ckpt an interrupted run (last.ckpt, no metrics.json) continues from, or None:
    none written yet, unreadable (kept aside, see readable_checkpoint), or force=true, which
    starts over. Order and augmentation are functions of (seed, epoch), so the resumed run ends
    as an uninterrupted one would."""
    if force or not checkpoint_callback.dirpath:
        return None
    folder = Path(checkpoint_callback.dirpath)
    resume_from = readable_checkpoint(folder / LAST_CHECKPOINT)
    if resume_from:
        log.info(
            "resuming the interrupted run in %s from %s", folder.parent, resume_from, extra=CONSOLE
        )
    return resume_from


def checkpoint_overrides(cfg: DictConfig, has_validation: bool) -> dict:
    """Without a validation split the last epoch is kept, and every epoch's checkpoint is the
    newest: last.ckpt becomes a link to it instead of a second copy (one write per epoch, not
    two). With validation the kept checkpoint is the best epoch's, and last.ckpt must be a
    copy of the newest."""
    if has_validation:
        return {}
    link = cfg.callbacks.model_checkpoint.get("save_last") is True
    return {"monitor": None, **({"save_last": "link"} if link else {})}


def build_callbacks(cfg: DictConfig, has_validation: bool) -> list:
    """cfg.callbacks instantiated: the ModelCheckpoint (callbacks.model_checkpoint, with
    checkpoint_overrides applied) first, then the others in config order (SeedEachEpoch and
    LogIntervalWithinEpoch among them: conf/callbacks/default.yaml)."""
    checkpoint = instantiate(
        cfg.callbacks.model_checkpoint, **checkpoint_overrides(cfg, has_validation)
    )
    others = [instantiate(c) for k, c in cfg.callbacks.items() if k != "model_checkpoint"]
    return [checkpoint, *others]


def finish_run_checkpoints(cfg: DictConfig, tested: str | None) -> None:
    """The end-of-run tidy-up of the run's checkpoint folder (RunModelCheckpoint.finish) for a
    finished run a restarted sweep skips: a job killed after writing metrics.json may have
    left it undone. The callback is built from the run's config (it writes nothing when built)."""
    instantiate(cfg.callbacks.model_checkpoint).finish(tested)
