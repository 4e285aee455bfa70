"""Significance tests: the paper's z-test p-values, McNemar (two- and one-sided), Holm, Wilson,
paired bootstrap, paired t-test."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binom, binomtest, norm, ttest_rel
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint, proportions_ztest

from csxa_lightning.metrics import classification as metrics
from csxa_lightning.metrics.classification import compute_metrics, wilson_interval
from csxa_lightning.metrics.stats import (
    BOOTSTRAP_METRICS,
    holm,
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


@pytest.mark.parametrize("alternative", ["larger", "smaller", "two-sided"])
def test_mcnemar_against_scipy_binomtest(alternative):
    rng = np.random.default_rng(11)
    correct_a, correct_b = rng.random(300) < 0.9, rng.random(300) < 0.85
    result = mcnemar_exact(correct_a, correct_b, alternative)
    b, c = result["b"], result["c"]
    side = {"larger": "greater", "smaller": "less", "two-sided": "two-sided"}[alternative]
    # For p = 1/2 scipy's two-sided exact test is the same doubled tail as statsmodels'.
    assert result["p"] == pytest.approx(binomtest(b, b + c, 0.5, alternative=side).pvalue)
    assert result["alternative"] == alternative


def test_mcnemar_one_sided_hand_computed():
    # b = 10 (a right, b wrong), c = 2: P(X >= 10 | 12, 1/2) = (1 + 12 + 66) / 4096.
    correct_a, correct_b = _pairing(n_both=100, b=10, c=2, n_neither=5)
    larger = mcnemar_exact(correct_a, correct_b, "larger")
    assert larger["p"] == pytest.approx(79 / 4096, rel=1e-12)
    assert larger["p"] == pytest.approx(mcnemar_exact(correct_a, correct_b)["p"] / 2, rel=1e-12)
    # P(X <= 10) = 1 - P(X >= 11) = 1 - 13 / 4096: no evidence that a is worse.
    smaller = mcnemar_exact(correct_a, correct_b, "smaller")
    assert smaller["p"] == pytest.approx(1 - 13 / 4096, rel=1e-12)
    # "a larger than b" is "b smaller than a".
    assert mcnemar_exact(correct_b, correct_a, "smaller")["p"] == larger["p"]


def test_mcnemar_one_sided_without_disagreement_and_bad_alternative():
    correct = np.array([True, False, True])
    for alternative in ("larger", "smaller"):
        assert mcnemar_exact(correct, correct, alternative)["p"] == 1.0
    with pytest.raises(ValueError, match="alternative must be one of"):
        mcnemar_exact(correct, correct, "greater")


def test_holm_matches_statsmodels_and_skips_nan():
    rng = np.random.default_rng(5)
    p = rng.random(12) ** 3
    with_gaps = np.insert(p, [0, 4, 12], np.nan)
    adjusted = holm(with_gaps)
    assert np.isnan(adjusted[[0, 5, 14]]).all()
    expected = multipletests(p, method="holm")[1]  # family of 12, not 15
    assert adjusted[~np.isnan(with_gaps)] == pytest.approx(expected, rel=1e-12)


def test_holm_hand_example():
    # Sorted 0.01, 0.03, 0.04 times 3, 2, 1 = 0.03, 0.06, 0.04, then running maximum.
    adjusted = holm([0.01, 0.04, 0.03, np.nan])
    assert adjusted[:3] == pytest.approx([0.03, 0.06, 0.06], rel=1e-12)
    assert np.isnan(adjusted[3])
    assert holm([]).shape == (0,)


def test_holm_of_the_papers_five_p_values():
    # The five published comparisons with the baseline: none survives a family-wise 5 %.
    adjusted = holm([0.0732, 0.0406, 0.0406, 0.269, 0.213])
    assert adjusted == pytest.approx([0.2196, 0.203, 0.203, 0.426, 0.426], rel=1e-12)
    assert (adjusted > 0.05).all()


@pytest.mark.parametrize("bad", [[0.5, 1.2], [[0.1, 0.2]], [-0.1]])
def test_holm_rejects_non_p_values(bad):
    with pytest.raises(ValueError, match="p-values must lie in|1-D"):
        holm(bad)


def test_wilson_interval_against_statsmodels_and_by_hand():
    for k, n, level in [(1166, 1194, 0.95), (3, 47, 0.95), (47, 47, 0.9), (1188, 1241, 0.99)]:
        expected = proportion_confint(k, n, alpha=1 - level, method="wilson")
        assert wilson_interval(k, n, level) == pytest.approx(expected, rel=1e-12)
    # 0 of 47 healthy films: the upper bound is z^2 / (n + z^2), not 0 as Wald would say.
    z2 = norm.ppf(0.975) ** 2
    low, high = wilson_interval(0, 47)
    assert low == pytest.approx(0.0, abs=1e-15)
    assert high == pytest.approx(z2 / (47 + z2), rel=1e-12)
    assert round(high, 4) == 0.0756
    for args in [(5, 4), (-1, 4), (0, 0), (1, 4, 1.0)]:
        with pytest.raises(ValueError):
            wilson_interval(*args)


def test_paired_bootstrap_draws_the_same_resamples_as_metrics_json(two_models):
    # One resampling rule: with one seed, paired_bootstrap's interval for a model equals the
    # interval metrics.json stores for it, so the report's numbers agree with each other.
    y, prob_a, prob_b = two_models
    paired = paired_bootstrap(y, prob_a, prob_b, "f1_macro", n_resamples=300, seed=4)
    alone = metrics.bootstrap_intervals(y, prob_a, n_resamples=300, seed=4, metrics=["f1_macro"])
    assert paired["a_ci"] == (alone["f1_macro_ci_low"], alone["f1_macro_ci_high"])


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
