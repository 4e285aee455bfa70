"""The run table: one row per run with every number of the report's two tables (report.csv).
A row is the run's identity, its metrics (metrics_with_intervals, computed when the run folder
is read) and its comparison with the baseline of its repetition (baseline.py)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from csxa_lightning.metrics.classification import INTERVAL_BOOTSTRAP_METRICS
from csxa_lightning.results.baseline import baseline_comparison, is_baseline, with_holm
from csxa_lightning.results.degenerate import constant_answer
from csxa_lightning.runs.folder import Run, run_repeat

# The run's metrics that report.csv holds, in its column order (the golden report pins it).
REPORTED_METRICS = (
    "accuracy",
    "precision_weighted",
    "recall_macro",
    "f1_weighted",
    "precision_macro",
    "f1_macro",
    "cohen_kappa",
    "balanced_accuracy",
    "sensitivity",
    "specificity",
    "auroc",
    "auprc",
    "accuracy_ci_low",
    "accuracy_ci_high",
    "balanced_accuracy_ci_low",
    "balanced_accuracy_ci_high",
    "sensitivity_ci_low",
    "sensitivity_ci_high",
    "specificity_ci_low",
    "specificity_ci_high",
    "auroc_ci_low",
    "auroc_ci_high",
    "auprc_ci_low",
    "auprc_ci_high",
    "tp",
    "tn",
    "fp",
    "fn",
)


def run_table(runs: Sequence[Run]) -> pd.DataFrame:
    """One row per run, in the order of runs: every number of both tables (report.csv)."""
    rows = [
        {
            **identity_fields(run, runs),
            **metric_fields(run.metrics),
            **comparison_fields(baseline_comparison(run, runs)),
            "folder": str(run.path),
        }
        for run in runs
    ]
    return with_holm(pd.DataFrame(rows))


def identity_fields(run: Run, runs: Sequence[Run]) -> dict:
    """What the run is: its variant, model, preprocessing, training and repetition."""
    m = run.metrics
    return {
        "variant": run.title,
        "model": run.arch,
        "crop": run.crop,
        "color": run.color,
        "variant_name": run.variant,
        "baseline": is_baseline(run, runs),
        "protocol": run.recorded.get("protocol"),
        "train_samples": run.recorded.get("train_samples"),
        "optimizer_steps": run.recorded.get("optimizer_steps"),
        "seed": run.seed,
        "fold": run.fold,
        "repeat": run_repeat(run),
        "n": m["n"],
        "n_healthy": m["n_healthy"],
        "n_diseased": m["n_diseased"],
    }


def metric_fields(m: dict) -> dict:
    """The run's metrics and intervals, how many bootstrap resamples left each undefined, and
    the class it answered for every film if it did (degenerate.constant_answer; "" if not)."""
    return {
        **{k: m[k] for k in REPORTED_METRICS},
        "bootstrap_resamples": m["bootstrap_resamples"],
        **{
            f"{name}_undefined_resamples": m[f"{name}_undefined_resamples"]
            for name in INTERVAL_BOOTSTRAP_METRICS
        },
        "constant_answer": constant_answer(m),
    }


def comparison_fields(c: dict) -> dict:
    """baseline_comparison's result under report.csv's column names (Holm comes later: it
    needs every run of the repetition)."""
    return {
        "p_ztest_vs_baseline": c["z_p"],
        "p_mcnemar_vs_baseline": c["mcnemar_p"],
        "p_mcnemar_one_sided": c["mcnemar_p_one_sided"],
        "d_balanced_accuracy_vs_baseline": c["d_bal_acc"],
        "d_balanced_accuracy_ci_low": c["d_bal_acc_ci"][0],
        "d_balanced_accuracy_ci_high": c["d_bal_acc_ci"][1],
        "discordance_vs_baseline": c["discordance"],
        "detectable_d_accuracy": c["detectable_d_acc"],
        "detectable_d_balanced_accuracy": c["detectable_d_bal_acc"],
        "not_compared_because": c["why_not"],
    }
