"""Decision thresholds chosen by a rule on the validation slice, then applied to the test set.

    0.5 (any number)    that value; needs no validation slice
    youden              maximizes sensitivity + specificity - 1
    sensitivity:0.95    the highest threshold that keeps sensitivity >= 0.95 (the most
                        specific such threshold)
    specificity:0.90    the lowest threshold that keeps specificity >= 0.90 (the most
                        sensitive such threshold)

A film is called diseased when prob_diseased >= threshold, as in metrics/classification.py. With 96
% of CSXA's films diseased, 0.5 is an arbitrary point of the ROC curve; choosing it on the test
set would make every test metric optimistic, so rules are only ever fitted on validation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from csxa_lightning.utils.errors import ConfigValueError

RULES = ("youden", "sensitivity", "specificity")
EXAMPLES = "threshold=0.5, threshold=youden, threshold=sensitivity:0.95, threshold=specificity:0.90"


@dataclass(frozen=True)
class ThresholdRule:
    """A parsed `threshold=` setting: kind is "fixed" or one of RULES."""

    kind: str
    value: float | None = None  # the fixed threshold, or the sensitivity/specificity target

    @property
    def needs_validation(self) -> bool:
        return self.kind != "fixed"

    def __str__(self) -> str:
        if self.kind == "fixed":
            return f"{self.value:g}"
        return self.kind if self.value is None else f"{self.kind}:{self.value:g}"


def parse_rule(setting: str | float, key: str = "threshold") -> ThresholdRule:
    """`threshold=` as written in the config -> ThresholdRule; ConfigValueError names the key,
    the value and the accepted forms."""
    text = str(setting).strip()
    problem = None
    try:
        value = float(text)
    except ValueError:
        kind, _, target = text.partition(":")
        if kind == "youden" and not target:
            return ThresholdRule("youden")
        if kind in ("sensitivity", "specificity"):
            try:
                goal = float(target)
            except ValueError:
                goal = None
            if goal is not None and 0 < goal <= 1:
                return ThresholdRule(kind, goal)
            problem = f"{kind} needs a target between 0 and 1 after the colon"
    else:
        if 0 <= value <= 1:
            return ThresholdRule("fixed", value)
        problem = "a fixed threshold is a probability between 0 and 1"
    raise ConfigValueError(
        f"{key}={setting!r}: {problem or 'not a threshold rule'}. Use one of: {EXAMPLES}."
    )


def candidate_thresholds(prob: np.ndarray) -> np.ndarray:
    """Every threshold that changes a call: each distinct score, plus one above the highest
    (every film healthy). Ascending."""
    scores = np.unique(np.asarray(prob, dtype=float))
    return np.append(scores, np.nextafter(scores[-1], np.inf))


def rates(y: np.ndarray, prob: np.ndarray, thresholds: np.ndarray) -> tuple[np.ndarray, ...]:
    """(sensitivity, specificity) at each threshold (prob >= t is diseased)."""
    called = prob[None, :] >= thresholds[:, None]
    sens = (called & (y == 1)).sum(axis=1) / max(int((y == 1).sum()), 1)
    spec = (~called & (y == 0)).sum(axis=1) / max(int((y == 0).sum()), 1)
    return sens, spec


def choose_threshold(rule: ThresholdRule, y_val: np.ndarray | None, prob_val=None) -> float:
    """The threshold the rule picks on the validation films (label, prob_diseased)."""
    if not rule.needs_validation:
        return float(rule.value)
    if y_val is None or prob_val is None or len(y_val) == 0:
        raise ConfigValueError(
            f"threshold={rule} is chosen on the validation slice, and this run has none. Use "
            "data.val_fraction=0.1 (or protocol=strict), or a fixed threshold=0.5."
        )
    y, prob = np.asarray(y_val, dtype=int), np.asarray(prob_val, dtype=float)
    if len(np.unique(y)) < 2:
        raise ConfigValueError(
            f"threshold={rule} needs both classes among the {len(y)} validation films, which "
            "hold only one. Use a larger data.val_fraction, or a fixed threshold=0.5."
        )
    thresholds = candidate_thresholds(prob)
    sens, spec = rates(y, prob, thresholds)
    if rule.kind == "youden":
        return float(thresholds[np.argmax(sens + spec - 1)])  # ties: the lowest threshold
    if rule.kind == "sensitivity":
        # sensitivity falls as the threshold rises: the last one still meeting the target
        return float(thresholds[np.flatnonzero(sens >= rule.value)[-1]])
    # specificity rises with the threshold: the first one meeting the target
    return float(thresholds[np.flatnonzero(spec >= rule.value)[0]])
