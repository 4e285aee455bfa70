"""The paper's published Table 1 as data, and what its figures imply about the test set.

Reddy et al. report accuracy, precision and F1 only. Those three numbers, printed to two
decimals, pin down the confusion matrix almost uniquely once the number of healthy test films
is known (`decode_paper_table`): that is how we know 47 healthy films were tested and how
few of them the published models recognised. `decode_published_row` does it for one row: from
a published accuracy, weighted precision and weighted F1 it finds every confusion matrix that
prints as those figures.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from csxa_lightning.metrics.classification import confusion_metrics


@dataclass(frozen=True)
class PublishedRow:
    """One row of Table 1. variant is our config name (conf/variant/<variant>.yaml); arch,
    crop and color are the config values that run it. p is the published one-sided
    z-test p-value against the baseline (NaN for the rows without one)."""

    title: str
    variant: str
    arch: str
    crop: str
    color: str
    accuracy_pct: float
    precision_weighted_pct: float
    f1_weighted_pct: float
    p: float


# THE PAPER'S PUBLISHED FIGURES (Table 1 of Reddy et al., 2026), copied from the paper: not our
# results. Precision and F1 are the
# support-weighted averages (the only reading that fits, see decode_paper_table).
PUBLISHED_N_TEST = 1241  # test films (25 % of 4963)
PUBLISHED_TABLE1: tuple[PublishedRow, ...] = (
    PublishedRow(
        "Original (ResNet50)", "original", "resnet50", "none", "none", 94.19, 93.08, 93.62, math.nan
    ),
    PublishedRow(
        "Original (VGG19)", "original_vgg19", "vgg19", "none", "none", 92.74, 92.89, 92.81, math.nan
    ),
    PublishedRow("Cropped", "cropped", "resnet50", "tight", "none", 95.48, 92.54, 93.99, 0.0732),
    PublishedRow(
        "Wide cropped", "wide_cropped", "resnet50", "wide", "none", 95.73, 93.09, 94.24, 0.0406
    ),
    PublishedRow("Colored", "colored", "resnet50", "none", "enhanced", 95.73, 92.55, 94.11, 0.0406),
    PublishedRow(
        "Colored, cropped",
        "colored_cropped",
        "resnet50",
        "tight",
        "enhanced",
        94.76,
        92.77,
        93.73,
        0.269,
    ),  # fmt: skip
    PublishedRow(
        "Colored, wide cropped",
        "colored_wide_cropped",
        "resnet50",
        "wide",
        "enhanced",
        94.92,
        92.52,
        93.70,
        0.213,
    ),  # fmt: skip
)


# The metrics decode_published_row derives for each matrix it finds (fractions, not percent).
DECODED_FRACTIONS = (
    "accuracy",
    "balanced_accuracy",
    "sensitivity",
    "specificity",
    "precision_weighted",
    "f1_weighted",
)


# decode_paper_table's columns after the published ones: the counts, then derived fractions.
MATRIX_COLUMNS = (
    "healthy_n",
    "diseased_n",
    "tn",
    "fp",
    "fn",
    "tp",
    *DECODED_FRACTIONS,
    "majority_accuracy",
)


def published_table() -> pd.DataFrame:
    """PUBLISHED_TABLE1 as a DataFrame, one row per published row, in the paper's order."""
    return pd.DataFrame([asdict(row) for row in PUBLISHED_TABLE1])


def decode_paper_table(
    healthy_counts: Iterable[int] = range(30, 66), rounding: str = "round_or_truncate"
) -> pd.DataFrame:
    """Every confusion matrix consistent with each published row (stats.decode_published_row).

    One line per (published row, consistent matrix): the published columns, then healthy_n,
    diseased_n, tn, fp, fn, tp and the derived fractions (accuracy, balanced_accuracy,
    sensitivity, specificity, precision_weighted, f1_weighted, majority_accuracy).
    `n_consistent` is how many matrices fit that row over all healthy_counts; a row that
    nothing fits still appears once, with n_consistent 0 and the matrix columns empty, so no
    published row silently disappears.
    """
    counts = list(healthy_counts)
    lines = []
    for row in PUBLISHED_TABLE1:
        matrices = decode_published_row(
            row.accuracy_pct,
            row.precision_weighted_pct,
            row.f1_weighted_pct,
            n_test=PUBLISHED_N_TEST,
            healthy_counts=counts,
            rounding=rounding,
        )
        published = {**asdict(row), "n_consistent": len(matrices)}
        lines += [{**published, **m} for m in matrices] or [published]
    columns = [*PublishedRow.__dataclass_fields__, "n_consistent", *MATRIX_COLUMNS]
    table = pd.DataFrame(lines).reindex(columns=columns)
    for key in MATRIX_COLUMNS[:6]:
        table[key] = table[key].astype("Int64")  # counts, missing where no matrix fits
    return table


# ------------------------------------------------------------------- a published row decoded

# How the paper may have shortened its figures (decode_published_row's `rounding`).
ROUNDING_RULES = ("round", "truncate", "round_or_truncate")


