"""Whether the probabilities mean what they say: Brier score, expected calibration error, the
reliability table behind the diagram, and temperature scaling.

Pure functions of (label, prob_diseased) arrays, like metrics/classification.py. A calibrated
model's films scored 0.8 are diseased 80 % of the time; a model can rank perfectly (AUROC 1) and
still be badly calibrated, which matters as soon as a probability is read as a risk.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import expit, logit

# Equal-width bins of prob_diseased over [0, 1]; the ECE's value depends on it, so it is
# recorded beside the ECE (calibration_bins) and named in the report.
DEFAULT_BINS = 10
# Probabilities are clipped this far from 0 and 1 before taking logits: a softmax in float32
# rounds to exactly 0 or 1 for confident films, whose logit would be infinite.
PROB_EPS = 1e-7
# Temperatures searched (log-uniform bounds): from 20x sharper to 100x flatter than the model.
TEMPERATURE_BOUNDS = (0.05, 100.0)
# The fewest validation films, in all and of each class, a temperature is fitted on. One
# parameter still needs both classes seen several times: on 8 films the likelihood is flattest
# at the upper bound (every probability near 0.5), a "calibration" that erases the model.
MIN_TEMPERATURE_FILMS = 20
MIN_TEMPERATURE_FILMS_PER_CLASS = 5
# A fitted temperature within this factor of a bound sits on it: the search stopped there.
AT_BOUND_FACTOR = 1.01


def checked(y_true: np.ndarray, prob: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true, dtype=int)
    p = np.asarray(prob, dtype=float)
    if y.shape != p.shape or y.ndim != 1 or len(y) == 0:
        raise ValueError(f"need two equal-length 1-D arrays, got {y.shape} and {p.shape}")
    return y, p


def brier_score(y_true: np.ndarray, prob: np.ndarray) -> float:
    """Mean squared difference between prob_diseased and the 0/1 label (0 is perfect; always
    answering the diseased share d scores d(1 - d))."""
    y, p = checked(y_true, prob)
    return float(np.mean((p - y) ** 2))


def bin_of(prob: np.ndarray, bins: int) -> np.ndarray:
    """The equal-width bin (0..bins-1) of each probability; 1.0 falls in the last bin."""
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    return np.minimum((np.asarray(prob, dtype=float) * bins).astype(int), bins - 1)


def reliability_table(y_true: np.ndarray, prob: np.ndarray, bins: int = DEFAULT_BINS) -> dict:
    """Per equal-width bin: its edges, film count, mean prob_diseased and observed diseased
    share (NaN for an empty bin). The reliability diagram plots observed against mean."""
    y, p = checked(y_true, prob)
    which = bin_of(p, bins)
    count = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_prob = np.bincount(which, weights=p, minlength=bins) / count
        observed = np.bincount(which, weights=y, minlength=bins) / count
    edges = np.linspace(0.0, 1.0, bins + 1)
    return {
        "low": edges[:-1],
        "high": edges[1:],
        "count": count,
        "mean_prob": mean_prob,
        "observed": observed,
    }


def expected_calibration_error(
    y_true: np.ndarray, prob: np.ndarray, bins: int = DEFAULT_BINS
) -> float:
    """Sum over equal-width bins of (films in bin / films) x |observed share - mean prob| of
    the diseased class (Guo et al. 2017, on prob_diseased rather than the top-class
    confidence: in a two-class problem the two agree up to the bin boundaries)."""
    table = reliability_table(y_true, prob, bins)
    filled = table["count"] > 0
    gaps = np.abs(table["observed"][filled] - table["mean_prob"][filled])
    return float(np.sum(table["count"][filled] * gaps) / np.sum(table["count"]))


def with_temperature(prob: np.ndarray, temperature: float) -> np.ndarray:
    """prob_diseased after dividing the two-class logit margin by temperature: >1 softens,
    <1 sharpens, 1 leaves it unchanged; the ranking (AUROC) never changes."""
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    p = np.clip(np.asarray(prob, dtype=float), PROB_EPS, 1 - PROB_EPS)
    return expit(logit(p) / temperature)


def negative_log_likelihood(y_true: np.ndarray, prob: np.ndarray) -> float:
    """Mean negative log-likelihood of the labels (probabilities clipped by PROB_EPS)."""
    y, p = checked(y_true, prob)
    p = np.clip(p, PROB_EPS, 1 - PROB_EPS)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)))


def fit_temperature(y_true: np.ndarray, prob: np.ndarray) -> float:
    """The temperature that minimizes the negative log-likelihood of (y_true, prob): Guo et
    al.'s temperature scaling, fitted on the validation slice, never on the test set. One
    parameter, searched over log(temperature) within TEMPERATURE_BOUNDS (scipy's bounded
    Brent), so it cannot overfit a small slice the way Platt's two parameters can."""
    y, p = checked(y_true, prob)
    problem = temperature_data_problem(y)
    if problem is not None:
        raise ValueError(problem)
    bounds = np.log(TEMPERATURE_BOUNDS)
    found = minimize_scalar(
        lambda log_t: negative_log_likelihood(y, with_temperature(p, float(np.exp(log_t)))),
        bounds=tuple(bounds),
        method="bounded",
    )
    return float(np.exp(found.x))


def temperature_data_problem(y_true: np.ndarray) -> str | None:
    """Why a temperature cannot be fitted on these validation labels (too few films, or too few
    of a class: MIN_TEMPERATURE_FILMS, MIN_TEMPERATURE_FILMS_PER_CLASS), or None."""
    y = np.asarray(y_true, dtype=int)
    counts = {name: int((y == label).sum()) for label, name in ((0, "healthy"), (1, "diseased"))}
    if len(y) < MIN_TEMPERATURE_FILMS:
        return (
            f"temperature scaling needs at least {MIN_TEMPERATURE_FILMS} validation films, "
            f"this run has {len(y)}"
        )
    short = [f"{n} {name}" for name, n in counts.items() if n < MIN_TEMPERATURE_FILMS_PER_CLASS]
    if short:
        return (
            f"temperature scaling needs at least {MIN_TEMPERATURE_FILMS_PER_CLASS} validation "
            f"films of each class, this run has {' and '.join(short)}"
        )
    return None


def temperature_at_bound(temperature: float) -> bool:
    """Whether a fitted temperature sits on TEMPERATURE_BOUNDS (the search ended there: the
    likelihood still improved beyond it, and the value is not a fit)."""
    low, high = TEMPERATURE_BOUNDS
    return temperature <= low * AT_BOUND_FACTOR or temperature >= high / AT_BOUND_FACTOR


def calibration_metrics(
    y_true: np.ndarray, prob: np.ndarray, bins: int = DEFAULT_BINS
) -> dict[str, float | int]:
    """metrics.json's calibration keys: brier_score, ece and the bin count it used."""
    return {
        "brier_score": brier_score(y_true, prob),
        "ece": expected_calibration_error(y_true, prob, bins),
        "calibration_bins": int(bins),
    }
