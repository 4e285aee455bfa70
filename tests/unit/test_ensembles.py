"""The arithmetic of an ensemble (metrics/ensembles.py), against values worked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from csxa_lightning.metrics.ensembles import ensemble_score, mean_ensemble, vote_ensemble

# Three members, four films (rows: members).
PROB = [
    [0.90, 0.20, 0.55, 0.40],
    [0.70, 0.10, 0.35, 0.60],
    [0.80, 0.60, 0.45, 0.20],
]


def test_the_mean_of_three_runs_probabilities():
    combined = mean_ensemble(PROB, [0.5, 0.5, 0.5])
    # film 1: (0.9 + 0.7 + 0.8) / 3 = 0.8; film 2: (0.2 + 0.1 + 0.6) / 3 = 0.3;
    # film 3: (0.55 + 0.35 + 0.45) / 3 = 0.45; film 4: (0.4 + 0.6 + 0.2) / 3 = 0.4
    np.testing.assert_allclose(combined.score, [0.8, 0.3, 0.45, 0.4], atol=1e-12)
    assert combined.threshold == 0.5 and combined.threshold_rule == "the members' threshold 0.5"


def test_a_mean_ensemble_of_fitted_thresholds_uses_their_mean_and_says_so():
    combined = mean_ensemble(PROB, [0.3, 0.5, 0.4])
    assert combined.threshold == pytest.approx(0.4)  # (0.3 + 0.5 + 0.4) / 3
    assert "mean of the members' thresholds (0.3, 0.5, 0.4)" in combined.threshold_rule


def test_a_vote_applies_each_members_threshold_before_counting():
    # Member thresholds 0.5, 0.3, 0.7. Votes (prob >= own threshold):
    # member 1: 0.9 y, 0.2 n, 0.55 y, 0.4 n; member 2: 0.7 y, 0.1 n, 0.35 y, 0.6 y;
    # member 3: 0.8 y, 0.6 n, 0.45 n, 0.2 n -> fractions 3/3, 0/3, 2/3, 1/3.
    combined = vote_ensemble(PROB, [0.5, 0.3, 0.7])
    np.testing.assert_allclose(combined.score, [1, 0, 2 / 3, 1 / 3])
    assert combined.threshold == 0.5
    assert (combined.score >= combined.threshold).tolist() == [True, False, True, False]


def test_a_tie_of_an_even_ensemble_counts_as_diseased():
    combined = vote_ensemble([[0.9], [0.1]], [0.5, 0.5])
    assert combined.score.tolist() == [0.5] and combined.score[0] >= combined.threshold


def test_one_member_is_that_member():
    combined = ensemble_score([PROB[0]], [0.42], "mean")
    np.testing.assert_array_equal(combined.score, PROB[0])
    assert combined.threshold == 0.42


@pytest.mark.parametrize(
    ("prob", "thresholds", "message"),
    [
        (PROB, [0.5, 0.5], r"shape \(3, 4\) and thresholds of shape \(2,\)"),
        ([[0.5, 1.2]], [0.5], "probability must lie in \\[0, 1\\]; got values from 0.5 to 1.2"),
        ([[0.5, np.nan]], [0.5], "probability must lie in"),
    ],
)
def test_members_that_do_not_match_are_refused(prob, thresholds, message):
    with pytest.raises(ValueError, match=message):
        mean_ensemble(prob, thresholds)


def test_an_unknown_method_names_the_choices():
    with pytest.raises(ValueError, match="ensemble='median': choose one of mean, vote"):
        ensemble_score(PROB, [0.5] * 3, "median")
