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

import pandas as pd

from csxa_lightning.utils.whole_files import write_text_whole

CROP_BOXES_FILE = "crop_boxes.csv"
CORNERS = ("x0", "y0", "x1", "y1")  # the column names' stems, in this order


def write_crop_boxes(folder: Path, table: pd.DataFrame) -> Path:
    path = folder / CROP_BOXES_FILE
    write_text_whole(path, table.to_csv(index=False))
    return path


def read_crop_boxes(folder: Path) -> pd.DataFrame | None:
    """A run's crop_boxes.csv; None for a run whose crops read annotated landmarks."""
    path = folder / CROP_BOXES_FILE
    return pd.read_csv(path, dtype={"stem": str}) if path.is_file() else None
