"""Each run against the baseline of its repetition: which run is the baseline, whether the two
can be paired, and the tests between them (the paper's z-test, exact McNemar, a paired
bootstrap of the difference in balanced accuracy, the differences the test set could detect),
then Holm's adjustment within each repetition."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from csxa_lightning.metrics.classification import bootstrap_seed
from csxa_lightning.metrics.stats import (
    balanced_accuracy_detectable_difference,
    holm,
    mcnemar_detectable_difference,
    mcnemar_exact,
    paired_bootstrap,
    two_proportion_ztest,
)
from csxa_lightning.runs.folder import Run, run_repeat

# The paper's reference (original images, ResNet50), used to find the baseline only in sweeps
# written before variants carried their own marker (variant.baseline in conf/variant/).
LEGACY_BASELINE = ("resnet50", "none", "none")

# A run without a comparison (the baseline itself, or a run that cannot be paired with it).
NO_COMPARISON = {
    "z_p": np.nan,
    "mcnemar_p": np.nan,
    "mcnemar_p_one_sided": np.nan,
    "d_bal_acc": np.nan,
    "d_bal_acc_ci": (np.nan, np.nan),
    "discordance": np.nan,
    "detectable_d_acc": np.nan,
    "detectable_d_bal_acc": np.nan,
}

# The p-values adjusted by with_holm: report.csv's columns of the raw ones.
HOLM_ADJUSTED = ("p_ztest_vs_baseline", "p_mcnemar_vs_baseline", "p_mcnemar_one_sided")


def baseline_comparison(run: Run, runs: Sequence[Run]) -> dict:
    """The paper's z-test and the paired tests against the baseline of the same repetition;
    "why_not" says why there are none."""
    base, why_not = baseline_for(run, runs)
    if base is None:
        return {**NO_COMPARISON, "why_not": why_not}
    n = len(run.predictions)
    _, z_p = two_proportion_ztest(
        int(run.correct.sum()), n, int(base.correct.sum()), n, alternative="larger"
    )
    # Both are sorted by case id (load_run) and hold the same ids: the pairs are images.
    boot = paired_bootstrap(
        run.predictions["label"].to_numpy(),
        run.predictions["prob_diseased"].to_numpy(),
        base.predictions["prob_diseased"].to_numpy(),
        metric="balanced_accuracy",
        seed=bootstrap_seed(run.seed),
    )
    return {
        "z_p": z_p,
        "mcnemar_p": mcnemar_exact(run.correct, base.correct)["p"],
        # Like the paper's z-test: the variant better than the baseline.
        "mcnemar_p_one_sided": mcnemar_exact(run.correct, base.correct, alternative="larger")["p"],
        "d_bal_acc": boot["diff"],
        "d_bal_acc_ci": boot["diff_ci"],
        **detectable_differences(run, base),
        "why_not": "",
    }


def baseline_for(run: Run, runs: Sequence[Run]) -> tuple[Run | None, str]:
    """(the baseline run of the same repetition, "") or (None, why there is none)."""
    bases = [r for r in runs if is_baseline(r, runs) and r.repeat == run.repeat]
    if not bases:
        return None, (
            f"no run of {run_repeat(run)} is marked as the baseline (variant.baseline: true "
            "in conf/variant/original.yaml; run +variant=original in the same sweep)"
        )
    base = bases[0]
    if base is run:
        return None, ""
    if not np.array_equal(np.sort(base.test_ids), np.sort(run.test_ids)):
        only_run = np.setdiff1d(run.test_ids, base.test_ids)
        only_base = np.setdiff1d(base.test_ids, run.test_ids)
        return None, (
            f"its test images differ from the baseline's ({run.path.name}: {len(run.test_ids)} "
            f"images, {len(only_run)} not in the baseline's; {base.path.name}: "
            f"{len(base.test_ids)}, {len(only_base)} not in this run's), so they cannot be "
            "paired. Runs share their test images when they share data.split_seed, the "
            "fractions, cv.fold and the usable image set (see each run's split.csv and "
            "skipped_files.csv)."
        )
    return base, ""


def is_baseline(run: Run, runs: Sequence[Run]) -> bool:
    """The run of the variant marked as baseline in its own yaml (conf/variant/). Only a sweep
    in which no run carries a marker (written before the markers existed) falls back to the
    paper's reference, ResNet50 on the original images."""
    if any(r.is_baseline is not None for r in runs):
        return bool(run.is_baseline)
    return run.key == LEGACY_BASELINE


def detectable_differences(run: Run, base: Run) -> dict:
    """The observed share of images on which the run and its baseline disagree, and the
    smallest differences in accuracy (exact McNemar) and in balanced accuracy (class counts,
    per-class discordance) this test set detects with 80 % power at alpha = 0.05."""
    disagree = run.correct != base.correct
    healthy = run.predictions["label"].to_numpy() == 0
    return {
        "discordance": float(disagree.mean()),
        "detectable_d_acc": mcnemar_detectable_difference(len(disagree), disagree.mean()),
        "detectable_d_bal_acc": balanced_accuracy_detectable_difference(
            int(healthy.sum()),
            int((~healthy).sum()),
            float(disagree[healthy].mean()) if healthy.any() else 0.0,
            float(disagree[~healthy].mean()) if (~healthy).any() else 0.0,
        ),
    }


def with_holm(table: pd.DataFrame) -> pd.DataFrame:
    """Holm-adjusted p-values beside the raw ones. The family is one repetition's comparisons
    against its baseline (six variants in Table 1): each test is one of several looks at the
    same question, "does preprocessing beat the original?"."""
    table = table.copy()
    for raw in HOLM_ADJUSTED:
        table[f"{raw}_holm"] = np.nan
        for _, rows in table.groupby("repeat", sort=False):
            table.loc[rows.index, f"{raw}_holm"] = holm(rows[raw].to_numpy())
    return table
