"""The landmarks a keypoint-crop checkpoint's crops read in predict and evaluate: the films'
LabelMe files (landmarks.source=annotated), or a landmark model's, written for these films into
a working folder (predicted). The default is the checkpoint's own training: a classifier
trained on predicted crops runs its landmark model (recorded path, or landmarks.ckpt=), so a
bare film needs no annotation file."""

from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from csxa_lightning.data.landmark_source import SOURCES
from csxa_lightning.inference.inputs import find_annotations
from csxa_lightning.inference.landmark_model import load_landmark_model, predicted_annotations
from csxa_lightning.inference.loading import TrainedModel
from csxa_lightning.utils.errors import ConfigValueError

log = logging.getLogger(__name__)


def landmark_choice(cfg: DictConfig, model: TrainedModel) -> tuple[str, str | None]:
    """(source, landmark checkpoint) for model's crops: landmarks.source= and landmarks.ckpt=
    when given, else what the checkpoint trained with."""
    source = OmegaConf.select(cfg, "landmarks.source", default=None) or model.landmarks["source"]
    if source not in SOURCES:
        raise ConfigValueError(
            f"landmarks.source={source}: choose annotated or predicted; e.g. "
            "landmarks.source=predicted landmarks.ckpt=LANDMARK_RUN/checkpoints/epoch029.ckpt"
        )
    ckpt = OmegaConf.select(cfg, "landmarks.ckpt", default=None) or model.landmarks.get("ckpt")
    if source == "predicted" and not ckpt:
        raise ConfigValueError(
            f"{model.path} was trained on annotated landmarks and no landmark model is given: "
            "pass landmarks.ckpt= the checkpoint of a task=landmarks run"
        )
    return str(source), (None if ckpt is None else str(ckpt))


def crop_annotations(
    cfg: DictConfig, model: TrainedModel, films: list[Path], workdir: Path
) -> list[Path | None]:
    """The LabelMe file each film's crop reads (None for every film when the crop needs no
    landmarks); predicted ones are written into workdir."""
    if not model.preprocessor.needs_keypoints:
        return [None] * len(films)
    source, ckpt = landmark_choice(cfg, model)
    if source == "annotated":
        return find_annotations(films, cfg.annotations, model.preprocessor.crop.name)
    landmarks = load_landmark_model(ckpt, model.device)
    recorded = model.landmarks.get("identity")
    if recorded is not None and recorded != landmarks.identity:
        log.warning(
            "%s: its crops were trained on the landmarks of another model (SHA-256 %s...); "
            "%s is %s...: the crops differ from training's",
            model.path,
            recorded[:12],
            landmarks.path,
            landmarks.identity[:12],
        )
    log.info("placing the landmarks of %d film(s) with %s", len(films), landmarks.path)
    return predicted_annotations(landmarks, films, workdir)
