"""The report's power figures: the smallest difference a test set could detect."""

from __future__ import annotations

import math

import numpy as np
import pytest

from csxa_lightning.metrics.stats import (
    balanced_accuracy_detectable_difference,
    mcnemar_detectable_difference,
    mcnemar_exact,
    mcnemar_power,
)


def simulated_power(n, discordance, difference, sims, seed=0):
    """Share of simulated test sets of n paired Bernoulli outcomes on which the report's exact
    McNemar test (two-sided) rejects at 0.05."""
    rng = np.random.default_rng(seed)
    p_a_only = (discordance + difference) / 2  # a right, b wrong
    rejected = 0
    for _ in range(sims):
        u = rng.random(n)
        a_right = (u < p_a_only) | (u >= discordance)
        b_right = u >= p_a_only
        rejected += mcnemar_exact(a_right, b_right)["p"] <= 0.05
    return rejected / sims


@pytest.mark.parametrize(("n", "discordance"), [(200, 0.2), (75, 0.5)])
def test_mcnemar_power_matches_a_simulation_of_paired_outcomes(n, discordance):
    sims = 1500
    detectable = mcnemar_detectable_difference(n, discordance)
    for difference in (0.0, 0.5 * detectable, detectable):
        expected = mcnemar_power(n, discordance, difference)
        found = simulated_power(n, discordance, difference, sims)
        # four standard errors of the simulated share
        assert abs(found - expected) <= 4 * math.sqrt(expected * (1 - expected) / sims) + 1e-3
    # At the detectable difference the power is 80 % (to the bisection's tolerance).
    assert mcnemar_power(n, discordance, detectable) == pytest.approx(0.8, abs=0.01)


def test_no_difference_is_rejected_at_most_alpha_of_the_time():
    assert mcnemar_power(300, 0.3, 0.0) <= 0.05


def test_more_images_detect_smaller_differences():
    small, large = (mcnemar_detectable_difference(n, 0.1) for n in (300, 3000))
    assert large < small
    assert balanced_accuracy_detectable_difference(
        400, 4000, 0.1, 0.1
    ) < balanced_accuracy_detectable_difference(40, 4000, 0.1, 0.1)


def test_a_test_set_without_disagreement_detects_nothing():
    assert math.isnan(mcnemar_detectable_difference(100, 0.0))
    assert math.isnan(mcnemar_detectable_difference(10, 0.05))  # too few images for any gain
    assert math.isnan(balanced_accuracy_detectable_difference(20, 20, 0.0, 0.0))


def test_balanced_accuracy_power_agrees_with_mcnemar_for_equal_classes():
    # Equal classes and equal disagreement: the same normal approximation as Connor's for
    # McNemar on all images, which the exact computation approaches for large n.
    approx = balanced_accuracy_detectable_difference(2000, 2000, 0.1, 0.1)
    exact = mcnemar_detectable_difference(4000, 0.1)
    assert approx == pytest.approx(exact, rel=0.05)


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="discordance"):
        mcnemar_power(100, 0.1, 0.2)
    with pytest.raises(ValueError, match="n must"):
        mcnemar_detectable_difference(0, 0.1)
