"""A trained run's checkpoint as a model ready to use: load_trained_model.

The classifier (with the training set's normalization in its buffers) and the preprocessing it
was trained on. Prediction, evaluation, export, the decision rule's fitting and the report's
Grad-CAM pictures read checkpoints through this one function. A checkpoint is data: it is read
with weights_only=True, and its preprocessing and model settings are checked against the lists
of what they may hold before anything is built from them.
"""

from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import torch

from csxa_lightning.data.images import MAX_PIXELS
from csxa_lightning.data.landmark_source import ANNOTATED, SOURCES
from csxa_lightning.data.preprocess import Preprocessor
from csxa_lightning.models.classifier import CSXAClassifier, DecisionError
from csxa_lightning.utils.errors import UserError

log = logging.getLogger(__name__)

# Where Lightning keeps CSXADataModule.state_dict() in a checkpoint: under the class's name
# (its __qualname__; a test holds the two equal). Spelled here, so that using a model does not
# import the training data pipeline.
DATAMODULE_KEY = "CSXADataModule"
# The decision rule of every run: predictions.csv and metrics.json call a film diseased when
# its probability is >= 0.5 (runs.folder.predictions_frame and metrics use this default).
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
    # Where its keypoint crops' landmarks came from in training (data/landmark_source.py):
    # {"source": "annotated"}, or a landmark model's {"source", "identity", "ckpt"}.
    landmarks: dict = field(default_factory=lambda: dict(ANNOTATED))

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
    checkpoint = read_checkpoint(path)
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
    classifier = trained_classifier(checkpoint, path).eval().to(device)
    arch = str(classifier.hparams["arch"])
    return TrainedModel(
        classifier,
        preprocessor,
        path,
        arch,
        opencv,
        **film_limits(stored, path),
        landmarks=checked_landmarks(stored.get("landmarks", ANNOTATED), path),
    )


def read_checkpoint(path: Path) -> dict:
    """The checkpoint file's contents (weights_only), with the parts a trained model needs;
    CheckpointError, one line, for a missing file, another kind of file, or one without them."""
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
    return checkpoint


def trained_classifier(checkpoint: dict, path: Path) -> CSXAClassifier:
    """The classifier with the checkpoint's weights and decision rule, built from its checked
    settings (checked_hyperparameters)."""
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
    return classifier


def checked_landmarks(stored, path: Path) -> dict:
    """The landmark source a checkpoint records, as plain text values of known keys."""
    keys = {"source", "identity", "ckpt"}
    plain = isinstance(stored, dict) and all(isinstance(v, str) for v in stored.values())
    if not plain or not set(stored) <= keys or stored.get("source") not in SOURCES:
        raise CheckpointError(
            f"{path}: its landmarks record {stored!r} is not one this package writes; edited?"
        )
    return dict(stored)


def film_limits(stored: dict, path: Path) -> dict[str, int]:
    """The film sizes training accepted (data.min_size, data.max_pixels), as the datamodule
    stored them; checkpoints written before they were stored get the permissive defaults."""
    limits = {
        "min_size": stored.get("min_size", 1),
        "max_pixels": stored.get("max_pixels", MAX_PIXELS),
    }
    for key, value in limits.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise CheckpointError(f"{path}: {key}={value!r} is not a size in pixels; edited?")
    return limits


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
