"""Significance tests: the paper's z-test p-values, McNemar, paired bootstrap, paired t-test."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from scipy.stats import binom, norm, ttest_rel
from sklearn.metrics import average_precision_score
from statsmodels.stats.proportion import proportions_ztest

from csxa_lightning.metrics import compute_metrics
from csxa_lightning.stats import (
    BOOTSTRAP_METRICS,
    _auprc_rows,
    mcnemar_exact,
    mean_sd,
    paired_bootstrap,
    paired_ttest,
    two_proportion_ztest,
)

N_TEST = 1241
BASELINE = (94.19, 1169)  # Original (ResNet50)
# Table 1: (published accuracy %, count out of 1241, published one-sided p-value).
TABLE1 = [
    (95.48, 1185, 0.0732),  # Cropped
    (95.73, 1188, 0.0406),  # Wide cropped
    (95.73, 1188, 0.0406),  # Colored
    (94.76, 1176, 0.269),  # Colored, cropped
    (94.92, 1178, 0.213),  # Colored, wide cropped
]


def _published_digits(p: float) -> int:
    """Decimal places of a p-value as printed in Table 1 (0.0732 -> 4, 0.269 -> 3)."""
    return len(f"{p}".split(".")[1])


@pytest.mark.parametrize("acc, count", [BASELINE] + [row[:2] for row in TABLE1])
def test_counts_match_published_accuracies(acc, count):
    # round(acc * n) recovers the count, and count / n lies within 0.01 points of the published
    # figure (1169 -> 94.198 and 1185 -> 95.487: the paper truncated these two, not rounded).
    assert round(acc / 100 * N_TEST) == count
    assert abs(100 * count / N_TEST - acc) < 0.01


@pytest.mark.parametrize("acc, count, published_p", TABLE1)
def test_paper_p_values_reproduced(acc, count, published_p):
    z, p = two_proportion_ztest(count, N_TEST, BASELINE[1], N_TEST, alternative="larger")
    assert z > 0
    assert round(p, _published_digits(published_p)) == published_p
    # Same numbers from statsmodels directly (diff = prop[0] - prop[1], pooled variance).
    z_sm, p_sm = proportions_ztest([count, BASELINE[1]], [N_TEST, N_TEST], alternative="larger")
    assert (z, p) == pytest.approx((z_sm, p_sm), rel=1e-12)


def test_ztest_hand_computed_pooled_formula():
    # Wide cropped vs baseline: 1188/1241 vs 1169/1241.
    p_a, p_b = 1188 / 1241, 1169 / 1241
    pooled = (1188 + 1169) / (1241 + 1241)
    se = math.sqrt(pooled * (1 - pooled) * (1 / 1241 + 1 / 1241))
    z_hand = (p_a - p_b) / se
    z, p = two_proportion_ztest(1188, 1241, 1169, 1241)
    assert z == pytest.approx(z_hand, rel=1e-12)
    assert z == pytest.approx(1.74389, abs=1e-5)
    assert p == pytest.approx(norm.sf(z_hand), rel=1e-12)
    assert p == pytest.approx(0.0405889, abs=1e-7)


def test_ztest_alternatives_relate():
    z, p_larger = two_proportion_ztest(1185, 1241, 1169, 1241, "larger")
    _, p_two = two_proportion_ztest(1185, 1241, 1169, 1241, "two-sided")
    _, p_smaller = two_proportion_ztest(1185, 1241, 1169, 1241, "smaller")
    assert z > 0
    assert p_two == pytest.approx(2 * p_larger, rel=1e-12)
    assert p_smaller == pytest.approx(1 - p_larger, rel=1e-12)
    # Swapping a and b flips the sign of z.
    z_swapped, p_swapped = two_proportion_ztest(1169, 1241, 1185, 1241, "smaller")
    assert z_swapped == pytest.approx(-z, rel=1e-12)
    assert p_swapped == pytest.approx(p_larger, rel=1e-12)


@pytest.mark.parametrize(
    "args",
    [(5, 4, 3, 4), (1, 0, 1, 4), (-1, 4, 1, 4), (4, 4, 4, 4), (1, 4, 1, 4, "greater")],
)
def test_ztest_rejects_bad_input(args):
    with pytest.raises(ValueError):
        two_proportion_ztest(*args)


def _pairing(n_both: int, b: int, c: int, n_neither: int) -> tuple[np.ndarray, np.ndarray]:
    correct_a = np.array([True] * n_both + [True] * b + [False] * c + [False] * n_neither)
    correct_b = np.array([True] * n_both + [False] * b + [True] * c + [False] * n_neither)
    return correct_a, correct_b


def test_mcnemar_known_discordant_counts():
    correct_a, correct_b = _pairing(n_both=100, b=10, c=2, n_neither=5)
    result = mcnemar_exact(correct_a, correct_b)
    assert (result["b"], result["c"], result["n"]) == (10, 2, 117)
    assert result["p"] == pytest.approx(2 * binom.cdf(2, 12, 0.5), rel=1e-12)
    assert result["p"] == pytest.approx(0.0385742, abs=1e-7)  # = 2 * 79 / 4096
    # Symmetric in a and b apart from swapping b and c.
    swapped = mcnemar_exact(correct_b, correct_a)
    assert (swapped["b"], swapped["c"]) == (2, 10)
    assert swapped["p"] == pytest.approx(result["p"], rel=1e-12)


def test_mcnemar_identical_models_and_balanced_disagreement():
    correct = np.array([True, False, True, True, False])
    assert mcnemar_exact(correct, correct)["p"] == 1.0
    correct_a, correct_b = _pairing(20, 4, 4, 3)
    assert mcnemar_exact(correct_a, correct_b)["p"] == 1.0  # capped at 1
    assert mcnemar_exact([1, 0, 1], [1, 1, 0])["b"] == 1  # 0/1 accepted


def test_mcnemar_rejects_unpaired_or_non_boolean():
    with pytest.raises(ValueError, match="lengths 3 != 2"):
        mcnemar_exact([True, False, True], [True, False])
    with pytest.raises(ValueError, match="booleans"):
        mcnemar_exact([0.2, 0.9], [1, 0])


@pytest.fixture
def two_models():
    rng = np.random.default_rng(1)
    y = np.array([0] * 47 + [1] * 1194)
    prob_b = np.clip(0.3 * y + rng.random(len(y)) * 0.7, 0, 1)
    # a: b's scores pushed towards the true class, so a is at least as good on every image.
    prob_a = np.clip(prob_b + np.where(y == 1, 0.15, -0.15), 0, 1)
    return y, prob_a, prob_b


@pytest.mark.parametrize("metric", ["accuracy", "balanced_accuracy", "f1_weighted", "auroc"])
def test_paired_bootstrap_identical_models_diff_is_zero(two_models, metric):
    y, _, prob = two_models
    result = paired_bootstrap(y, prob, prob, metric, n_resamples=300)
    assert result["diff"] == 0.0
    assert result["diff_ci"] == (0.0, 0.0)
    assert result["a_ci"] == result["b_ci"]
    assert result["p_diff_le_0"] == 1.0


@pytest.mark.parametrize(
    "metric", ["accuracy", "balanced_accuracy", "sensitivity", "specificity", "auroc", "auprc"]
)
def test_paired_bootstrap_better_model_has_positive_diff(two_models, metric):
    y, prob_a, prob_b = two_models
    result = paired_bootstrap(y, prob_a, prob_b, metric, n_resamples=500)
    assert result["diff"] > 0
    assert result["diff_ci"][0] > 0
    assert result["diff_ci"][0] <= result["diff"] <= result["diff_ci"][1]
    assert result["p_diff_le_0"] == 0.0


def test_paired_bootstrap_point_estimates_equal_compute_metrics(two_models):
    y, prob_a, prob_b = two_models
    m_a, m_b = compute_metrics(y, prob_a), compute_metrics(y, prob_b)
    for metric in BOOTSTRAP_METRICS:
        result = paired_bootstrap(y, prob_a, prob_b, metric, n_resamples=20)
        assert result["a"] == m_a[metric]
        assert result["b"] == m_b[metric]
        assert result["diff"] == pytest.approx(m_a[metric] - m_b[metric])
        assert result["a_ci"][0] <= result["a_ci"][1]


def test_paired_bootstrap_deterministic_for_a_seed(two_models):
    y, prob_a, prob_b = two_models
    first = paired_bootstrap(y, prob_a, prob_b, "f1_weighted", n_resamples=200, seed=7)
    again = paired_bootstrap(y, prob_a, prob_b, "f1_weighted", n_resamples=200, seed=7)
    other = paired_bootstrap(y, prob_a, prob_b, "f1_weighted", n_resamples=200, seed=8)
    assert first == again
    assert first["diff_ci"] != other["diff_ci"]


def test_paired_bootstrap_fast_for_paper_size(two_models):
    y, prob_a, prob_b = two_models
    for metric in ("accuracy", "auroc", "auprc"):
        start = time.perf_counter()
        paired_bootstrap(y, prob_a, prob_b, metric, n_resamples=2000)
        assert time.perf_counter() - start < 2.0


def test_vectorised_auprc_matches_scikit_learn():
    rng = np.random.default_rng(3)
    y = (rng.random((6, 200)) < 0.4).astype(int)
    prob = np.round(rng.random((6, 200)), 1)  # coarse scores: many ties
    expected = [average_precision_score(y[i], prob[i]) for i in range(6)]
    assert _auprc_rows(y, prob) == pytest.approx(expected, rel=1e-12)


def test_paired_bootstrap_rejects_unknown_metric_and_unpaired(two_models):
    y, prob_a, prob_b = two_models
    with pytest.raises(ValueError, match="metric must be one of"):
        paired_bootstrap(y, prob_a, prob_b, "majority_accuracy")
    with pytest.raises(ValueError, match="equal-length"):
        paired_bootstrap(y, prob_a, prob_b[:-1], "accuracy")


def test_paired_ttest_matches_scipy():
    a = [0.951, 0.944, 0.958, 0.949, 0.955]
    b = [0.940, 0.946, 0.947, 0.941, 0.950]
    expected = ttest_rel(a, b)
    assert paired_ttest(a, b) == pytest.approx((expected.statistic, expected.pvalue), rel=1e-12)


def test_paired_ttest_hand_computed_three_pairs():
    # Differences 1, 2, 4: mean 7/3, sd sqrt(7/3), t = mean / (sd / sqrt 3) = sqrt 7.
    # With 2 df the t survival function is 1/2 - t / (2 sqrt(2 + t^2)), so p = 1 - sqrt(7) / 3.
    t, p = paired_ttest([3.0, 5.0, 9.0], [2.0, 3.0, 5.0])
    assert t == pytest.approx(math.sqrt(7), rel=1e-12)
    assert p == pytest.approx(1 - math.sqrt(7) / 3, rel=1e-9)
    assert p == pytest.approx(0.118083, abs=1e-6)


def test_paired_ttest_needs_two_pairs_of_equal_length():
    with pytest.raises(ValueError, match="at least 2 pairs"):
        paired_ttest([0.9], [0.8])
    with pytest.raises(ValueError, match="equal-length"):
        paired_ttest([0.9, 0.8], [0.8])
    assert all(math.isnan(v) for v in paired_ttest([1.0, 2.0], [0.5, 1.5]))


def test_mean_sd():
    mean, sd = mean_sd([94.19, 95.48, 95.73])
    assert mean == pytest.approx(95.1333333, abs=1e-6)
    assert sd == pytest.approx(
        math.sqrt(((94.19 - mean) ** 2 + (95.48 - mean) ** 2 + (95.73 - mean) ** 2) / 2), rel=1e-12
    )
    assert sd == pytest.approx(0.826458, abs=1e-6)
    one_mean, one_sd = mean_sd([0.9])
    assert one_mean == 0.9 and math.isnan(one_sd)
    with pytest.raises(ValueError):
        mean_sd([])
