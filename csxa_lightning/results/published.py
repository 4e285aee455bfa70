"""What the paper's own figures imply, computed from them (paper_tables.py writes it): its
Table 1 decoded into the confusion matrices its rounded figures allow, with its p-values
Holm-adjusted, and the smallest gains its test set could detect. Every input is a published
figure (metrics/paper.py), labelled as the paper's where it is typed in."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from csxa_lightning.metrics.paper import PUBLISHED_N_TEST, decode_paper_table, published_table
from csxa_lightning.metrics.stats import (
    balanced_accuracy_detectable_difference,
    holm,
    mcnemar_detectable_difference,
)

# The paper's setting: the baseline's published accuracy (the paper's figure), its largest
# claimed accuracy (Wide cropped and Colored, 95.73 %: the paper's figure), and the decoded
# baseline matrix's class recalls (TN 3 of 47 healthy, TP 1166 of 1194 diseased).
PAPER_BASELINE_ACCURACY = 0.9419
PAPER_BEST_ACCURACY = 0.9573
PAPER_HEALTHY = 47
PAPER_BASELINE_TN = 3
PAPER_BASELINE_TP = 1166
# Shares of films on which a variant and the baseline disagree: the paper does not publish it.
PAPER_DISCORDANCES = (0.02, 0.04, 0.06, 0.08)
# How close the bisection brings the largest discordance at which a gain has 80 % power.
DISCORDANCE_TOLERANCE = 1e-5


def decoded_paper() -> DecodedPaper:
    """The paper's Table 1, decoded (paper.decode_paper_table), and the published p-values
    Holm-adjusted for the five comparisons."""
    matrices = decode_paper_table()
    found = matrices.dropna(subset=["tn"])
    resnet = found[found["arch"] == "resnet50"]
    published = published_table()
    adjusted = holm(published["p"].to_numpy())
    return DecodedPaper(
        matrices=matrices,
        resnet_healthy_counts=tuple(sorted(set(resnet["healthy_n"].astype(int)))),
        resnet_tn_range=(int(resnet["tn"].min()), int(resnet["tn"].max())),
        resnet_balanced_accuracy_range=(
            resnet["balanced_accuracy"].min(),
            resnet["balanced_accuracy"].max(),
        ),
        below_majority=bool((found["accuracy"] < found["majority_accuracy"]).all()),
        gains_from_diseased=gains_from_diseased(resnet),
        holm_adjusted=tuple(
            (title, p)
            for title, p in zip(published["title"], adjusted, strict=True)
            if not pd.isna(p)
        ),
    )


def paper_power() -> PaperPower:
    """The smallest gains the paper's test set detects, by the functions the report uses. The
    discordance (share of films on which a variant and the baseline disagree) is not
    published, so it is given for several values and for independent errors at the
    baseline's accuracy, 2 p (1 - p)."""
    p = PAPER_BASELINE_ACCURACY
    independent = 2 * p * (1 - p)
    assumed = [(d, "") for d in PAPER_DISCORDANCES] + [(independent, " (independent errors)")]
    n_diseased = PUBLISHED_N_TEST - PAPER_HEALTHY
    specificity = PAPER_BASELINE_TN / PAPER_HEALTHY
    sensitivity = PAPER_BASELINE_TP / n_diseased
    psi_h, psi_d = (2 * r * (1 - r) for r in (specificity, sensitivity))
    claimed = PAPER_BEST_ACCURACY - p
    return PaperPower(
        accuracy_rows=tuple(
            (psi, note, mcnemar_detectable_difference(PUBLISHED_N_TEST, psi))
            for psi, note in assumed
        ),
        specificity=specificity,
        sensitivity=sensitivity,
        discordance_healthy=psi_h,
        discordance_diseased=psi_d,
        detectable_balanced_accuracy=balanced_accuracy_detectable_difference(
            PAPER_HEALTHY, n_diseased, psi_h, psi_d
        ),
        claimed_gain=claimed,
        largest_discordance=largest_discordance(PUBLISHED_N_TEST, claimed, independent),
        independent_discordance=independent,
        needed_gain=mcnemar_detectable_difference(PUBLISHED_N_TEST, independent),
    )


@dataclass(frozen=True, eq=False)  # a DataFrame has no plain equality: compare by identity
class DecodedPaper:
    """The paper's Table 1 decoded: every matrix that prints as a published row, and what the
    ResNet50 rows' matrices say together."""

    matrices: pd.DataFrame  # decode_paper_table(): one line per (published row, matrix)
    resnet_healthy_counts: tuple[int, ...]  # the healthy test film counts the ResNet50 rows fit
    resnet_tn_range: tuple[int, int]  # healthy films recognised, fewest and most
    resnet_balanced_accuracy_range: tuple[float, float]
    below_majority: bool  # no decoded model beats always answering the larger class
    gains_from_diseased: bool  # see gains_from_diseased
    holm_adjusted: tuple[tuple[str, float], ...]  # (published row, Holm-adjusted p) with a p


@dataclass(frozen=True)
class PaperPower:
    """What the paper's test set (n = 1241, 47 healthy) detects with 80 % power at
    alpha = 0.05."""

    # (discordance, note, detectable difference in accuracy) per assumed discordance
    accuracy_rows: tuple[tuple[float, str, float], ...]
    specificity: float  # of the decoded baseline
    sensitivity: float
    discordance_healthy: float  # independent errors at the decoded class recalls
    discordance_diseased: float
    detectable_balanced_accuracy: float
    claimed_gain: float  # the paper's largest claimed gain in accuracy
    largest_discordance: float  # at which the claimed gain still has 80 % power
    independent_discordance: float  # independent errors at the baseline's accuracy
    needed_gain: float  # detectable difference at the independent discordance


def largest_discordance(n: int, gain: float, highest: float) -> float:
    """The largest discordance at which the exact McNemar test detects `gain` with 80 % power
    on n films: the detectable difference grows with the discordance, so bisection between
    the gain itself (the least discordance a gain can have) and `highest`."""
    low, high = gain, highest
    while high - low > DISCORDANCE_TOLERANCE:
        mid = 0.5 * (low + high)
        low, high = (mid, high) if mcnemar_detectable_difference(n, mid) <= gain else (low, mid)
    return low


def gains_from_diseased(resnet: pd.DataFrame) -> bool:
    """Whether each decoded ResNet50 variant has more true positives than the decoded baseline
    and no more true negatives (one matrix per row, as the decoding finds)."""
    base = resnet[resnet["variant"] == "original"]
    others = resnet[resnet["variant"] != "original"]
    if len(base) != 1 or others.empty:
        return False
    return bool(
        (others["tp"] > base["tp"].iloc[0]).all() and (others["tn"] <= base["tn"].iloc[0]).all()
    )
