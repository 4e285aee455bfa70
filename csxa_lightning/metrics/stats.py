"""Significance tests and intervals for comparing variants scored on the same test images.

The paper compares each variant's accuracy with the baseline's by a one-sided two-proportion
z-test (`two_proportion_ztest` reproduces its Table 1 p-values). That test treats the two
accuracies as independent binomial samples, but every variant is scored on the SAME 1241 test
images: the two sets of right/wrong answers are paired and positively correlated, so the pooled
standard error is wrong (usually too large, sometimes too small) and the p-values are not
trustworthy. The paired alternatives offered here are the exact McNemar test (`mcnemar_exact`),
which uses only the images on which the two models disagree, and a paired stratified bootstrap
of any metric's difference (`paired_bootstrap`). `holm` adjusts a family of such p-values for
multiplicity. Across folds or seeds, `paired_ttest` and `mean_sd` summarise repeated runs.
`mcnemar_detectable_difference` and `balanced_accuracy_detectable_difference` say how large a
difference the test set could have detected (80 % power at alpha = 0.05).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.optimize import brentq
from scipy.stats import binom, binomtest, ttest_rel
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import normal_power_het
from statsmodels.stats.proportion import proportions_ztest

from csxa_lightning.metrics.classification import (
    BOOTSTRAP_METRICS,
    compute_metrics,
    metric_rows,
    percentile_interval,
    stratified_bootstrap_indices,
)

ALTERNATIVES = ("larger", "smaller", "two-sided")
# How a published percentage may have been shortened: the paper rounds some figures and
# truncates others (1169 / 1241 = 94.198 % is printed 94.19), see decode_published_row.


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
    correct_a: np.ndarray | Sequence[bool],
    correct_b: np.ndarray | Sequence[bool],
    alternative: str = "two-sided",
) -> dict[str, float | int | str]:
    """Exact (binomial) McNemar test for two models scored on the same images.

    correct_a[i] / correct_b[i] say whether model a / b classified image i correctly. Only the
    discordant images carry information: b = a right and b wrong, c = a wrong and b right. Under
    H0 (equal accuracy) b ~ Binomial(b + c, 1/2).
    - "two-sided": p = min(1, 2 * P(X <= min(b, c))), via statsmodels' mcnemar(exact=True).
    - "larger" (H1: a is right more often than b, the paired counterpart of the paper's
      one-sided z-test of variant a against baseline b): p = P(X >= b), scipy's binomtest.
    - "smaller" (H1: a is right less often than b): p = P(X <= b).
    Assumes the images are independent of each other; no assumption of independence between
    the two models. Returns {b, c, n, p, alternative}; p = 1 when the models never disagree.
    """
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative must be one of {ALTERNATIVES}, got {alternative!r}")
    a = _as_correct(correct_a, "correct_a")
    b_arr = _as_correct(correct_b, "correct_b")
    if len(a) != len(b_arr):
        raise ValueError(
            f"correct_a and correct_b must pair the same images: lengths {len(a)} != {len(b_arr)}"
        )
    table = np.array(
        [[np.sum(a & b_arr), np.sum(a & ~b_arr)], [np.sum(~a & b_arr), np.sum(~a & ~b_arr)]]
    )
    b, c = int(table[0, 1]), int(table[1, 0])
    if alternative == "two-sided":
        p = mcnemar(table, exact=True).pvalue
    elif b + c == 0:
        p = 1.0  # no disagreement: no evidence either way (binomtest needs n >= 1)
    else:
        side = "greater" if alternative == "larger" else "less"
        p = binomtest(b, b + c, 0.5, alternative=side).pvalue
    return {"b": b, "c": c, "n": len(a), "p": float(min(1.0, p)), "alternative": alternative}


# --------------------------------------------------------------------------- power


def mcnemar_power(n: int, discordance: float, difference: float, alpha: float = 0.05) -> float:
    """Power of the two-sided exact McNemar test (mcnemar_exact) at level alpha on n paired
    images, when a share `discordance` of the images has the two models disagree and model a
    is right on (discordance + difference) / 2 of all images where b is wrong (so a's
    accuracy exceeds b's by `difference`).

    statsmodels has no power class for McNemar's test, so it is computed exactly here: the
    number of discordant images D is Binomial(n, discordance); given D the test rejects when
    min(b, c) <= k_D, the largest k with 2 P(Binomial(D, 1/2) <= k) <= alpha, and b is
    Binomial(D, (discordance + difference) / (2 discordance)). Summed over D, no
    approximation. (Connor's 1987 normal approximation, statsmodels' normal_power_het with
    std_null sqrt(discordance) and std_alternative sqrt(discordance - difference^2), is close
    for large n but ignores the exact test's discreteness.)
    """
    _check_power_inputs(n, discordance, alpha)
    if not 0 <= abs(difference) <= discordance:
        raise ValueError(
            f"|difference| must not exceed the discordance ({discordance}), got {difference}"
        )
    if discordance == 0:
        return 0.0
    d = np.arange(n + 1)
    # k_D: the largest k with 2 P(X <= k) <= alpha under H0 (-1: no b rejects).
    k = binom.ppf(alpha / 2, d, 0.5).astype(int)
    k = np.where(2 * binom.cdf(k, d, 0.5) <= alpha, k, k - 1)
    q = (discordance + difference) / (2 * discordance)
    reject = np.where(k >= 0, binom.cdf(k, d, q) + binom.sf(d - k - 1, d, q), 0.0)
    return float(np.sum(binom.pmf(d, n, discordance) * reject))


def mcnemar_detectable_difference(
    n: int, discordance: float, alpha: float = 0.05, power: float = 0.8
) -> float:
    """The smallest difference in accuracy (a fraction) that the two-sided exact McNemar test
    on n paired images detects with the given power at level alpha, for an observed share of
    discordant images (mcnemar_power). NaN when no difference up to the discordance itself
    (one model right on every discordant image) reaches that power."""
    _check_power_inputs(n, discordance, alpha)
    if not 0 < power < 1:
        raise ValueError(f"power must lie in (0, 1), got {power}")
    if discordance == 0 or mcnemar_power(n, discordance, discordance, alpha) < power:
        return float("nan")
    # Power grows with the difference; bisect on it to a thousandth of a percentage point.
    low, high = 0.0, discordance
    while high - low > 1e-5:
        mid = 0.5 * (low + high)
        if mcnemar_power(n, discordance, mid, alpha) >= power:
            high = mid
        else:
            low = mid
    return high


def balanced_accuracy_detectable_difference(
    n_healthy: int,
    n_diseased: int,
    discordance_healthy: float,
    discordance_diseased: float,
    alpha: float = 0.05,
    power: float = 0.8,
) -> float:
    """The smallest difference in balanced accuracy detectable with the given power at level
    alpha (two-sided), for the class counts of the test set and the share of discordant images
    within each class.

    Balanced accuracy is the mean of the two class recalls, and each recall's paired
    difference delta_c is McNemar-like within its class: its variance is
    (psi_c - delta_c^2) / n_c (psi_c / n_c under H0). The alternative assumed: the variant
    wins the same share of the discordant films in each class, so delta_c is proportional to
    psi_c (delta_c = delta psi_c / mean psi, which keeps delta_c <= psi_c up to delta = mean
    psi). The difference then has std_null sqrt(psi_h / n_h + psi_d / n_d) / 2 and
    std_alternative sqrt(sum_c (psi_c - delta_c^2) / n_c) / 2, and the power is that of a
    normal test: statsmodels' normal_power_het (a normal approximation, not a simulation).
    With few films in a class (47 healthy in the paper) that class dominates the variance.
    NaN when no delta up to the mean discordance reaches that power.
    """
    for n_c in (n_healthy, n_diseased):
        _check_power_inputs(n_c, 0.0, alpha)
    for psi in (discordance_healthy, discordance_diseased):
        if not 0 <= psi <= 1:
            raise ValueError(f"discordance must lie in [0, 1], got {psi}")
    if not 0 < power < 1:
        raise ValueError(f"power must lie in (0, 1), got {power}")
    classes = ((n_healthy, discordance_healthy), (n_diseased, discordance_diseased))
    mean_psi = (discordance_healthy + discordance_diseased) / 2
    null = math.sqrt(sum(psi / n_c for n_c, psi in classes)) / 2

    def power_at(delta: float) -> float:
        alt = math.sqrt(
            sum(max(psi - (delta * psi / mean_psi) ** 2, 0.0) / n_c for n_c, psi in classes)
        )
        alt = max(alt / 2, 1e-12)  # all discordant films won: no spread left
        return float(normal_power_het(delta, 1, alpha, std_null=null, std_alternative=alt))

    if mean_psi == 0 or power_at(mean_psi) < power:
        return float("nan")
    return float(brentq(lambda delta: power_at(delta) - power, 1e-12, mean_psi, xtol=1e-7))


def _check_power_inputs(n: int, discordance: float, alpha: float) -> None:
    if isinstance(n, bool) or int(n) != n or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if not 0 <= discordance <= 1:
        raise ValueError(f"discordance must lie in [0, 1], got {discordance}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")


# --------------------------------------------------------------------------- multiplicity


def holm(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm-adjusted p-values (statsmodels' multipletests, method="holm"), in input order.

    Holm controls the family-wise error rate over the comparisons made (e.g. the five variants
    against the baseline) without assuming anything about their dependence, which suits tests
    that share one test set. NaN entries (a comparison that was not made) stay NaN and are not
    counted in the family size.
    """
    p = np.asarray(pvalues, dtype=float)
    if p.ndim != 1:
        raise ValueError(f"pvalues must be a 1-D sequence, got shape {p.shape}")
    tested = ~np.isnan(p)
    if np.any((p[tested] < 0) | (p[tested] > 1)):
        raise ValueError(f"p-values must lie in [0, 1] (or be NaN for no test), got {p.tolist()}")
    out = np.full(p.shape, np.nan)
    if tested.any():
        out[tested] = multipletests(p[tested], method="holm")[1]
    return out


# --------------------------------------------------------------------------- paired bootstrap


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
    idx = stratified_bootstrap_indices(y, n_resamples, seed)
    rows_a = metric_rows(y[idx], pa[idx], [metric], threshold)[metric]
    rows_b = metric_rows(y[idx], pb[idx], [metric], threshold)[metric]
    diff = rows_a - rows_b
    finite = diff[np.isfinite(diff)]
    return {
        "metric": metric,
        "a": point_a,
        "b": point_b,
        "diff": point_a - point_b,
        "a_ci": percentile_interval(rows_a, level),
        "b_ci": percentile_interval(rows_b, level),
        "diff_ci": percentile_interval(diff, level),
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
