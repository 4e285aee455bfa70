"""A landmark run's results as files (task=landmarks; the one owner of landmarks.csv): the test
films' predicted and annotated landmarks with their errors, beside those of the mean-shape
baseline, and the scores metrics.json holds (metrics/landmarks.py's measures, with intervals
from a bootstrap over films).

landmarks.csv: one row per test film and landmark: case_id, stem, landmark, vertebra,
x_predicted, y_predicted, x_annotated, y_annotated (film pixels; empty where not annotated),
error_px, error_mm (empty without a pixel size), baseline_error_px, baseline_error_mm.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from csxa_lightning.metrics.landmarks import (
    bootstrap_landmark_intervals,
    errors_in_mm,
    landmark_summary,
    per_landmark_errors,
    per_vertebra_errors,
    radial_errors,
    vertebra_of,
)
from csxa_lightning.utils.whole_files import write_text_whole

LANDMARKS_FILE = "landmarks.csv"
# The films' bootstrap: enough resamples for stable 95 % percentile intervals of a mean.
LANDMARK_RESAMPLES = 2000


def landmark_errors(
    predicted: np.ndarray, annotated: np.ndarray, pixel_mm: np.ndarray
) -> tuple[np.ndarray, np.ndarray | None]:
    """(errors in film pixels (N, K), in millimetres or None when no film has a pixel size)."""
    px = radial_errors(predicted, annotated)
    spacing = np.asarray(pixel_mm, dtype=float)
    return px, (None if np.all(np.isnan(spacing)) else errors_in_mm(px, spacing))


def scored(
    predicted: np.ndarray,
    annotated: np.ndarray,
    pixel_mm: np.ndarray,
    names: Sequence[str],
    seed: int,
) -> dict:
    """landmark_summary with its film-bootstrap intervals, and the errors per landmark and per
    vertebra (lists of rows), for one set of predicted points."""
    px, mm = landmark_errors(predicted, annotated, pixel_mm)
    summary = landmark_summary(px, mm, names, predicted=predicted, annotated=annotated)
    summary.update(bootstrap_landmark_intervals(px, mm, LANDMARK_RESAMPLES, seed))
    summary["per_landmark"] = json_rows(per_landmark_errors(px, mm, names))
    summary["per_vertebra"] = json_rows(per_vertebra_errors(px, mm, names))
    return summary


def json_rows(table: pd.DataFrame) -> list[dict]:
    """A table's rows as JSON-ready dicts: NaN becomes None."""
    return [
        {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
        for row in table.to_dict("records")
    ]


def landmark_table(
    films: pd.DataFrame,
    names: Sequence[str],
    predicted: np.ndarray,
    annotated: np.ndarray,
    baseline: np.ndarray,
) -> pd.DataFrame:
    """landmarks.csv's rows (see the module's docstring); films: the test frame, in the order
    of the point arrays, with case_id, stem and pixel_mm."""
    px, mm = landmark_errors(predicted, annotated, films["pixel_mm"].to_numpy())
    base_px, base_mm = landmark_errors(baseline, annotated, films["pixel_mm"].to_numpy())
    n, k = px.shape
    nan = np.full((n, k), np.nan)
    return pd.DataFrame(
        {
            "case_id": np.repeat(films["case_id"].to_numpy(), k),
            "stem": np.repeat(films["stem"].to_numpy(), k),
            "landmark": np.tile(np.asarray(names, dtype=object), n),
            "vertebra": np.tile(np.asarray([vertebra_of(x) for x in names], dtype=object), n),
            "x_predicted": predicted[..., 0].ravel(),
            "y_predicted": predicted[..., 1].ravel(),
            "x_annotated": annotated[..., 0].ravel(),
            "y_annotated": annotated[..., 1].ravel(),
            "error_px": px.ravel(),
            "error_mm": (nan if mm is None else mm).ravel(),
            "baseline_error_px": base_px.ravel(),
            "baseline_error_mm": (nan if base_mm is None else base_mm).ravel(),
        }
    )


def write_landmark_table(folder: Path, table: pd.DataFrame) -> Path:
    path = folder / LANDMARKS_FILE
    write_text_whole(path, table.to_csv(index=False))
    return path


def read_landmark_table(folder: Path) -> pd.DataFrame:
    """A landmark run's landmarks.csv, stems as text (they keep their leading zeros)."""
    return pd.read_csv(folder / LANDMARKS_FILE, dtype={"stem": str})
