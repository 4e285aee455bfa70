"""A classifier run whose keypoint crops read a landmark model's landmarks (landmarks=predicted
landmarks.ckpt=FILE): the source handed to the datamodule before its setup, and, after the
test, each test film's crop window from the predicted landmarks beside the annotated one
(crop_boxes.csv, runs/crop_boxes.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from omegaconf import DictConfig, OmegaConf

from csxa_lightning.data.annotations import read_annotation
from csxa_lightning.inference.landmark_model import PredictedLandmarks, predicted_landmarks
from csxa_lightning.metrics.boxes import box_iou
from csxa_lightning.runs.crop_boxes import CORNERS, write_crop_boxes


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


def film_window(crop, json_path) -> tuple[float, ...]:
    """The crop's window on the film a LabelMe file describes (its stated size)."""
    annotation = read_annotation(json_path)
    width, height = annotation.size
    return tuple(float(v) for v in crop.window(int(height), int(width), annotation.keypoints))


def crop_box_table(crop, films: pd.DataFrame) -> pd.DataFrame:
    """crop_boxes.csv's rows for films (case_id, stem, json_path: the predicted LabelMe file,
    annotated_json_path: the dataset's, or empty)."""
    predicted = np.array([film_window(crop, p) for p in films["json_path"]], dtype=float)
    annotated = np.array(
        [
            film_window(crop, p) if isinstance(p, str) and Path(p).is_file() else (np.nan,) * 4
            for p in films["annotated_json_path"]
        ],
        dtype=float,
    ).reshape(-1, 4)
    table = films[["case_id", "stem"]].reset_index(drop=True).copy()
    for i, corner in enumerate(CORNERS):
        table[f"{corner}_predicted"] = predicted[:, i]
    for i, corner in enumerate(CORNERS):
        table[f"{corner}_annotated"] = annotated[:, i]
    table["iou"] = box_iou(predicted, annotated)
    return table
