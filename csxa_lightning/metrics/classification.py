"""Test metrics computed from predictions alone (true label, probability of diseased).

metrics.json and the report are both derived from predictions.csv through these functions, so
the report can be rebuilt at any time without retraining. Positive class = diseased (1).

Conventions every number here follows (and the paper's published figures follow too):
- Precision of a class that is never predicted counts as 0, and so does the F1 of a class that
  is neither present nor predicted (scikit-learn's zero_division=0). A model that never answers
  "healthy" therefore gets precision_healthy = 0, not a missing value, and its weighted
  precision is the diseased precision times the diseased share.
- Sensitivity, specificity and balanced accuracy stay NaN when their class is absent: there is
  nothing to recall, and no convention makes that a number.
- Bootstrap intervals are percentile intervals from a stratified bootstrap (class counts fixed);
  `<metric>_undefined_resamples` counts the resamples in which the metric was undefined before
  the convention (precision / F1) or is NaN (AUROC, AUPRC and recalls need both classes).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import rankdata
from statsmodels.stats.proportion import proportion_confint

from csxa_lightning.metrics.calibration import calibration_metrics
from csxa_lightning.utils.errors import UserError

BOOTSTRAP_SEED_RULE = (
    "The bootstrap that produces a run's intervals is seeded with bootstrap_seed(run_seed), "
    "the identity of the run's training seed (cfg.seed), and uses the number of resamples "
    "stored beside it (bootstrap_resamples). metrics.json records both, so the report, or "
    "anyone else, recomputes identical intervals from predictions.csv."
)
# Why the identity: train.py already seeds metrics.json's bootstrap with cfg.seed, so the rule
# keeps every metrics.json written so far valid; the report must call
# metrics_with_intervals(..., seed=bootstrap_seed(run_seed)) rather than a fixed seed.
DEFAULT_RESAMPLES = 1000

# Everything derived from the confusion counts at one threshold, vectorised by
# `confusion_metrics`.
THRESHOLD_METRICS = (
    "accuracy",
    "balanced_accuracy",
    "sensitivity",
    "specificity",
    "precision_diseased",
    "precision_healthy",
    "precision_macro",
    "precision_weighted",
    "recall_macro",
    "f1_diseased",
    "f1_healthy",
    "f1_macro",
    "f1_weighted",
    "cohen_kappa",
    "tp",
    "tn",
    "fp",
    "fn",
)
# Every metric a bootstrap can resample (`metric_rows`): everything compute_metrics derives
# from the predictions, not n, threshold or the majority baseline, which the design fixes.
BOOTSTRAP_METRICS = THRESHOLD_METRICS + ("auroc", "auprc")
# Binomial proportions with a fixed denominator (all test films, the diseased ones, the healthy
# ones): metrics.json gives them Wilson score intervals, which need no resampling.
WILSON_METRICS = ("accuracy", "sensitivity", "specificity")
# The remaining metrics with a 95 % interval in metrics.json: percentile bootstrap.
INTERVAL_BOOTSTRAP_METRICS = (
    "balanced_accuracy",
    "precision_weighted",
    "f1_weighted",
    "f1_macro",
    "auroc",
    "auprc",
)


class NonFiniteProbabilityError(UserError):
    """Probabilities that are NaN or infinite: a diverged model's; no metric is computed."""


def check_probabilities(prob: np.ndarray) -> None:
    """Refuse non-finite probabilities: NaN >= threshold is false, so every NaN would count as
    healthy and the metrics would look plausible."""
    bad = ~np.isfinite(prob)
    if bad.any():
        raise NonFiniteProbabilityError(
            f"{int(bad.sum())} of {len(prob)} probabilities are not finite (e.g. "
            f"{prob[bad][0]}); the model diverged. No metric is computed from them: retrain "
            "with a lower model.optimizer.lr, or trainer.precision=32-true."
        )


def bootstrap_seed(run_seed: int) -> int:
    """The bootstrap seed of a run trained with `run_seed` (see BOOTSTRAP_SEED_RULE)."""
    if isinstance(run_seed, bool) or not isinstance(run_seed, int | np.integer) or run_seed < 0:
        raise ValueError(
            f"run_seed must be a non-negative integer (the run's cfg.seed), got {run_seed!r}"
        )
    return int(run_seed)


def _safe_div(num: np.ndarray, den: np.ndarray, fill: float = np.nan) -> np.ndarray:
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    return np.divide(num, den, out=np.full(np.broadcast(num, den).shape, fill), where=den > 0)


