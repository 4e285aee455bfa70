"""Significance tests and intervals for comparing variants scored on the same test images.

The paper compares each variant's accuracy with the baseline's by a one-sided two-proportion
z-test (`two_proportion_ztest` reproduces its Table 1 p-values). That test treats the two
accuracies as independent binomial samples, but every variant is scored on the SAME 1241 test
images: the two sets of right/wrong answers are paired and positively correlated, so the pooled
standard error is wrong (usually too large, sometimes too small) and the p-values are not
trustworthy. The paired alternatives offered here are the exact McNemar test (`mcnemar_exact`),
which uses only the images on which the two models disagree, and a paired stratified bootstrap
of any metric's difference (`paired_bootstrap`). Across folds or seeds, `paired_ttest` and
`mean_sd` summarise repeated runs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import ttest_rel
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.proportion import proportions_ztest

from csxa_lightning.metrics import _auroc, _threshold_metrics, compute_metrics

ALTERNATIVES = ("larger", "smaller", "two-sided")

# Metrics the paired bootstrap can resample: everything compute_metrics derives from the
# predictions (not n, threshold or the majority baseline, which are fixed by the design).
BOOTSTRAP_METRICS = (
    "accuracy",
    "balanced_accuracy",
    "sensitivity",
    "specificity",
    "precision_diseased",
    "precision_healthy",
    "precision_macro",
    "precision_weighted",
    "recall_macro",
    "f1_diseased",
    "f1_healthy",
    "f1_macro",
    "f1_weighted",
    "tp",
    "tn",
    "fp",
    "fn",
    "auroc",
    "auprc",
)


# --------------------------------------------------------------------------- z-test (paper)


def two_proportion_ztest(
    successes_a: int, n_a: int, successes_b: int, n_b: int, alternative: str = "larger"
) -> tuple[float, float]:
    """Two-proportion z-test with pooled standard error, as the paper uses it.

    z = (p_a - p_b) / sqrt(p (1 - p) (1/n_a + 1/n_b)), p = (successes_a + successes_b)/(n_a + n_b),
    referred to the standard normal. Alternatives: "larger" (H1: accuracy_a > accuracy_b, the
    paper's one-sided test of variant a against baseline b), "smaller" (H1: a < b) and
    "two-sided". Returns (z, p).

    Assumptions: the two counts are independent binomial samples and n is large enough for the
    normal approximation. Independence does NOT hold when both models are scored on the same
    test images; use `mcnemar_exact` for that case. Kept to reproduce the published p-values.
    """
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative must be one of {ALTERNATIVES}, got {alternative!r}")
    for k, n in ((successes_a, n_a), (successes_b, n_b)):
        if n <= 0 or not 0 <= k <= n:
            raise ValueError(f"need 0 <= successes <= n and n > 0, got {k} of {n}")
    pooled = (successes_a + successes_b) / (n_a + n_b)
    if pooled in (0.0, 1.0):
        # All right or all wrong in both groups: the pooled variance is 0 and z is undefined.
        raise ValueError("pooled proportion is 0 or 1: the z statistic is undefined")
    # statsmodels: diff = prop[0] - prop[1], so "larger" means a > b; variance pooled by default.
    z, p = proportions_ztest([successes_a, successes_b], [n_a, n_b], alternative=alternative)
    return float(z), float(p)


# --------------------------------------------------------------------------- McNemar (paired)


def _as_correct(values: np.ndarray | Sequence, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1 or len(arr) == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array, got shape {arr.shape}")
    if arr.dtype != bool and not np.isin(arr, (0, 1)).all():
        raise ValueError(f"{name} must hold booleans (or 0/1): True = prediction correct")
    return arr.astype(bool)


def mcnemar_exact(
    correct_a: np.ndarray | Sequence[bool], correct_b: np.ndarray | Sequence[bool]
) -> dict[str, float | int]:
    """Exact (binomial) two-sided McNemar test for two models scored on the same images.

    correct_a[i] / correct_b[i] say whether model a / b classified image i correctly. Only the
    discordant images carry information: b = a right and b wrong, c = a wrong and b right. Under
    H0 (equal accuracy) b ~ Binomial(b + c, 1/2); p = min(1, 2 * P(X <= min(b, c))), via
    statsmodels' mcnemar(exact=True). Assumes the images are independent of each other; no
    assumption of independence between the two models. Returns {b, c, n, p}; p = 1 when the
    models never disagree.
    """
    a = _as_correct(correct_a, "correct_a")
    b_arr = _as_correct(correct_b, "correct_b")
    if len(a) != len(b_arr):
        raise ValueError(
            f"correct_a and correct_b must pair the same images: lengths {len(a)} != {len(b_arr)}"
        )
    table = np.array(
        [[np.sum(a & b_arr), np.sum(a & ~b_arr)], [np.sum(~a & b_arr), np.sum(~a & ~b_arr)]]
    )
    result = mcnemar(table, exact=True)
    return {
        "b": int(table[0, 1]),
        "c": int(table[1, 0]),
        "n": len(a),
        "p": float(min(1.0, result.pvalue)),
    }


# --------------------------------------------------------------------------- paired bootstrap


def _stratified_indices(y: np.ndarray, n_resamples: int, seed: int) -> np.ndarray:
    """Resample rows of indices with the class counts fixed (as metrics.bootstrap_intervals),
    so every resample keeps both classes and AUROC / specificity stay defined."""
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(y == label) for label in (1, 0)]
    parts = [rng.choice(g, size=(n_resamples, len(g))) for g in groups if len(g)]
    return np.concatenate(parts, axis=1)


def _auprc_rows(y: np.ndarray, prob: np.ndarray) -> np.ndarray:
    """Average precision (as sklearn's average_precision_score), vectorised over rows.

    AP = (1/n_pos) * sum over positives of the precision at the threshold equal to that
    positive's score; tied scores share one threshold, i.e. the precision at the END of their
    tie group in descending order.
    """
    order = np.argsort(-prob, axis=-1, kind="stable")
    p_sorted = np.take_along_axis(prob, order, axis=-1)
    y_sorted = np.take_along_axis(y, order, axis=-1)
    tp = np.cumsum(y_sorted, axis=-1)
    precision = tp / np.arange(1, prob.shape[-1] + 1)
    n = prob.shape[-1]
    is_end = np.ones_like(p_sorted, dtype=bool)
    is_end[:, :-1] = p_sorted[:, 1:] != p_sorted[:, :-1]
    end_idx = np.where(is_end, np.arange(n), n)
    end_idx = np.minimum.accumulate(end_idx[:, ::-1], axis=-1)[:, ::-1]
    prec_at_end = np.take_along_axis(precision, end_idx, axis=-1)
    n_pos = y_sorted.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ap = np.sum(prec_at_end * y_sorted, axis=-1) / n_pos
    return np.where(n_pos > 0, ap, np.nan)


def _metric_rows(metric: str, y: np.ndarray, prob: np.ndarray, threshold: float) -> np.ndarray:
    """One metric per resample row (y, prob: resamples x images)."""
    if metric == "auroc":
        return _auroc(y, prob)
    if metric == "auprc":
        return _auprc_rows(y, prob)
    return _threshold_metrics(y, (prob >= threshold).astype(int))[metric].astype(float)


def _percentile_ci(values: np.ndarray, level: float) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if not len(finite):
        return float("nan"), float("nan")
    alpha = (1 - level) / 2
    low, high = np.quantile(finite, [alpha, 1 - alpha])
    return float(low), float(high)


def _check_paired_inputs(y_true, prob_a, prob_b) -> tuple[np.ndarray, ...]:
    y = np.asarray(y_true, dtype=int)
    pa, pb = np.asarray(prob_a, dtype=float), np.asarray(prob_b, dtype=float)
    if y.ndim != 1 or len(y) == 0 or pa.shape != y.shape or pb.shape != y.shape:
        raise ValueError(
            f"need equal-length non-empty 1-D arrays, got {y.shape}, {pa.shape}, {pb.shape}"
        )
    return y, pa, pb


def paired_bootstrap(
    y_true: np.ndarray | Sequence[int],
    prob_a: np.ndarray | Sequence[float],
    prob_b: np.ndarray | Sequence[float],
    metric: str,
    n_resamples: int = 2000,
    seed: int = 0,
    threshold: float = 0.5,
    level: float = 0.95,
) -> dict[str, float | tuple[float, float] | str | int]:
    """Paired stratified bootstrap of metric(a), metric(b) and metric(a) - metric(b).

    Test images are resampled with replacement within each class (class counts fixed), and the
    SAME resampled images score both models, so the interval for the difference accounts for
    the correlation between models that the two-proportion z-test ignores. `metric` is a key of
    compute_metrics (see BOOTSTRAP_METRICS). Intervals are percentile intervals at `level`.
    Assumes the test images are i.i.d. draws from the population of interest; it does not
    cover training variability (seeds, folds), for which see `paired_ttest`.

    Returns point estimates `a`, `b`, `diff` (= compute_metrics on the full test set), their
    intervals `a_ci`, `b_ci`, `diff_ci`, and `p_diff_le_0`: the share of resamples with
    diff <= 0, a one-sided bootstrap indication (not an exact p-value) that a beats b.
    """
    if metric not in BOOTSTRAP_METRICS:
        raise ValueError(f"metric must be one of {BOOTSTRAP_METRICS}, got {metric!r}")
    if n_resamples < 1 or not 0 < level < 1:
        raise ValueError(f"need n_resamples >= 1 and 0 < level < 1, got {n_resamples}, {level}")
    y, pa, pb = _check_paired_inputs(y_true, prob_a, prob_b)
    point_a = float(compute_metrics(y, pa, threshold)[metric])
    point_b = float(compute_metrics(y, pb, threshold)[metric])
    idx = _stratified_indices(y, n_resamples, seed)
    rows_a = _metric_rows(metric, y[idx], pa[idx], threshold)
    rows_b = _metric_rows(metric, y[idx], pb[idx], threshold)
    diff = rows_a - rows_b
    finite = diff[np.isfinite(diff)]
    return {
        "metric": metric,
        "a": point_a,
        "b": point_b,
        "diff": point_a - point_b,
        "a_ci": _percentile_ci(rows_a, level),
        "b_ci": _percentile_ci(rows_b, level),
        "diff_ci": _percentile_ci(diff, level),
        "p_diff_le_0": float(np.mean(finite <= 0)) if len(finite) else float("nan"),
        "n_resamples": n_resamples,
        "level": level,
    }


# --------------------------------------------------------------------------- folds / seeds


def paired_ttest(
    values_a: np.ndarray | Sequence[float], values_b: np.ndarray | Sequence[float]
) -> tuple[float, float]:
    """Paired t-test (scipy.stats.ttest_rel), two-sided, of a metric across folds or seeds.

    values_a[i] and values_b[i] must come from the same fold (or seed). Tests H0: mean of
    a - b is 0 against a two-sided alternative; assumes the per-pair differences are
    independent and roughly normal. With k-fold CV the folds share training data, so the
    differences are correlated and the test is optimistic (Nadeau & Bengio); treat p as a
    rough guide. Returns (t, p); both nan when all differences are equal (zero variance).
    """
    a = np.asarray(values_a, dtype=float)
    b = np.asarray(values_b, dtype=float)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"need two equal-length 1-D arrays, got {a.shape} and {b.shape}")
    if len(a) < 2:
        raise ValueError(f"a paired t-test needs at least 2 pairs, got {len(a)}")
    d = a - b
    if np.all(d == d[0]):
        return float("nan"), float("nan")
    t, p = ttest_rel(a, b)
    return float(t), float(p)


def mean_sd(values: np.ndarray | Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1) across seeds or folds; sd is nan for one
    value (a spread cannot be estimated from a single run)."""
    v = np.asarray(values, dtype=float).ravel()
    if len(v) == 0:
        raise ValueError("mean_sd needs at least one value")
    sd = float(np.std(v, ddof=1)) if len(v) > 1 else float("nan")
    return float(np.mean(v)), sd
