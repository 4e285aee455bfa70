"""Test metrics broken down by gender code and age band.

Reporting guidelines for medical AI (CLAIM, TRIPOD+AI) ask whether a model works equally well
for every group of patients. The caller gives each film's gender code and age (CSXA's file names
carry them: data.csxa.stem_patients). CSXA documents the gender code only as 0 or 1, so the
groups are named by the code, never guessed as sexes. Films without a code or an age (an
external set) fall in an "unknown" group.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from csxa_lightning.metrics.classification import compute_metrics, wilson_interval

# Age bands by their lower edges: <40, 40-59, >=60.
DEFAULT_AGE_EDGES = (40, 60)
# A metric of a subgroup is shown only when the films it is computed on number at least this
# many; below it the count is shown and the number left out (an interval over 3 films says
# nothing, and a point estimate without it misleads).
DEFAULT_MIN_COUNT = 10
UNKNOWN = "unknown"


def age_band(age: float | None, edges: tuple[int, ...] = DEFAULT_AGE_EDGES) -> str:
    """'<40', '40-59', '>=60' for the default edges; UNKNOWN for a missing age."""
    if age is None or pd.isna(age):
        return UNKNOWN
    edges = tuple(sorted(edges))
    if age < edges[0]:
        return f"<{edges[0]}"
    for low, high in zip(edges, edges[1:], strict=False):
        if low <= age < high:
            return f"{low}-{high - 1}"
    return f">={edges[-1]}"


def patient_groups(
    patients: pd.DataFrame, edges: tuple[int, ...] = DEFAULT_AGE_EDGES
) -> pd.DataFrame:
    """gender ('gender 0', 'gender 1' or UNKNOWN) and age_band of each film, from patients'
    gender code (text, NaN when unknown) and age (NaN when unknown)."""
    gender = patients["gender"].map(lambda g: UNKNOWN if pd.isna(g) else f"gender {g}")
    ages = pd.to_numeric(patients["age"], errors="coerce")
    return pd.DataFrame(
        {"gender": gender, "age_band": [age_band(a, edges) for a in ages]}, index=patients.index
    )


def band_order(bands: list[str], edges: tuple[int, ...]) -> list[str]:
    every = [age_band(edges[0] - 1, edges)]
    every += [age_band(low, edges) for low in sorted(edges)]
    return [b for b in every + [UNKNOWN] if b in bands]


def subgroup_table(
    predictions: pd.DataFrame,
    patients: pd.DataFrame,
    threshold: float = 0.5,
    edges: tuple[int, ...] = DEFAULT_AGE_EDGES,
    min_count: int = DEFAULT_MIN_COUNT,
) -> pd.DataFrame:
    """One row per subgroup (every gender code, every age band, then all films): its counts,
    and accuracy, sensitivity and specificity with Wilson intervals and AUROC, each NaN where
    the films it is computed on number fewer than min_count (AUROC: either class). The
    subgroups of one attribute add up to all films. patients: each film's gender code and age,
    aligned with predictions (patient_groups)."""
    groups = patient_groups(patients, edges)
    rows = []
    for attribute in ("gender", "age_band"):
        values = sorted(groups[attribute].unique())
        if attribute == "age_band":
            values = band_order(values, edges)
        for value in values:
            part = predictions[groups[attribute] == value]
            rows.append(group_row(attribute, value, part, threshold, min_count))
    rows.append(group_row("all", "all films", predictions, threshold, min_count))
    return pd.DataFrame(rows)


def group_row(
    attribute: str, value: str, part: pd.DataFrame, threshold: float, min_count: int
) -> dict:
    y = part["label"].to_numpy(dtype=int)
    prob = part["prob_diseased"].to_numpy(dtype=float)
    n_diseased, n_healthy = int(y.sum()), int(len(y) - y.sum())
    row = {
        "attribute": attribute,
        "group": value,
        "n": len(y),
        "n_diseased": n_diseased,
        "n_healthy": n_healthy,
    }
    metrics = compute_metrics(y, prob, threshold) if len(y) else {}
    proportions = {
        "accuracy": (metrics.get("tp", 0) + metrics.get("tn", 0), len(y)),
        "sensitivity": (metrics.get("tp", 0), n_diseased),
        "specificity": (metrics.get("tn", 0), n_healthy),
    }
    for name, (successes, n) in proportions.items():
        shown = n >= min_count
        row[name] = metrics[name] if shown else np.nan
        low, high = wilson_interval(successes, n) if shown else (np.nan, np.nan)
        row[f"{name}_ci_low"], row[f"{name}_ci_high"] = low, high
    both = min(n_diseased, n_healthy) >= min_count
    row["auroc"] = metrics["auroc"] if both else np.nan
    return row
