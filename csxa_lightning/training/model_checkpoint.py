"""Lightning's ModelCheckpoint, confined to the run's own checkpoints folder.

A resumed run restores the callback's state from last.ckpt: the paths of its best, k-th best
and last checkpoints. Lightning takes best_model_path as written, whatever folder it names,
and later tests that file, writes the decision rule into it (training/decision.py) and, when a
better epoch comes, deletes the k-th best. A last.ckpt copied from another run folder, or edited,
would so make a run read, rewrite or delete a file outside its folder. Here every restored path is
put back into this run's checkpoints folder by its file name (a run folder moved as a whole
resumes as before), and a name that is not a plain checkpoint file name is refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lightning.pytorch.callbacks import ModelCheckpoint

from csxa_lightning.utils.errors import UserError

# The state keys that hold one checkpoint path each ("" or None: none yet).
PATH_KEYS = ("best_model_path", "kth_best_model_path", "last_model_path")


class CheckpointStateError(UserError):
    """A resumed checkpoint whose callback state names files that cannot be this run's."""


class RunModelCheckpoint(ModelCheckpoint):
    """ModelCheckpoint whose restored paths all lie in its own dirpath."""

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
