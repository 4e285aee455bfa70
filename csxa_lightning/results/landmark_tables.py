"""The sweep report's section on predicted landmarks, written from landmark_comparison.py's
numbers: each variant cropped to a landmark model's landmarks against the same variant on the
annotated ones. Nothing here computes a statistic."""

from __future__ import annotations

import pandas as pd

from csxa_lightning.results.formatting import (
    Column,
    field_of,
    markdown_table,
    pct,
    pct_ci,
    pval,
    ratio,
    with_interval,
)
from csxa_lightning.results.landmark_comparison import IOU_TARGET

LANDMARK_NOTE = (
    "Each variant whose keypoint crops read a landmark model's landmarks "
    "(landmarks=predicted) against the same variant, seed and fold on the annotated landmarks, "
    "on the same test films: Δ = predicted − annotated balanced accuracy with its paired "
    "bootstrap interval, exact McNemar p, and the smallest difference in balanced accuracy "
    "this test set detects (80 % power, α = 0.05): a Δ smaller than that is not evidence "
    "that the automatic crop costs nothing. IoU: overlap of each test film's crop window from "
    f"the predicted landmarks with the window from the annotated ones (median, 5th "
    f"percentile, share of films at IoU ≥ {IOU_TARGET})."
)

LANDMARK_TABLE = (
    Column("variant", field_of("label")),
    Column("annotated", field_of("annotated_balanced_accuracy"), pct),
    Column("predicted", field_of("predicted_balanced_accuracy"), pct),
    Column(
        "Δ balanced accuracy [95 % CI]",
        with_interval(
            "d_balanced_accuracy", "d_balanced_accuracy_ci_low", "d_balanced_accuracy_ci_high"
        ),
        pct_ci,
    ),
    Column("McNemar p", field_of("p_mcnemar"), pval),
    Column("detectable Δ", field_of("detectable_d_balanced_accuracy"), pct),
    Column("crop IoU median", field_of("iou_median"), ratio),
    Column("IoU 5th pct", field_of("iou_p05"), ratio),
    Column(f"share IoU ≥ {IOU_TARGET}", field_of("iou_share_ge_target"), pct),
    Column("films", field_of("iou_films")),
)


def landmark_markdown(table: pd.DataFrame) -> list[str]:
    """The section's parts: heading, note, the table, and the runs without a counterpart."""
    rows = [{**r, "label": f"{r['variant']} ({r['repeat']})"} for r in table.to_dict("records")]
    parts = ["## Predicted against annotated landmarks", LANDMARK_NOTE]
    compared = [r for r in rows if not r["why_not"]]
    if compared:
        parts.append(markdown_table(LANDMARK_TABLE, compared))
    parts += [f"- Not compared: {r['label']}: {r['why_not']}." for r in rows if r["why_not"]]
    return parts
