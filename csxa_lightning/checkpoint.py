"""Every reading of a run's checkpoints, and the checkpoint callbacks that write them.

- load_trained_model: a .ckpt as a model ready to use: the classifier (with the training set's
  normalization in its buffers) and the preprocessing it was trained on. Prediction, export and
  the report's Grad-CAM pictures read checkpoints through this one function.
- readable_checkpoint: the last.ckpt an interrupted training resumes from, if torch can read it.
- build_callbacks: cfg.callbacks instantiated, the checkpoint callback first, with the overrides
  a run without validation needs, then LogIntervalWithinEpoch (log_interval.py) and
  SeedEachEpoch (epoch_seed.py).
"""

from __future__ import annotations

import inspect
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import cv2
import torch
from hydra.utils import instantiate
from lightning.fabric.utilities.rank_zero import rank_zero_only
from omegaconf import DictConfig, OmegaConf

from csxa_lightning.data.datamodule import CSXADataModule
from csxa_lightning.data.images import MAX_PIXELS
from csxa_lightning.data.preprocess import Preprocessor
from csxa_lightning.epoch_seed import SeedEachEpoch
from csxa_lightning.errors import UserError
from csxa_lightning.log_interval import LogIntervalWithinEpoch
from csxa_lightning.model import CSXAClassifier, DecisionError
from csxa_lightning.results.runs import LAST_CHECKPOINT
from csxa_lightning.whole_files import written_whole

log = logging.getLogger(__name__)

# Where Lightning keeps CSXADataModule.state_dict() in a checkpoint: under the class's name.
DATAMODULE_KEY = CSXADataModule.__qualname__
# The decision rule of every run: predictions.csv and metrics.json call a film diseased when
# its probability is >= 0.5 (results.runs.predictions_frame and metrics use this default).
TRAINING_THRESHOLD = 0.5


class CheckpointError(UserError):
    """The file is not a usable checkpoint of this package; the message says what to do."""


@dataclass
class TrainedModel:
    classifier: CSXAClassifier  # in eval mode, on `device`
    preprocessor: Preprocessor
    path: Path
    arch: str
    opencv: str  # OpenCV version that made the training inputs
    min_size: int = 1  # the smallest film side training accepted (data.min_size); 1: unknown
    max_pixels: int = MAX_PIXELS  # the largest film training accepted (data.max_pixels)

    @property
    def device(self) -> torch.device:
        return self.classifier.input_mean.device

    def normalization(self) -> tuple[list[float], list[float]]:
        """Per-channel mean and std (3 values; gray runs repeat theirs) on the pixel/255 scale."""
        mean = self.classifier.input_mean.flatten().tolist()
        std = self.classifier.input_std.flatten().tolist()
        return mean, std