def confusion_counts(y: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, ...]:
    """(tp, tn, fp, fn) along the last axis (rows = resamples)."""
    tp = np.sum((pred == 1) & (y == 1), axis=-1)
    tn = np.sum((pred == 0) & (y == 0), axis=-1)
    fp = np.sum((pred == 1) & (y == 0), axis=-1)
    fn = np.sum((pred == 0) & (y == 1), axis=-1)
    return tp, tn, fp, fn


def confusion_metrics(
    tp: np.ndarray | int,
    tn: np.ndarray | int,
    fp: np.ndarray | int,
    fn: np.ndarray | int,
    zero_division: float = 0.0,
) -> dict[str, np.ndarray]:
    """THRESHOLD_METRICS from confusion counts, elementwise over arrays of counts.

    zero_division is the precision (and F1) of a class that is never predicted (and, for F1,
    also absent), as in scikit-learn: 0 by default, the paper's convention; pass np.nan to see
    where a value is undefined. Support weights of an absent class are 0, so an absent class
    never makes a weighted average undefined.
    """
    tp, tn, fp, fn = (np.asarray(c) for c in (tp, tn, fp, fn))
    n_pos, n_neg = tp + fn, tn + fp
    n = n_pos + n_neg
    sens, spec = _safe_div(tp, n_pos), _safe_div(tn, n_neg)
    prec_pos = _safe_div(tp, tp + fp, zero_division)
    prec_neg = _safe_div(tn, tn + fn, zero_division)
    f1_pos = _safe_div(2 * tp, 2 * tp + fp + fn, zero_division)
    f1_neg = _safe_div(2 * tn, 2 * tn + fn + fp, zero_division)
    w_pos, w_neg = _safe_div(n_pos, n), _safe_div(n_neg, n)
    # Cohen's kappa: observed agreement beyond the agreement expected by chance from the
    # marginals (predicted share x true share, per class); NaN where chance agreement is 1.
    observed = _safe_div(tp + tn, n)
    chance = _safe_div((tp + fp) * n_pos + (tn + fn) * n_neg, n * n)

    def weighted(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
        # where(): an absent class adds 0 even when its own value is undefined (0 * nan = nan).
        return np.where(w_pos > 0, w_pos * pos, 0.0) + np.where(w_neg > 0, w_neg * neg, 0.0)

    return {
        "accuracy": _safe_div(tp + tn, n),
        "balanced_accuracy": (sens + spec) / 2,
        "sensitivity": sens,
        "specificity": spec,
        "precision_diseased": prec_pos,
        "precision_healthy": prec_neg,
        "precision_macro": (prec_pos + prec_neg) / 2,
        "precision_weighted": weighted(prec_pos, prec_neg),
        "recall_macro": (sens + spec) / 2,
        "f1_diseased": f1_pos,
        "f1_healthy": f1_neg,
        "f1_macro": (f1_pos + f1_neg) / 2,
        "f1_weighted": weighted(f1_pos, f1_neg),
        "cohen_kappa": _safe_div(observed - chance, 1 - chance),
        "tp": tp,
        "tn": tn,
        "fp": fp,
        "fn": fn,
    }


def threshold_metrics(
    y: np.ndarray, pred: np.ndarray, zero_division: float = 0.0
) -> dict[str, np.ndarray]:
    """Confusion-based metrics, vectorised over a leading batch axis (rows = resamples)."""
    return confusion_metrics(*confusion_counts(y, pred), zero_division=zero_division)


def auroc_rows(y: np.ndarray, prob: np.ndarray) -> np.ndarray:
    """Mann-Whitney AUROC with ties counted half, vectorised over rows; NaN for one class."""
    ranks = rankdata(prob, axis=-1)
    n_pos = np.sum(y == 1, axis=-1)
    n_neg = np.sum(y == 0, axis=-1)
    rank_sum = np.sum(np.where(y == 1, ranks, 0.0), axis=-1)
    return _safe_div(rank_sum - n_pos * (n_pos + 1) / 2, n_pos * n_neg)


def auprc_rows(y: np.ndarray, prob: np.ndarray) -> np.ndarray:
    """Average precision (as sklearn's average_precision_score), vectorised over rows (2-D).

    AP = (1/n_pos) * sum over positives of the precision at the threshold equal to that
    positive's score; tied scores share one threshold, i.e. the precision at the END of their
    tie group in descending order. NaN for a row with only one class (sklearn warns and
    returns a meaningless number there).
    """
    order = np.argsort(-prob, axis=-1, kind="stable")
    p_sorted = np.take_along_axis(prob, order, axis=-1)
    y_sorted = np.take_along_axis(y, order, axis=-1)
    tp = np.cumsum(y_sorted, axis=-1)
    precision = tp / np.arange(1, prob.shape[-1] + 1)
    n = prob.shape[-1]
    is_end = np.ones_like(p_sorted, dtype=bool)
    is_end[:, :-1] = p_sorted[:, 1:] != p_sorted[:, :-1]
    end_idx = np.where(is_end, np.arange(n), n)
    end_idx = np.minimum.accumulate(end_idx[:, ::-1], axis=-1)[:, ::-1]
    prec_at_end = np.take_along_axis(precision, end_idx, axis=-1)
    n_pos = y_sorted.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ap = np.sum(prec_at_end * y_sorted, axis=-1) / n_pos
    return np.where((n_pos > 0) & (n_pos < n), ap, np.nan)


def metric_rows(
    y: np.ndarray,
    prob: np.ndarray,
    names: Sequence[str] = BOOTSTRAP_METRICS,
    threshold: float = 0.5,
    zero_division: float = 0.0,
) -> dict[str, np.ndarray]:
    """The metrics `names` (BOOTSTRAP_METRICS keys) per row of y, prob (resamples x images)."""
    unknown = sorted(set(names) - set(BOOTSTRAP_METRICS))
    if unknown:
        raise ValueError(f"unknown metrics {unknown}: choose from {BOOTSTRAP_METRICS}")
    out: dict[str, np.ndarray] = {}
    if set(names) & set(THRESHOLD_METRICS):
        rows = threshold_metrics(y, (prob >= threshold).astype(int), zero_division)
        out.update({k: rows[k].astype(float) for k in names if k in THRESHOLD_METRICS})
    if "auroc" in names:
        out["auroc"] = auroc_rows(y, prob)
    if "auprc" in names:
        out["auprc"] = auprc_rows(y, prob)
    return {k: out[k] for k in names}


def stratified_bootstrap_indices(y: np.ndarray, n_resamples: int, seed: int) -> np.ndarray:
    """Rows of image indices drawn with replacement within each class (class counts fixed, as
    pROC does), so no resample lacks a class the test set has. Diseased columns first."""
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be at least 1, got {n_resamples}")
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(y == label) for label in (1, 0)]
    parts = [rng.choice(g, size=(n_resamples, len(g))) for g in groups if len(g)]
    return np.concatenate(parts, axis=1)


