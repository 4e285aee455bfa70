"""The sweep report's numbers, computed once: compare_runs turns the run folders into
Comparisons, every statistic, interval, power figure and flag the report shows. The renderers
(tables.py, paper_tables.py, judgement.py, software.py, figures.py, put in order by
sweep_markdown.py) only write what it holds, so a number is computed in one place and reads the
same in report.md, report.csv and the figures."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from csxa_lightning.metrics.classification import compute_metrics
from csxa_lightning.results.clinical import calibration_rows, reliability_tables, subgroup_tables
from csxa_lightning.results.ensembles import Ensembles, sweep_ensembles
from csxa_lightning.results.landmark_comparison import landmark_comparisons
from csxa_lightning.results.published import DecodedPaper, decoded_paper
from csxa_lightning.results.repeats import repeat_summary
from csxa_lightning.results.run_table import run_table
from csxa_lightning.runs.environment import differences, recorded_environment
from csxa_lightning.runs.folder import Run, run_repeat

# What the header names as the baseline when no run of the sweep is one.
NO_BASELINE = "none in this sweep"


def compare_runs(runs: Sequence[Run]) -> Comparisons:
    """Everything the sweep report shows, from its finished runs (runs.folder.find_runs)."""
    table = run_table(runs)
    environments = run_environments(runs)
    return Comparisons(
        runs=tuple(runs),
        table=table,
        baseline_title=baseline_title(table),
        majority=majority_row(table),
        repeats=repeat_summary(table),
        ensembles=sweep_ensembles(runs),
        landmarks=landmark_comparisons(runs),
        roc_curves=roc_curves(runs),
        calibration=tuple(calibration_rows(runs)),
        reliability=reliability_tables(runs),
        subgroups=subgroup_tables(runs),
        environments=environments,
        environment_differences=differences(environments),
        paper=decoded_paper(),
    )


@dataclass(frozen=True)
class Majority:
    """Always answering the test split's larger class: the row every model must beat."""

    title: str
    metrics: dict


@dataclass(frozen=True, eq=False)  # DataFrames have no plain equality: compare by identity
class Comparisons:
    """The sweep report's numbers. table is report.csv: one row per run, in the order of runs,
    with its metrics, its tests against the baseline of its repetition and their Holm
    adjustment, the differences its test set could detect, and why a run was not compared.
    The other fields hold what the sections beside the tables show."""

    runs: tuple[Run, ...]
    table: pd.DataFrame  # run_table
    baseline_title: str  # the baseline variant's title, NO_BASELINE without one
    majority: Majority
    repeats: pd.DataFrame | None  # repeats.repeat_summary; None with a single repetition
    ensembles: Ensembles | None  # ensembles.sweep_ensembles; None when no variant has seeds
    landmarks: pd.DataFrame | None  # landmark_comparison; None without predicted landmarks
    roc_curves: tuple[tuple[np.ndarray, np.ndarray], ...]  # (fpr, tpr) per run, as in table
    calibration: tuple[dict, ...]  # clinical.calibration_rows
    reliability: dict[str, dict]  # reliability table by run label
    subgroups: dict[str, pd.DataFrame]  # subgroup table by run label
    environments: dict[str, dict]  # the environment each run recorded, by run name
    environment_differences: dict[str, dict[str, list[str]]]  # environment.differences
    paper: DecodedPaper  # the paper's own Table 1, decoded


def majority_row(table: pd.DataFrame) -> Majority:
    """Title and metrics of always answering the test split's larger class."""
    first = table.iloc[0]
    n_pos, n = int(first["n_diseased"]), int(first["n"])
    labels = np.r_[np.ones(n_pos), np.zeros(n - n_pos)].astype(int)
    answer = 1 if n_pos >= n - n_pos else 0
    title = f'Majority class (always "{"diseased" if answer else "healthy"}")'
    return Majority(title, compute_metrics(labels, np.full(n, float(answer))))


def baseline_title(table: pd.DataFrame) -> str:
    baseline = table[table["baseline"]]
    return baseline["variant"].iloc[0] if len(baseline) else NO_BASELINE


def roc_curves(runs: Sequence[Run]) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Each run's ROC curve on its test predictions: (false positive rate, sensitivity)."""
    from sklearn.metrics import roc_curve  # scikit-learn is slow to import: when needed

    curves = []
    for run in runs:
        fpr, tpr, _ = roc_curve(run.predictions["label"], run.predictions["prob_diseased"])
        curves.append((fpr, tpr))
    return tuple(curves)


def run_environments(runs: Sequence[Run]) -> dict[str, dict]:
    """The environment each run recorded in metrics.json, by run name; {} where none."""
    return {run_name(run): recorded_environment(run.recorded) for run in runs}


def run_name(run: Run) -> str:
    return f"{run.title}, {run_repeat(run)}"
