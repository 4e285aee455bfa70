"""crop_boxes.csv (the format's one owner): a run whose keypoint crops read a landmark model's
landmarks (landmarks=predicted) keeps, for each test film, its crop window from the predicted
landmarks beside the window the annotated landmarks give, and their overlap (IoU). The sweep
report reads it to show what the automatic crop costs against the hand-placed one.

Columns: case_id, stem, x0_predicted, y0_predicted, x1_predicted, y1_predicted, x0_annotated,
y0_annotated, x1_annotated, y1_annotated (film pixels, end-exclusive; empty where the film has
no annotation), iou.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from csxa_lightning.data.annotations import read_annotation
from csxa_lightning.metrics.boxes import box_iou
from csxa_lightning.utils.whole_files import write_text_whole

CROP_BOXES_FILE = "crop_boxes.csv"
CORNERS = ("x0", "y0", "x1", "y1")


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


def write_crop_boxes(folder: Path, table: pd.DataFrame) -> Path:
    path = folder / CROP_BOXES_FILE
    write_text_whole(path, table.to_csv(index=False))
    return path


def read_crop_boxes(folder: Path) -> pd.DataFrame | None:
    """A run's crop_boxes.csv; None for a run whose crops read annotated landmarks."""
    path = folder / CROP_BOXES_FILE
    return pd.read_csv(path, dtype={"stem": str}) if path.is_file() else None