def percentile_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of the finite values (NaN, NaN when none is finite)."""
    if not 0 < level < 1:
        raise ValueError(f"level must lie strictly between 0 and 1, got {level}")
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    if not len(finite):
        return float("nan"), float("nan")
    alpha = (1 - level) / 2
    low, high = np.quantile(finite, [alpha, 1 - alpha])
    return float(low), float(high)


def wilson_interval(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion successes / n (statsmodels' "wilson").

    Well-behaved near 0 and 1, unlike the Wald interval: 0 of 47 healthy films recognised
    gives (0, 0.0756), not (0, 0). Also importable from csxa_lightning.metrics.stats.
    """
    if n <= 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n and n > 0, got {successes} of {n}")
    if not 0 < level < 1:
        raise ValueError(f"level must lie strictly between 0 and 1, got {level}")
    low, high = proportion_confint(successes, n, alpha=1 - level, method="wilson")
    return float(low), float(high)


def compute_metrics(
    y_true: np.ndarray, prob_diseased: np.ndarray, threshold: float = 0.5
) -> dict[str, float]:
    """Point estimates: accuracy, per-class / macro / weighted precision, recall and F1,
    balanced accuracy, sensitivity, specificity, AUROC, AUPRC, and the majority baseline."""
    y = np.asarray(y_true, dtype=int)
    prob = np.asarray(prob_diseased, dtype=float)
    if y.shape != prob.shape or y.ndim != 1 or len(y) == 0:
        raise ValueError(f"need two equal-length 1-D arrays, got {y.shape} and {prob.shape}")
    check_probabilities(prob)
    out = {k: float(v[0]) for k, v in metric_rows(y[None], prob[None], threshold=threshold).items()}
    for key in ("tp", "tn", "fp", "fn"):
        out[key] = int(out[key])
    n_pos = int(y.sum())
    out.update(
        n=len(y),
        n_diseased=n_pos,
        n_healthy=len(y) - n_pos,
        threshold=threshold,
        # Always answering the larger class: the bar every model must clear (on the paper's test
        # counts, 1194 diseased of 1241, a model must beat 96.21 % accuracy).
        majority_accuracy=max(n_pos, len(y) - n_pos) / len(y),
    )
    return out


