"""Calibration: Brier score and ECE against values worked by hand, and temperature scaling
fitted on over-confident scores."""

from __future__ import annotations

import numpy as np
import pytest

from csxa_lightning.metrics.calibration import (
    brier_score,
    calibration_metrics,
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
    reliability_table,
    with_temperature,
)

Y = np.array([1, 1, 0, 1, 0])
PROB = np.array([0.9, 0.8, 0.3, 0.15, 0.05])


def test_brier_score_by_hand():
    # (0.1^2 + 0.2^2 + 0.3^2 + 0.85^2 + 0.05^2) / 5 = (0.01+0.04+0.09+0.7225+0.0025)/5
    assert brier_score(Y, PROB) == pytest.approx(0.865 / 5)


def test_ece_by_hand_with_ten_bins():
    # bins: 0.05 -> [0,.1): observed 0, mean .05, gap .05 (1 film)
    #       0.15 -> [.1,.2): observed 1, mean .15, gap .85 (1 film)
    #       0.3  -> [.3,.4): observed 0, gap .3 (1 film)
    #       0.8  -> [.8,.9): observed 1, gap .2 (1 film)
    #       0.9  -> [.9,1]:  observed 1, gap .1 (1 film)
    assert expected_calibration_error(Y, PROB, bins=10) == pytest.approx(1.5 / 5)
    # two bins: [0,.5) holds 0.05, 0.15, 0.3 (observed 1/3, mean 0.5/3): gap 1/6, 3 films;
    # [.5,1] holds 0.8, 0.9 (observed 1, mean .85): gap .15, 2 films
    assert expected_calibration_error(Y, PROB, bins=2) == pytest.approx((3 / 6 + 0.3) / 5)


def test_reliability_table_counts_every_film_once_and_leaves_empty_bins_undefined():
    table = reliability_table(Y, PROB, bins=10)
    assert table["count"].sum() == len(Y)
    assert table["count"].tolist() == [1, 1, 0, 1, 0, 0, 0, 0, 1, 1]
    assert np.isnan(table["observed"][2]) and table["observed"][8] == 1.0
    assert table["low"][9] == pytest.approx(0.9) and table["high"][9] == 1.0
    assert reliability_table(np.array([1]), np.array([1.0]), bins=4)["count"][-1] == 1


def test_a_calibrated_model_has_a_small_ece_and_a_constant_one_has_its_gap():
    rng = np.random.default_rng(0)
    prob = rng.uniform(size=20000)
    y = (rng.uniform(size=prob.size) < prob).astype(int)
    assert expected_calibration_error(y, prob) < 0.02
    constant = np.full(1000, 0.9)
    y_half = np.arange(1000) % 2
    assert expected_calibration_error(y_half, constant) == pytest.approx(0.4)
    assert calibration_metrics(y_half, constant)["calibration_bins"] == 10


def test_temperature_scaling_softens_over_confident_scores_and_lowers_the_nll():
    rng = np.random.default_rng(1)
    true_prob = rng.uniform(0.05, 0.95, size=4000)
    y = (rng.uniform(size=true_prob.size) < true_prob).astype(int)
    # the true logits tripled: an over-confident model with a perfect ranking
    over_confident = with_temperature(true_prob, 1 / 3)
    temperature = fit_temperature(y, over_confident)
    assert temperature == pytest.approx(3.0, rel=0.1)
    fitted = with_temperature(over_confident, temperature)
    assert negative_log_likelihood(y, fitted) < negative_log_likelihood(y, over_confident) - 0.05
    # the ranking (and so AUROC) is unchanged
    assert (np.argsort(fitted, kind="stable") == np.argsort(over_confident, kind="stable")).all()


def test_temperature_needs_enough_films_of_each_class():
    with pytest.raises(ValueError, match="at least 20 validation films, this run has 8"):
        fit_temperature(np.arange(8) % 2, np.full(8, 0.9))
    with pytest.raises(ValueError, match="of each class, this run has 0 healthy"):
        fit_temperature(np.ones(30, dtype=int), np.full(30, 0.9))
    with pytest.raises(ValueError, match="of each class, this run has 4 healthy"):
        fit_temperature((np.arange(30) >= 4).astype(int), np.full(30, 0.9))


def test_a_fit_the_data_cannot_pin_down_ends_on_a_bound_and_is_flagged():
    """The issue's case: probabilities that carry no information about the labels. The
    likelihood is flattest at the largest temperature (every probability 0.5), so the search
    ends on its bound: a warning, not a calibration."""
    from csxa_lightning.metrics.calibration import TEMPERATURE_BOUNDS, temperature_at_bound

    y = np.arange(40) % 2
    noise = np.where(np.arange(40) % 4 < 2, 0.9, 0.1)  # as often right as wrong, confidently
    temperature = fit_temperature(y, noise)
    assert temperature == pytest.approx(TEMPERATURE_BOUNDS[1], rel=0.01)
    assert temperature_at_bound(temperature)
    assert not temperature_at_bound(3.0)
