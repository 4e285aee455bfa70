"""Threshold rules on fabricated validation scores give the threshold worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from csxa_lightning.metrics.thresholds import ThresholdRule, choose_threshold, parse_rule
from csxa_lightning.utils.errors import ConfigValueError

# 4 healthy, 6 diseased; called diseased when prob >= threshold
Y = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
PROB = np.array([0.1, 0.2, 0.35, 0.6, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95])


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("0.5", 0.5),
        (0.3, 0.3),
        # t=0.5: sens 5/6, spec 3/4 -> J 0.583; t=0.7: sens 4/6, spec 1 -> J 0.667 (best)
        ("youden", 0.7),
        # sens >= 0.95 needs all 6 diseased: the highest such threshold is 0.3
        ("sensitivity:0.95", 0.3),
        # sens >= 0.8 (5 of 6): the highest threshold keeping 5 is 0.5
        ("sensitivity:0.8", 0.5),
        # spec >= 0.9 needs all 4 healthy below: the lowest such threshold is 0.7
        ("specificity:0.90", 0.7),
        # spec >= 0.75 (3 of 4): 0.6 itself is called diseased, so 0.5 already keeps 3 healthy
        ("specificity:0.75", 0.5),
    ],
)
def test_each_rule_picks_the_threshold_worked_out_by_hand(setting, expected):
    assert choose_threshold(parse_rule(setting), Y, PROB) == pytest.approx(expected)


def test_rules_print_as_written():
    assert str(parse_rule("sensitivity:0.95")) == "sensitivity:0.95"
    assert str(parse_rule("youden")) == "youden" and str(parse_rule("0.5")) == "0.5"
    assert parse_rule("0.5") == ThresholdRule("fixed", 0.5)


@pytest.mark.parametrize("setting", ["youdn", "sensitivity", "sensitivity:1.5", "1.2", "spec:0.9"])
def test_a_bad_rule_is_one_line_naming_the_value_and_the_forms(setting):
    with pytest.raises(ConfigValueError, match=r"threshold=.*Use one of: threshold=0.5"):
        parse_rule(setting)


def test_a_rule_without_validation_films_is_refused():
    with pytest.raises(ConfigValueError, match="has none. Use data.val_fraction"):
        choose_threshold(parse_rule("youden"), None, None)
    with pytest.raises(ConfigValueError, match="only one"):
        choose_threshold(parse_rule("youden"), np.ones(3, dtype=int), np.full(3, 0.5))
    # a fixed threshold needs no validation slice
    assert choose_threshold(parse_rule("0.4"), None, None) == 0.4
