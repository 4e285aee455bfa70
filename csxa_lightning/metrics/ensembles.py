"""Combining the probabilities of several models of one film: the arithmetic of an ensemble,
shared by predict and evaluate (ckpt=[a,b,c]) and by the sweep report's ensemble rows (from the
members' saved predictions.csv). Pure: arrays in, arrays out.

- mean: the average of the members' (calibrated) probabilities of diseased, as MONAI's
  MeanEnsemble averages its members' outputs;
- vote: each member first calls the film at its own decision threshold, then the ensemble's
  score is the fraction of members calling it diseased, as MONAI's VoteEnsemble counts votes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ENSEMBLE_METHODS = ("mean", "vote")
# A vote's decision: diseased when at least half of the members say so. With an even number of
# members a tie counts as diseased: a film half the models would refer is referred (the class a
# screen must not miss); with an odd number no tie can happen.
VOTE_THRESHOLD = 0.5


@dataclass(frozen=True)
class EnsembleScore:
    """The ensemble's score of each film (mean probability, or fraction of diseased votes), the
    threshold its decision uses (pred = score >= threshold), and how that threshold was set."""

    score: np.ndarray
    threshold: float
    threshold_rule: str


def checked_members(probabilities, thresholds) -> tuple[np.ndarray, np.ndarray]:
    """(M, N) probabilities and (M,) thresholds as float arrays; ValueError when they do not
    describe the same members, or a value is not a probability."""
    prob = np.asarray(probabilities, dtype=float)
    limits = np.asarray(thresholds, dtype=float)
    if prob.ndim != 2 or limits.shape != (prob.shape[0],):
        raise ValueError(
            f"an ensemble needs (members, films) probabilities and one threshold per member; got "
            f"probabilities of shape {prob.shape} and thresholds of shape {limits.shape}"
        )
    if prob.shape[0] < 1:
        raise ValueError("an ensemble needs at least one member")
    for name, values in (("probability", prob), ("threshold", limits)):
        if not np.all(np.isfinite(values)) or values.min() < 0 or values.max() > 1:
            raise ValueError(
                f"every member's {name} must lie in [0, 1]; got values from "
                f"{np.nanmin(values):g} to {np.nanmax(values):g}"
            )
    return prob, limits


def mean_ensemble(probabilities, thresholds) -> EnsembleScore:
    """The mean probability of diseased. Its threshold is the mean of the members' thresholds:
    0.5 when every member uses the default (a threshold fitted for one model has no exact
    counterpart for their average; the mean is stated, not hidden, in threshold_rule)."""
    prob, limits = checked_members(probabilities, thresholds)
    same = bool(np.all(limits == limits[0]))
    rule = (
        f"the members' threshold {limits[0]:g}"
        if same
        else "the mean of the members' thresholds (" + ", ".join(f"{t:g}" for t in limits) + ")"
    )
    return EnsembleScore(prob.mean(axis=0), float(limits.mean()), rule)


def vote_ensemble(probabilities, thresholds) -> EnsembleScore:
    """The fraction of members that call the film diseased, each at its own threshold (its run's
    decision rule applies before voting); diseased with at least half of the votes."""
    prob, limits = checked_members(probabilities, thresholds)
    votes = prob >= limits[:, None]
    rule = f"a majority of {len(limits)} members' votes (a tie counts as diseased)"
    return EnsembleScore(votes.mean(axis=0), VOTE_THRESHOLD, rule)


def ensemble_score(probabilities, thresholds, method: str = "mean") -> EnsembleScore:
    """The ensemble of the members' probabilities by method (ENSEMBLE_METHODS)."""
    if method == "mean":
        return mean_ensemble(probabilities, thresholds)
    if method == "vote":
        return vote_ensemble(probabilities, thresholds)
    raise ValueError(f"ensemble={method!r}: choose one of {', '.join(ENSEMBLE_METHODS)}")
