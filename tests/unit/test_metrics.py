"""metrics.json's numbers against scikit-learn, the paper's majority baseline, the intervals
(Wilson, stratified bootstrap) and the bootstrap seed rule."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm
from statsmodels.stats.proportion import proportion_confint

from csxa_lightning.metrics.classification import (
    accuracy_interval,
    auprc_rows,
    bootstrap_seed,
    compute_metrics,
    confusion_counts,
    confusion_metrics,
    metrics_with_intervals,
    stratified_bootstrap_indices,
    wilson_interval,
)


@pytest.fixture
def scored():
    rng = np.random.default_rng(0)
    y = np.array([0] * 47 + [1] * 1194)
    prob = np.clip(0.35 * y + rng.random(len(y)) * 0.65, 0, 1)
    return y, prob


def test_point_estimates_match_scikit_learn(scored):
    y, prob = scored
    pred = (prob >= 0.5).astype(int)
    m = compute_metrics(y, prob)
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert m["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred))
    assert m["sensitivity"] == pytest.approx(skm.recall_score(y, pred))
    assert m["specificity"] == pytest.approx(skm.recall_score(y, pred, pos_label=0))
    assert m["precision_diseased"] == pytest.approx(skm.precision_score(y, pred))
    assert m["precision_weighted"] == pytest.approx(
        skm.precision_score(y, pred, average="weighted")
    )
    assert m["f1_weighted"] == pytest.approx(skm.f1_score(y, pred, average="weighted"))
    assert m["f1_macro"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert m["cohen_kappa"] == pytest.approx(skm.cohen_kappa_score(y, pred))
    assert m["auroc"] == pytest.approx(skm.roc_auc_score(y, prob))
    assert m["auprc"] == pytest.approx(skm.average_precision_score(y, prob))
    assert m["tp"] + m["fn"] == 1194 and m["tn"] + m["fp"] == 47


def test_majority_baseline_is_the_papers_96_21():
    y = np.array([0] * 47 + [1] * 1194)
    m = compute_metrics(y, np.ones(len(y)))
    assert round(100 * m["majority_accuracy"], 2) == 96.21
    assert m["accuracy"] == m["majority_accuracy"]
    assert m["balanced_accuracy"] == 0.5 and m["specificity"] == 0.0


def test_intervals_bracket_the_estimates(scored):
    y, prob = scored
    m = metrics_with_intervals(y, prob, seed=0)
    for name in ("accuracy", "balanced_accuracy", "auroc", "f1_weighted", "specificity"):
        assert m[f"{name}_ci_low"] <= m[name] <= m[f"{name}_ci_high"], name
    # 47 healthy images: specificity is far less certain than sensitivity
    spec_width = m["specificity_ci_high"] - m["specificity_ci_low"]
    sens_width = m["sensitivity_ci_high"] - m["sensitivity_ci_low"]
    assert spec_width > 3 * sens_width


def test_wilson_interval_of_the_papers_best_accuracy():
    low, high = accuracy_interval(1188, 1241)
    assert (round(low, 4), round(high, 4)) == (0.9446, 0.9672)  # Wilson, z = 1.96, by hand


def _never_healthy_but(y: np.ndarray, recognised: int) -> np.ndarray:
    """Scores of a model that calls every film diseased except the first `recognised` healthy
    ones: the kind of model the paper published (0 to 3 of 47 healthy films recognised)."""
    prob = np.ones(len(y))
    prob[np.flatnonzero(y == 0)[:recognised]] = 0.0
    return prob


def test_precision_of_a_class_never_predicted_counts_as_zero():
    y = np.array([0] * 47 + [1] * 1194)
    prob = _never_healthy_but(y, 0)
    pred = (prob >= 0.5).astype(int)
    m = compute_metrics(y, prob)
    assert m["precision_healthy"] == 0.0
    for average, key in (("macro", "precision_macro"), ("weighted", "precision_weighted")):
        assert m[key] == pytest.approx(
            skm.precision_score(y, pred, average=average, zero_division=0), rel=1e-12
        )
        f1_key = key.replace("precision", "f1")
        assert m[f1_key] == pytest.approx(
            skm.f1_score(y, pred, average=average, zero_division=0), rel=1e-12
        )
    # The weighted precision is then the diseased precision times the diseased share.
    assert m["precision_weighted"] == pytest.approx(1194 / 1241 * 1194 / 1241, rel=1e-12)


def test_bootstrap_intervals_equal_a_direct_bootstrap_with_scikit_learn(scored):
    # Rebuild the percentile intervals from the recorded seed and resample count with sklearn's
    # own metrics (zero_division=0): any reader can recompute metrics.json's intervals.
    y, prob = scored
    prob = np.where(y == 0, prob + 0.42, prob)  # few healthy films predicted healthy
    m = metrics_with_intervals(y, prob, seed=bootstrap_seed(11), n_resamples=200)
    assert (m["bootstrap_seed"], m["bootstrap_resamples"]) == (11, 200)
    idx = stratified_bootstrap_indices(y, m["bootstrap_resamples"], m["bootstrap_seed"])
    rows = {"precision_weighted": [], "f1_macro": [], "balanced_accuracy": []}
    for i in idx:
        yb, pred = y[i], (prob[i] >= 0.5).astype(int)
        rows["precision_weighted"].append(
            skm.precision_score(yb, pred, average="weighted", zero_division=0)
        )
        rows["f1_macro"].append(skm.f1_score(yb, pred, average="macro", zero_division=0))
        rows["balanced_accuracy"].append(skm.balanced_accuracy_score(yb, pred))
    for name, values in rows.items():
        expected = np.quantile(values, [0.025, 0.975])
        assert (m[f"{name}_ci_low"], m[f"{name}_ci_high"]) == pytest.approx(expected, rel=1e-12)


def test_undefined_precision_resamples_are_counted():
    # One healthy film recognised: a resample misses it (so never predicts healthy) with
    # probability (46/47)^47 = 0.364; those resamples are the undefined ones.
    y = np.array([0] * 47 + [1] * 1194)
    prob = _never_healthy_but(y, 1)
    m = metrics_with_intervals(y, prob, seed=2, n_resamples=1000)
    idx = stratified_bootstrap_indices(y, 1000, 2)
    film = np.flatnonzero(y == 0)[0]
    expected = int(np.sum(~(idx == film).any(axis=1)))
    assert 300 < expected < 430
    assert m["precision_weighted_undefined_resamples"] == expected
    # F1, recalls, AUROC and AUPRC are defined in every resample: both classes are present.
    for name in ("f1_weighted", "f1_macro", "balanced_accuracy", "auroc", "auprc"):
        assert m[f"{name}_undefined_resamples"] == 0, name
    # The undefined resamples still enter the interval (as precision_healthy = 0), whose
    # lower end is then the never-healthy model's weighted precision.
    assert m["precision_weighted_ci_low"] == pytest.approx((1194 / 1241) ** 2, rel=1e-12)


def test_one_class_test_set_leaves_auroc_and_specificity_undefined():
    y = np.ones(30, dtype=int)
    prob = np.linspace(0, 1, 30)
    m = metrics_with_intervals(y, prob, n_resamples=50)
    for name in ("auroc", "auprc", "balanced_accuracy"):
        assert m[f"{name}_undefined_resamples"] == 50, name
        assert np.isnan(m[f"{name}_ci_low"]) and np.isnan(m[name]), name
    assert np.isnan(m["specificity"]) and np.isnan(m["specificity_ci_low"])
    assert (m["sensitivity_ci_low"], m["sensitivity_ci_high"]) == wilson_interval(15, 30)


def test_sensitivity_and_specificity_use_wilson_intervals():
    y = np.array([0] * 47 + [1] * 1194)
    prob = _never_healthy_but(y, 3)
    prob[np.flatnonzero(y == 1)[:28]] = 0.0  # 1166 of 1194 diseased: the paper's baseline
    m = metrics_with_intervals(y, prob)
    assert (m["sensitivity_ci_low"], m["sensitivity_ci_high"]) == pytest.approx(
        proportion_confint(1166, 1194, method="wilson"), rel=1e-12
    )
    assert (m["specificity_ci_low"], m["specificity_ci_high"]) == pytest.approx(
        proportion_confint(3, 47, method="wilson"), rel=1e-12
    )
    assert round(m["specificity_ci_high"], 4) == 0.1716  # 3 of 47: as low as 6 %, at most 17 %
    assert m["sensitivity_ci_method"] == m["specificity_ci_method"] == "wilson"
    assert m["accuracy_ci_method"] == "wilson" and m["auroc_ci_method"] == "bootstrap"


def test_bootstrap_seed_rule_reproduces_a_runs_intervals(scored):
    y, prob = scored
    run_seed = 5
    first = metrics_with_intervals(y, prob, seed=bootstrap_seed(run_seed), n_resamples=300)
    again = metrics_with_intervals(
        y, prob, seed=first["bootstrap_seed"], n_resamples=first["bootstrap_resamples"]
    )
    other = metrics_with_intervals(y, prob, seed=bootstrap_seed(run_seed + 1), n_resamples=300)
    assert first == again
    assert first["auroc_ci_low"] != other["auroc_ci_low"]
    # train.py seeds metrics.json's bootstrap with cfg.seed: the rule must agree with it.
    assert bootstrap_seed(run_seed) == run_seed
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="run_seed must be a non-negative integer"):
            bootstrap_seed(bad)


def test_vectorised_auprc_matches_scikit_learn():
    rng = np.random.default_rng(3)
    y = (rng.random((6, 200)) < 0.4).astype(int)
    prob = np.round(rng.random((6, 200)), 1)  # coarse scores: many ties
    expected = [skm.average_precision_score(y[i], prob[i]) for i in range(6)]
    assert auprc_rows(y, prob) == pytest.approx(expected, rel=1e-12)


def test_cohens_kappa_kernel_matches_scikit_learn_on_every_row():
    rng = np.random.default_rng(3)
    y = (rng.random((50, 40)) < 0.3).astype(int)
    pred = np.where(rng.random((50, 40)) < 0.8, y, 1 - y)
    pred[0] = y[0]  # perfect agreement
    pred[1] = 1  # one class predicted
    kappa = confusion_metrics(*confusion_counts(y, pred))["cohen_kappa"]
    assert kappa.shape == (50,)
    expected = [skm.cohen_kappa_score(a, b) for a, b in zip(y, pred, strict=True)]
    np.testing.assert_allclose(kappa, expected)
    assert kappa[0] == 1.0 and kappa[1] == 0.0


def test_cohens_kappa_is_undefined_when_chance_agreement_is_certain():
    y = np.ones(10, dtype=int)
    assert np.isnan(confusion_metrics(*confusion_counts(y, y))["cohen_kappa"])
