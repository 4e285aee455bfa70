"""Test metrics computed from predictions alone (true label, probability of diseased).

metrics.json and the report are both derived from predictions.csv through these functions, so
the report can be rebuilt at any time without retraining. Positive class = diseased (1).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata
from sklearn.metrics import average_precision_score
from statsmodels.stats.proportion import proportion_confint

# Metrics that get a stratified-bootstrap 95 % interval in metrics.json.
BOOTSTRAP_METRICS = (
    "balanced_accuracy",
    "sensitivity",
    "specificity",
    "precision_weighted",
    "f1_weighted",
    "f1_macro",
    "auroc",
    "auprc",
)


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    return np.divide(num, den, out=np.full(np.broadcast(num, den).shape, np.nan), where=den > 0)


def _threshold_metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, np.ndarray]:
    """Confusion-based metrics, vectorised over a leading batch axis (rows = resamples)."""
    tp = np.sum((pred == 1) & (y == 1), axis=-1)
    tn = np.sum((pred == 0) & (y == 0), axis=-1)
    fp = np.sum((pred == 1) & (y == 0), axis=-1)
    fn = np.sum((pred == 0) & (y == 1), axis=-1)
    n_pos, n_neg = tp + fn, tn + fp
    n = n_pos + n_neg
    sens, spec = _safe_div(tp, n_pos), _safe_div(tn, n_neg)
    prec_pos, prec_neg = _safe_div(tp, tp + fp), _safe_div(tn, tn + fn)
    f1_pos = _safe_div(2 * tp, 2 * tp + fp + fn)
    f1_neg = _safe_div(2 * tn, 2 * tn + fn + fp)
    w_pos, w_neg = _safe_div(n_pos, n), _safe_div(n_neg, n)
    return {
        "accuracy": _safe_div(tp + tn, n),
        "balanced_accuracy": (sens + spec) / 2,
        "sensitivity": sens,
        "specificity": spec,
        "precision_diseased": prec_pos,
        "precision_healthy": prec_neg,
        "precision_macro": (prec_pos + prec_neg) / 2,
        "precision_weighted": w_pos * prec_pos + w_neg * prec_neg,
        "recall_macro": (sens + spec) / 2,
        "f1_diseased": f1_pos,
        "f1_healthy": f1_neg,
        "f1_macro": (f1_pos + f1_neg) / 2,
        "f1_weighted": w_pos * f1_pos + w_neg * f1_neg,
        "tp": tp,
        "tn": tn,
        "fp": fp,
        "fn": fn,
    }


def _auroc(y: np.ndarray, prob: np.ndarray) -> np.ndarray:
    """Mann-Whitney AUROC with ties counted half, vectorised over rows."""
    ranks = rankdata(prob, axis=-1)
    n_pos = np.sum(y == 1, axis=-1)
    n_neg = np.sum(y == 0, axis=-1)
    rank_sum = np.sum(np.where(y == 1, ranks, 0.0), axis=-1)
    return _safe_div(rank_sum - n_pos * (n_pos + 1) / 2, n_pos * n_neg)


def _auprc(y: np.ndarray, prob: np.ndarray) -> float:
    if y.min() == y.max():
        return float("nan")
    return float(average_precision_score(y, prob))


def compute_metrics(
    y_true: np.ndarray, prob_diseased: np.ndarray, threshold: float = 0.5
) -> dict[str, float]:
    """Point estimates: accuracy, per-class / macro / weighted precision, recall and F1,
    balanced accuracy, sensitivity, specificity, AUROC, AUPRC, and the majority baseline."""
    y = np.asarray(y_true, dtype=int)
    prob = np.asarray(prob_diseased, dtype=float)
    if y.shape != prob.shape or y.ndim != 1 or len(y) == 0:
        raise ValueError(f"need two equal-length 1-D arrays, got {y.shape} and {prob.shape}")
    pred = (prob >= threshold).astype(int)
    out = {k: float(v) for k, v in _threshold_metrics(y, pred).items()}
    for key in ("tp", "tn", "fp", "fn"):
        out[key] = int(out[key])
    out["auroc"] = float(_auroc(y, prob))
    out["auprc"] = _auprc(y, prob)
    n_pos = int(y.sum())
    out.update(
        n=len(y),
        n_diseased=n_pos,
        n_healthy=len(y) - n_pos,
        threshold=threshold,
        # Always answering the larger class: the bar every model must clear (paper: 96.21 %).
        majority_accuracy=max(n_pos, len(y) - n_pos) / len(y),
    )
    return out


def bootstrap_intervals(
    y_true: np.ndarray,
    prob_diseased: np.ndarray,
    threshold: float = 0.5,
    n_resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, float]:
    """Percentile intervals from a stratified bootstrap (class counts kept fixed, as pROC does,
    so no resample lacks a class). Keys: <metric>_ci_low / <metric>_ci_high."""
    y = np.asarray(y_true, dtype=int)
    prob = np.asarray(prob_diseased, dtype=float)
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    parts = [
        rng.choice(group, size=(n_resamples, len(group))) for group in (pos, neg) if len(group)
    ]
    idx = np.concatenate(parts, axis=1)
    yb, pb = y[idx], prob[idx]
    values = _threshold_metrics(yb, (pb >= threshold).astype(int))
    values["auroc"] = _auroc(yb, pb)
    values["auprc"] = np.array([_auprc(yb[i], pb[i]) for i in range(n_resamples)])
    alpha = (1 - level) / 2
    out = {}
    for name in BOOTSTRAP_METRICS:
        finite = values[name][np.isfinite(values[name])]
        low, high = np.quantile(finite, [alpha, 1 - alpha]) if len(finite) else (np.nan, np.nan)
        out[f"{name}_ci_low"], out[f"{name}_ci_high"] = float(low), float(high)
    return out


def accuracy_interval(correct: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for accuracy (well-behaved near 100 %, unlike the Wald interval)."""
    low, high = proportion_confint(correct, n, alpha=1 - level, method="wilson")
    return float(low), float(high)


def metrics_with_intervals(
    y_true: np.ndarray, prob_diseased: np.ndarray, threshold: float = 0.5, seed: int = 0
) -> dict[str, float]:
    """Everything metrics.json holds: point estimates plus 95 % intervals, flat keys."""
    out = compute_metrics(y_true, prob_diseased, threshold)
    out["accuracy_ci_low"], out["accuracy_ci_high"] = accuracy_interval(
        out["tp"] + out["tn"], out["n"]
    )
    out.update(bootstrap_intervals(y_true, prob_diseased, threshold, seed=seed))
    return out