def load_trained_model(path: str | Path, device: str | torch.device = "cpu") -> TrainedModel:
    """The model of a checkpoint written by `python -m csxa_lightning.train`.

    Read with weights_only=True: a checkpoint is data and loading one runs no code from it. The
    backbone is built without pretrained weights (the checkpoint holds all of them), so no
    ImageNet file is needed on the machine that predicts.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise CheckpointError(
            f"{path}: no such checkpoint; pass ckpt= the .ckpt of a run (its checkpoints/ "
            "folder: the selected epochNNN.ckpt or last.ckpt; metrics.json names the one tested)"
        )
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for a file that is not a checkpoint
        raise CheckpointError(
            f"{path}: not a PyTorch checkpoint ({type(err).__name__}: {str(err)[:200]}); pass "
            "the .ckpt of a run"
        ) from err
    missing = [
        k
        for k in ("hyper_parameters", "state_dict", DATAMODULE_KEY)
        if not isinstance(checkpoint, dict) or k not in checkpoint
    ]
    if missing:
        why = (
            "it was written before checkpoints held the preprocessing; retrain the run "
            "(force=true) to get one that does"
            if missing == [DATAMODULE_KEY]
            else "is it a checkpoint of python -m csxa_lightning.train?"
        )
        raise CheckpointError(f"{path}: checkpoint has no {missing}; {why}")

    stored = checkpoint[DATAMODULE_KEY]
    try:
        preprocessor = Preprocessor.from_spec(stored["preprocess"])
    except ValueError as err:  # a spec this version cannot build; the message says why
        raise CheckpointError(f"{path}: {err}") from err
    opencv = str(stored.get("opencv", "unknown"))
    if opencv != cv2.__version__:
        log.warning(
            "%s was trained on inputs made with OpenCV %s, this is %s: resize and equalization "
            "may differ slightly from training",
            path,
            opencv,
            cv2.__version__,
        )
    hparams = checked_hyperparameters(checkpoint["hyper_parameters"], path)
    # All weights come from the checkpoint: build the backbone empty.
    hparams.update(pretrained="none", weights_path=None)
    if "compile" in hparams:
        # Eager: compiling costs time before the first image, and export (tracing) and
        # Grad-CAM (hooks) need the plain module. The weights are the same either way.
        hparams["compile"] = False
    classifier = CSXAClassifier(**hparams)
    try:
        classifier.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as err:
        raise CheckpointError(
            f"{path}: the weights do not fit model.arch={hparams.get('arch')!r} ({err})"
        ) from err
    try:
        classifier.on_load_checkpoint(checkpoint)  # the decision rule fitted after training
    except DecisionError as err:
        raise CheckpointError(f"{path}: {err}") from err
    classifier.eval().to(device)
    sizes = {
        "min_size": stored.get("min_size", 1),
        "max_pixels": stored.get("max_pixels", MAX_PIXELS),
    }
    for key, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise CheckpointError(f"{path}: {key}={value!r} is not a size in pixels; edited?")
    return TrainedModel(classifier, preprocessor, path, str(hparams["arch"]), opencv, **sizes)


# What a checkpoint's hyper_parameters may hold: CSXAClassifier's own settings, as plain values
# (save_hyperparameters leaves the optimizer and scheduler factories out).
MODEL_SETTINGS = tuple(
    name
    for name in inspect.signature(CSXAClassifier.__init__).parameters
    if name not in ("self", "optimizer", "scheduler")
)
PLAIN_SETTING = (str, int, float, bool, type(None))


def checked_hyperparameters(stored, path: Path) -> dict:
    """The model settings of a checkpoint, refused (CheckpointError, one line) unless they are
    CSXAClassifier's own, with plain values: a checkpoint is data."""
    if not isinstance(stored, dict):
        raise CheckpointError(
            f"{path}: hyper_parameters is a {type(stored).__name__}, not the model's settings; "
            "the checkpoint was not written by python -m csxa_lightning.train, or was edited"
        )
    unknown = sorted(str(k) for k in stored if k not in MODEL_SETTINGS)
    odd = sorted(str(k) for k, v in stored.items() if not isinstance(v, PLAIN_SETTING))
    if unknown or odd:
        raise CheckpointError(
            f"{path}: hyper_parameters holds "
            + "; ".join(
                part
                for part in (
                    f"settings the model does not have ({', '.join(unknown)})" if unknown else "",
                    f"values that are not text or numbers ({', '.join(odd)})" if odd else "",
                )
                if part
            )
            + "; the checkpoint was written by another version, or was edited"
        )
    return dict(stored)


def is_global_zero() -> bool:
    """Process 0 of a DDP run (or the only process). Lightning reads the rank from the
    environment its launcher, torchrun or SLURM sets, before any trainer exists."""
    return rank_zero_only.rank == 0


def readable_checkpoint(path: Path) -> str | None:
    """path if it holds a checkpoint torch can read, else None. Local checkpoints are written
    whole (checkpoint_io.py), but a file can still be cut short: copied by hand, written by
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
    resume_from = readable_checkpoint(folder / "last.ckpt")
    if resume_from:
        log.info("resuming the interrupted run in %s from %s", folder.parent, resume_from)
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


# callbacks.model_checkpoint.keep_last: ours, not ModelCheckpoint's (see finish_checkpoints).
KEEP_LAST = "keep_last"
# What a finished run's tested checkpoint no longer needs: the state to continue training.
TRAINING_STATE = ("optimizer_states", "lr_schedulers")


def build_callbacks(cfg: DictConfig, has_validation: bool) -> list:
    """cfg.callbacks instantiated: the ModelCheckpoint (callbacks.model_checkpoint, with
    checkpoint_overrides applied) first, then the others in config order, then
    LogIntervalWithinEpoch and SeedEachEpoch (not presets: every run needs them)."""
    settings = OmegaConf.to_container(cfg.callbacks.model_checkpoint, resolve=True)
    settings.pop(KEEP_LAST, None)
    checkpoint = instantiate(settings, **checkpoint_overrides(cfg, has_validation))
    others = [instantiate(c) for k, c in cfg.callbacks.items() if k != "model_checkpoint"]
    return [checkpoint, *others, LogIntervalWithinEpoch(), SeedEachEpoch(cfg.seed)]


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


def finish_run_checkpoints(cfg: DictConfig, tested: str | None) -> None:
    """finish_checkpoints with the run's checkpoint folder and keep_last from its config."""
    keep_last = OmegaConf.select(cfg, f"callbacks.model_checkpoint.{KEEP_LAST}", default=False)
    finish_checkpoints(cfg.callbacks.model_checkpoint.dirpath, tested, bool(keep_last))