def bootstrap_intervals(
    y_true: np.ndarray,
    prob_diseased: np.ndarray,
    threshold: float = 0.5,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    level: float = 0.95,
    metrics: Sequence[str] = INTERVAL_BOOTSTRAP_METRICS,
) -> dict[str, float | int]:
    """Percentile intervals from a stratified bootstrap (class counts kept fixed, so no
    resample lacks a class). Keys per metric: <metric>_ci_low, <metric>_ci_high and
    <metric>_undefined_resamples (resamples where the metric was undefined: a class never
    predicted for precision, a missing class for recalls and AUROC/AUPRC). Precision and F1
    resamples enter the interval with the zero_division=0 convention; NaN resamples are left
    out of the interval."""
    y = np.asarray(y_true, dtype=int)
    prob = np.asarray(prob_diseased, dtype=float)
    check_probabilities(prob)
    idx = stratified_bootstrap_indices(y, n_resamples, seed)
    yb, pb = y[idx], prob[idx]
    values = metric_rows(yb, pb, metrics, threshold)
    # The same resamples without the convention: NaN marks where precision / F1 were undefined.
    raw = metric_rows(yb, pb, [m for m in metrics if m in THRESHOLD_METRICS], threshold, np.nan)
    out: dict[str, float | int] = {}
    for name in metrics:
        low, high = percentile_interval(values[name], level)
        out[f"{name}_ci_low"], out[f"{name}_ci_high"] = low, high
        out[f"{name}_undefined_resamples"] = int(np.sum(np.isnan(raw.get(name, values[name]))))
    return out


def accuracy_interval(correct: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for accuracy (well-behaved near 100 %, unlike the Wald interval)."""
    return wilson_interval(correct, n, level)


def metrics_with_intervals(
    y_true: np.ndarray,
    prob_diseased: np.ndarray,
    threshold: float = 0.5,
    seed: int = 0,
    n_resamples: int = DEFAULT_RESAMPLES,
    level: float = 0.95,
) -> dict[str, float | int | str]:
    """Everything metrics.json holds: point estimates plus intervals at `level`, flat keys.

    Accuracy, sensitivity and specificity get Wilson intervals (binomial proportions over all,
    the diseased and the healthy films), the other interval metrics a stratified percentile
    bootstrap seeded with `seed`; pass seed=bootstrap_seed(run_seed) (BOOTSTRAP_SEED_RULE).
    Calibration (brier_score, ece and its calibration_bins) comes from metrics/calibration.py.
    `<metric>_ci_method` names the method, `bootstrap_seed` and `bootstrap_resamples` let a
    reader recompute identical intervals, and `<metric>_undefined_resamples` counts the
    bootstrap resamples in which a metric was undefined (see bootstrap_intervals).
    """
    out: dict[str, float | int | str] = dict(compute_metrics(y_true, prob_diseased, threshold))
    successes_of = {
        "accuracy": (out["tp"] + out["tn"], out["n"]),
        "sensitivity": (out["tp"], out["tp"] + out["fn"]),
        "specificity": (out["tn"], out["tn"] + out["fp"]),
    }
    for name in WILSON_METRICS:
        successes, n = successes_of[name]
        # No film of the class: nothing to estimate (the point estimate is NaN as well).
        low, high = wilson_interval(successes, n, level) if n else (np.nan, np.nan)
        out[f"{name}_ci_low"], out[f"{name}_ci_high"] = low, high
    out.update(
        bootstrap_intervals(
            y_true, prob_diseased, threshold, n_resamples=n_resamples, seed=seed, level=level
        )
    )
    out.update({f"{name}_ci_method": "wilson" for name in WILSON_METRICS})
    out.update({f"{name}_ci_method": "bootstrap" for name in INTERVAL_BOOTSTRAP_METRICS})
    out.update(ci_level=level, bootstrap_seed=int(seed), bootstrap_resamples=int(n_resamples))
    out.update(calibration_metrics(y_true, prob_diseased))
    return out
