"""A classifier run whose keypoint crops read a landmark model's landmarks (landmarks=predicted
landmarks.ckpt=FILE): the source handed to the datamodule before its setup, and, after the
test, each test film's crop window from the predicted landmarks beside the annotated one
(crop_boxes.csv, runs/crop_boxes.py)."""

from __future__ import annotations

from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from csxa_lightning.inference.landmark_model import PredictedLandmarks, predicted_landmarks
from csxa_lightning.runs.crop_boxes import crop_box_table, write_crop_boxes


def landmark_source(cfg: DictConfig, cache_dir: str | Path) -> PredictedLandmarks | None:
    """landmarks=predicted: the landmark model of landmarks.ckpt (on the GPU when there is
    one); None for the annotated landmarks."""
    if OmegaConf.select(cfg, "landmarks.source", default="annotated") != "predicted":
        return None
    device = "cuda" if torch.cuda.is_available() else "cpu"
    return predicted_landmarks(str(cfg.landmarks.ckpt), cache_dir, device)


def write_test_crop_boxes(out: Path, datamodule) -> Path | None:
    """crop_boxes.csv of the test films, for a run whose crops read predicted landmarks."""
    test = datamodule.frames.get("test")
    if test is None or "annotated_json_path" not in test.columns:
        return None
    return write_crop_boxes(out, crop_box_table(datamodule.preprocess.crop, test))
