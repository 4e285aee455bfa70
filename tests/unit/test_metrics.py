"""metrics.json's numbers against scikit-learn, and the paper's majority baseline."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from csxa_lightning.metrics import accuracy_interval, compute_metrics, metrics_with_intervals


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
