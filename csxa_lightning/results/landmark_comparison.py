"""What the automatic crop costs: each run whose keypoint crops read a landmark model's
landmarks (landmarks=predicted) against the same variant, seed and fold trained on the
annotated landmarks, on the same test films -- exact McNemar, the difference in balanced
accuracy with its paired bootstrap interval, the smallest difference the test set detects, and
how far the crop boxes moved (IoU of each test film's two crop windows, crop_boxes.csv)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from csxa_lightning.metrics.classification import bootstrap_seed
from csxa_lightning.metrics.stats import mcnemar_exact, paired_bootstrap
from csxa_lightning.results.baseline import detectable_differences
from csxa_lightning.runs.crop_boxes import read_crop_boxes
from csxa_lightning.runs.folder import Run, run_repeat

# A predicted crop box "the same" as the annotated one (the landmark issue's target).
IOU_TARGET = 0.9


def annotated_twin(run: Run, runs: Sequence[Run]) -> Run | None:
    """The run of the same model, crop, color, seed and fold on annotated landmarks."""
    twins = [
        r
        for r in runs
        if r.landmarks == "annotated" and r.key == run.key and r.repeat == run.repeat
    ]
    return twins[0] if twins else None


def iou_summary(run: Run) -> dict:
    """The distribution of the test films' crop-box IoU (predicted against annotated)."""
    boxes = read_crop_boxes(run.path)
    iou = np.array([]) if boxes is None else boxes["iou"].dropna().to_numpy(dtype=float)
    if not len(iou):
        return {
            "iou_films": 0,
            **dict.fromkeys(("iou_median", "iou_p05", "iou_share_ge_target"), np.nan),
        }
    return {
        "iou_films": len(iou),
        "iou_median": float(np.median(iou)),
        "iou_p05": float(np.percentile(iou, 5)),
        "iou_share_ge_target": float(np.mean(iou >= IOU_TARGET)),
    }


def comparison_row(run: Run, twin: Run) -> dict:
    labels = run.predictions["label"].to_numpy()
    boot = paired_bootstrap(
        labels,
        run.predictions["prob_diseased"].to_numpy(),
        twin.predictions["prob_diseased"].to_numpy(),
        metric="balanced_accuracy",
        seed=bootstrap_seed(run.seed),
    )
    return {
        "variant": run.title,
        "repeat": run_repeat(run),
        "annotated_balanced_accuracy": twin.metrics["balanced_accuracy"],
        "predicted_balanced_accuracy": run.metrics["balanced_accuracy"],
        "d_balanced_accuracy": boot["diff"],
        "d_balanced_accuracy_ci_low": boot["diff_ci"][0],
        "d_balanced_accuracy_ci_high": boot["diff_ci"][1],
        "p_mcnemar": mcnemar_exact(run.correct, twin.correct)["p"],
        "detectable_d_balanced_accuracy": detectable_differences(run, twin)["detectable_d_bal_acc"],
        **iou_summary(run),
        "why_not": "",
    }


def landmark_comparisons(runs: Sequence[Run]) -> pd.DataFrame | None:
    """One row per predicted-landmark run; None when the sweep has none."""
    rows = []
    for run in runs:
        if run.landmarks != "predicted":
            continue
        twin = annotated_twin(run, runs)
        same = twin is not None and np.array_equal(run.test_ids, twin.test_ids)
        if same:
            rows.append(comparison_row(run, twin))
        else:
            why = "no run of it on annotated landmarks" if twin is None else "other test films"
            identity = {"variant": run.title, "repeat": run_repeat(run)}
            rows.append({**identity, **iou_summary(run), "why_not": why})
    return pd.DataFrame(rows) if rows else None
