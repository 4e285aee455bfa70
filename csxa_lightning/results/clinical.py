"""The numbers of the clinical reader's sections (judgement.py writes them): each run's
calibration and decision rule, its reliability curve, and its accuracy per subgroup. All of
them come from the run folders' predictions.csv and metrics.json."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from csxa_lightning.data.csxa import stem_patients
from csxa_lightning.metrics.calibration import (
    DEFAULT_BINS,
    brier_score,
    expected_calibration_error,
    reliability_table,
)
from csxa_lightning.metrics.subgroups import DEFAULT_MIN_COUNT, subgroup_table
from csxa_lightning.results.baseline import is_baseline
from csxa_lightning.results.formatting import run_label
from csxa_lightning.runs.folder import Run, run_repeat


def calibration_rows(runs: Sequence[Run]) -> list[dict]:
    """Per run: Brier score, ECE, the fitted temperature and threshold (1 and 0.5 when none was
    fitted), and the accuracy at that threshold and at 0.5."""
    rows = []
    for run in runs:
        y = run.predictions["label"].to_numpy()
        prob = run.predictions["prob_diseased"].to_numpy()
        recorded = run.recorded
        threshold = float(recorded.get("threshold", 0.5))
        rows.append(
            {
                "label": table_label(run, runs),
                "brier": brier_score(y, prob),
                "ece": expected_calibration_error(y, prob, DEFAULT_BINS),
                "temperature": float(recorded.get("temperature", 1.0)),
                "threshold": threshold,
                "rule": str(recorded.get("threshold_rule", "0.5")),
                "accuracy": float(((prob >= threshold) == y).mean()),
                "accuracy_half": float(((prob >= 0.5) == y).mean()),
            }
        )
    return rows


def reliability_tables(runs: Sequence[Run], bins: int = DEFAULT_BINS) -> dict[str, dict]:
    """Each run's reliability table (calibration.reliability_table), by run label."""
    return {
        table_label(run, runs): reliability_table(
            run.predictions["label"], run.predictions["prob_diseased"], bins
        )
        for run in runs
    }


def subgroup_tables(
    runs: Sequence[Run], min_count: int = DEFAULT_MIN_COUNT
) -> dict[str, pd.DataFrame]:
    """Each run's metrics per subgroup (gender code, age band) at its own threshold, by run
    label; a metric is NaN where its subgroup has fewer than min_count films."""
    return {
        table_label(run, runs): subgroup_table(
            run.predictions,
            stem_patients(run.predictions["stem"]),
            float(run.recorded.get("threshold", 0.5)),
            min_count=min_count,
        )
        for run in runs
    }


def table_label(run: Run, runs: Sequence[Run]) -> str:
    """The run's name as the tables write it (formatting.run_label): the baseline marked, the
    repetition named when the runs hold several."""
    several = len({r.repeat for r in runs}) > 1
    return run_label(run.title, is_baseline(run, runs), run_repeat(run) if several else "")
