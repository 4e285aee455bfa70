"""Across repetitions (seeds and/or cross-validation folds): per variant, the mean ± sd of the
headline metrics and the paired t-test against the baseline across repetitions, the test the
paper's table caption describes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from csxa_lightning.metrics.stats import mean_sd, paired_ttest

# The metrics summarised across repetitions, in the order the report shows them.
REPEAT_METRICS = ("accuracy", "balanced_accuracy", "auroc")


def repeat_summary(table: pd.DataFrame) -> pd.DataFrame | None:
    """One row per variant of the run table (run_table): repetitions, whether it is the
    baseline, <metric>_mean and <metric>_sd of each of REPEAT_METRICS, p_paired_ttest of
    balanced accuracy against the baseline. None when the table holds a single repetition."""
    if table["repeat"].nunique() < 2:
        return None
    base = table[table["baseline"]].set_index("repeat")
    return pd.DataFrame(
        [
            variant_summary(variant, group, base)
            for variant, group in table.groupby("variant", sort=False)
        ]
    )


def variant_summary(variant: str, group: pd.DataFrame, base: pd.DataFrame) -> dict:
    row: dict = {
        "variant": variant,
        "repetitions": len(group),
        "baseline": bool(group["baseline"].any()),
    }
    for metric in REPEAT_METRICS:
        row[f"{metric}_mean"], row[f"{metric}_sd"] = mean_sd(group[metric].to_numpy())
    row["p_paired_ttest"] = paired_ttest_vs_baseline(group, base)
    return row


def paired_ttest_vs_baseline(group: pd.DataFrame, base: pd.DataFrame) -> float:
    """p of the paired t-test of the variant's balanced accuracy against the baseline's over
    the repetitions both have; NaN with fewer than two pairs, or for the baseline itself."""
    shared = group.set_index("repeat").index.intersection(base.index)
    if len(shared) < 2 or group["folder"].isin(base["folder"]).all():
        return np.nan
    _, p = paired_ttest(
        group.set_index("repeat").loc[shared, "balanced_accuracy"],
        base.loc[shared, "balanced_accuracy"],
    )
    return p