def shortened_range(value_pct: float, decimals: int, rounding: str) -> tuple[float, float, bool]:
    """(low, high, high_included): the exact percentages that print as value_pct."""
    unit = 10.0**-decimals
    low = value_pct if rounding == "truncate" else value_pct - unit / 2
    if rounding == "round":
        # A value exactly half-way prints either way (half-up, or half-to-even as Python and
        # numpy round): both neighbours are consistent with it.
        return low, value_pct + unit / 2, True
    return low, value_pct + unit, False


def prints_as(values_pct: np.ndarray, bounds: tuple[float, float, bool]) -> np.ndarray:
    # The tolerance absorbs floating-point error (~1e-13 here), far below any printed digit.
    tol = 1e-9
    low, high, high_included = bounds
    below_high = values_pct <= high + tol if high_included else values_pct < high - tol
    return (values_pct >= low - tol) & below_high


def decode_published_row(
    accuracy_pct: float,
    precision_pct: float,
    f1_pct: float,
    n_test: int = 1241,
    healthy_counts: Iterable[int] = range(30, 66),
    decimals: int = 2,
    *,
    rounding: str = "round_or_truncate",
) -> list[dict[str, int | float]]:
    """Every binary confusion matrix consistent with a published accuracy, support-weighted
    precision and support-weighted F1 (percent), for each number of healthy test films.

    Positive class = diseased (1), healthy = 0; tn = healthy films predicted healthy. For each
    h in healthy_counts (diseased = n_test - h) the search covers ALL matrices: the accuracy's
    admissible range fixes the total number correct k, so for each k the candidates are
    tn = 0..h with tp = k - tn, scored together with numpy. Precision of a class never
    predicted counts as 0 (zero_division=0), as in metrics.compute_metrics.

    `rounding` says how the paper shortened its figures to `decimals` places: "round" (a
    value exactly half-way may print either way), "truncate", or "round_or_truncate"
    (default). The default is needed because Table 1 does
    both: 1169 / 1241 = 94.198 % is printed 94.19 (truncated) while 1188 / 1241 = 95.729 % is
    printed 95.73 (rounded).

    Returns one dict per consistent matrix, ordered by healthy_n then tn: healthy_n,
    diseased_n, tn, fp, fn, tp, and as fractions accuracy, balanced_accuracy, sensitivity
    (diseased recall), specificity (healthy recall), precision_weighted, f1_weighted and
    majority_accuracy (always answering the larger class).
    """
    published = {"accuracy": accuracy_pct, "precision": precision_pct, "f1": f1_pct}
    counts = checked_decoding(published, n_test, healthy_counts, decimals, rounding)
    acc_range = shortened_range(accuracy_pct, decimals, rounding)
    prec_range = shortened_range(precision_pct, decimals, rounding)
    f1_range = shortened_range(f1_pct, decimals, rounding)
    # Numbers correct whose accuracy prints as published (a margin of 1, then filtered).
    k = np.arange(
        max(0, math.floor(acc_range[0] * n_test / 100) - 1),
        min(n_test, math.ceil(acc_range[1] * n_test / 100) + 1) + 1,
    )
    k = k[prints_as(100 * k / n_test, acc_range)]

    found = []
    for h in counts:
        d = n_test - h
        tn = np.repeat(np.arange(h + 1), len(k))
        tp = np.tile(k, h + 1) - tn
        keep = (tp >= 0) & (tp <= d)
        tn, tp = tn[keep], tp[keep]
        m = confusion_metrics(tp, tn, h - tn, d - tp)
        ok = prints_as(100 * m["precision_weighted"], prec_range) & prints_as(
            100 * m["f1_weighted"], f1_range
        )
        found += [decoded_matrix(h, d, int(tn[i]), int(tp[i]), m, i) for i in np.flatnonzero(ok)]
    return found


def checked_decoding(
    published: dict[str, float],
    n_test: int,
    healthy_counts: Iterable[int],
    decimals: int,
    rounding: str,
) -> list[int]:
    """The healthy counts to try, sorted; ValueError for arguments that cannot describe a
    published row (percentages outside [0, 100], counts outside 1..n_test - 1 ...)."""
    if rounding not in ROUNDING_RULES:
        raise ValueError(f"rounding must be one of {ROUNDING_RULES}, got {rounding!r}")
    if isinstance(decimals, bool) or not isinstance(decimals, int) or decimals < 0:
        raise ValueError(f"decimals must be a non-negative integer, got {decimals!r}")
    if n_test < 2:
        raise ValueError(f"n_test must be at least 2 (both classes), got {n_test}")
    for name, value in published.items():
        if not 0 <= value <= 100:
            raise ValueError(f"{name}_pct must be a percentage in [0, 100], got {value}")
    counts = sorted({int(h) for h in healthy_counts})
    bad = [h for h in counts if not 0 < h < n_test]
    if bad:
        raise ValueError(f"healthy counts must lie in 1..{n_test - 1} (n_test={n_test}): {bad}")
    return counts


def decoded_matrix(h: int, d: int, tn: int, tp: int, metrics: dict, i: int) -> dict:
    """One consistent matrix of decode_published_row: counts, and its fractions (entry i of
    the vectorised confusion_metrics)."""
    return {
        "healthy_n": h,
        "diseased_n": d,
        "tn": tn,
        "fp": h - tn,
        "fn": d - tp,
        "tp": tp,
        **{key: float(metrics[key][i]) for key in DECODED_FRACTIONS},
        "majority_accuracy": max(h, d) / (h + d),
    }
