"""Lightning's ModelCheckpoint, confined to the run's own checkpoints folder, and the tidy-up of
that folder once the run has finished (finish_checkpoints: keep the tested checkpoint, without
the training state; drop last.ckpt unless keep_last).

A resumed run restores the callback's state from last.ckpt: the paths of its best, k-th best
and last checkpoints. Lightning takes best_model_path as written, whatever folder it names,
and later tests that file, writes the decision rule into it (training/decision.py) and, when a
better epoch comes, deletes the k-th best. A last.ckpt copied from another run folder, or edited,
would so make a run read, rewrite or delete a file outside its folder. Here every restored path is
put back into this run's checkpoints folder by its file name (a run folder moved as a whole
resumes as before), and a name that is not a plain checkpoint file name is refused.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from csxa_lightning.runs.folder import LAST_CHECKPOINT
from csxa_lightning.utils.errors import UserError
from csxa_lightning.utils.whole_files import written_whole

# The state keys that hold one checkpoint path each ("" or None: none yet).
PATH_KEYS = ("best_model_path", "kth_best_model_path", "last_model_path")


class CheckpointStateError(UserError):
    """A resumed checkpoint whose callback state names files that cannot be this run's."""


class RunModelCheckpoint(ModelCheckpoint):
    """ModelCheckpoint whose restored paths all lie in its own dirpath, and which tidies its
    folder when the run has finished (finish).

    keep_last: a finished run keeps last.ckpt (only for resuming: training state included), to
    train further from it; false (default) removes it."""

    def __init__(self, *args: Any, keep_last: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.keep_last = bool(keep_last)

    def finish(self, tested: str | None) -> None:
        """The end-of-run tidy-up of this callback's folder (finish_checkpoints)."""
        if self.dirpath is not None:
            finish_checkpoints(self.dirpath, tested, self.keep_last)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if self.dirpath is None:  # no folder to confine to: Lightning's own rule
            super().load_state_dict(state_dict)
            return
        here = Path(self.dirpath)
        confined = dict(state_dict, dirpath=self.dirpath)
        for key in PATH_KEYS:
            confined[key] = confined_path(state_dict.get(key), here, key)
        best_k = state_dict.get("best_k_models") or {}
        if not isinstance(best_k, dict):
            raise CheckpointStateError(
                f"the resumed checkpoint's best_k_models is a {type(best_k).__name__}; it was "
                "edited. Start the run over with force=true"
            )
        confined["best_k_models"] = {
            confined_path(path, here, "best_k_models"): score for path, score in best_k.items()
        }
        super().load_state_dict(confined)


# What a finished run's tested checkpoint no longer needs: the state to continue training.
TRAINING_STATE = ("optimizer_states", "lr_schedulers")


def without_training_state(path: Path) -> None:
    """Rewrite a checkpoint without its optimizer and scheduler state (the weights, the
    preprocessing, the normalization and the decision rule stay: all predict, export, evaluate
    and the report read). Adam keeps two running moments per weight, so its state is twice the
    weights' size. Written whole (whole_files): a kill leaves the old file or the new one."""
    stored = torch.load(path, map_location="cpu", weights_only=True)
    if not any(key in stored for key in TRAINING_STATE):
        return
    for key in TRAINING_STATE:
        stored.pop(key, None)
    with written_whole(path) as partial:
        torch.save(stored, partial)


def finish_checkpoints(dirpath: str | Path, tested: str | None, keep_last: bool) -> None:
    """A finished run keeps its tested checkpoint, without the training state, and drops
    last.ckpt, which exists only to resume (callbacks.model_checkpoint.keep_last=true keeps
    it, whole). A run tested without a checkpoint keeps last.ckpt: it is the model.

    Doing it again does no harm, and a restarted sweep does it for every run it skips as
    finished: a job killed after writing metrics.json, before or during this, is tidied up by
    the next start. `tested` is looked up by its name in dirpath (the run folder may have moved
    since metrics.json recorded it)."""
    if tested is None:
        return
    dirpath = Path(dirpath)
    last = dirpath / LAST_CHECKPOINT
    if keep_last:
        if last.is_symlink():  # last.ckpt must stay whole: a copy replaces the link
            with written_whole(last) as partial:
                shutil.copyfile(last.resolve(), partial)
    elif last.is_symlink() or last.exists():
        last.unlink()
    kept = dirpath / Path(tested).name
    if kept.exists():
        without_training_state(kept)


def confined_path(recorded: Any, folder: Path, key: str) -> str:
    """recorded's file name inside folder ("" for none); CheckpointStateError for anything but
    a plain .ckpt file name."""
    if recorded in (None, ""):
        return ""
    name = Path(str(recorded)).name if isinstance(recorded, str | Path) else ""
    if not name.endswith(".ckpt") or name in (".ckpt",):
        raise CheckpointStateError(
            f"the resumed checkpoint's {key} is {recorded!r}, not a checkpoint file of this "
            "run; last.ckpt was edited or comes from elsewhere. Start the run over with "
            "force=true"
        )
    return str(folder / name)
