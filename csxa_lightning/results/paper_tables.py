"""The paper's own figures as the report and the README show them: its Table 1 decoded, and the
power of its test set. published.py computes both; the functions here only write them, except
the two on top, which compute and write in one call for the README's commands."""

from __future__ import annotations

import pandas as pd

from csxa_lightning.metrics.paper import PUBLISHED_N_TEST
from csxa_lightning.results.formatting import pct, pval
from csxa_lightning.results.published import DecodedPaper, PaperPower, decoded_paper, paper_power


def decoded_paper_markdown() -> str:
    """The report's section "The paper's table, decoded", computed now."""
    return decoded_table_markdown(decoded_paper())


def paper_power_markdown() -> str:
    """The power of the paper's test set, as the README shows it, computed now."""
    return power_table_markdown(paper_power())


def decoded_table_markdown(decoded: DecodedPaper) -> str:
    """The paper's Table 1, decoded: the confusion matrices its rounded accuracy, weighted
    precision and weighted F1 allow (paper.decode_paper_table), and what they imply. Every
    number here is computed from the published figures, which are the paper's."""
    text = [
        "A binary confusion matrix on n test films is pinned down by accuracy, "
        "support-weighted precision and weighted F1 once the class counts are known. The paper "
        f"prints them to two decimals (n = {PUBLISHED_N_TEST}); every integer matrix whose "
        "figures round (or are cut off) to the published ones is listed, for 30 to 65 healthy "
        "test films.",
        matrices_markdown(decoded.matrices),
        decoded_conclusions(decoded),
    ]
    return "\n\n".join(text)


def matrices_markdown(matrices: pd.DataFrame) -> str:
    """One line per (published row, matrix that prints as it); a row nothing fits says so."""
    lines = [
        "| published row | accuracy / precision / F1 (the paper's) | healthy test films "
        "| TN / FP / FN / TP | balanced accuracy | sensitivity | specificity "
        "| majority baseline |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in matrices.itertuples():
        published = (
            f"{r.accuracy_pct:.2f} / {r.precision_weighted_pct:.2f} / {r.f1_weighted_pct:.2f}"
        )
        if pd.isna(r.tn):
            lines.append(f"| {r.title} | {published} | none of 30–65 fits | | | | | |")
            continue
        lines.append(
            f"| {r.title} | {published} | {r.healthy_n} | {r.tn} / {r.fp} / {r.fn} / {r.tp} "
            f"| {pct(r.balanced_accuracy)} | {pct(r.sensitivity)} | {pct(r.specificity)} "
            f"| {pct(r.majority_accuracy)} |"
        )
    return "\n".join(lines)


def decoded_conclusions(decoded: DecodedPaper) -> str:
    """What the ResNet50 rows' matrices say together, and the Holm-adjusted p-values."""
    tn_low, tn_high = decoded.resnet_tn_range
    bal_low, bal_high = decoded.resnet_balanced_accuracy_range
    adjusted = ", ".join(f"{title} {pval(p)}" for title, p in decoded.holm_adjusted)
    return (
        f"The ResNet50 rows fit {', '.join(map(str, decoded.resnet_healthy_counts))} healthy "
        f"test films and no other count from 30 to 65. Their models recognise {tn_low} to "
        f"{tn_high} of the healthy films: balanced accuracy {pct(bal_low)} to {pct(bal_high)} %, "
        "where 50 % is chance. "
        + (
            "No published model beats always answering the larger class (its accuracy is the "
            "majority baseline column). "
            if decoded.below_majority
            else ""
        )
        + (
            "Every claimed accuracy gain over the baseline comes from diseased films called "
            "diseased more often; no variant recognises more healthy films than the baseline. "
            if decoded.gains_from_diseased
            else ""
        )
        + "Holm-adjusted for the five comparisons, the published p-values become: "
        f"{adjusted}."
    )


def power_table_markdown(power: PaperPower) -> str:
    """The smallest gains the paper's test set (n = 1241, 47 healthy) detects with 80 % power
    at alpha = 0.05 (published.paper_power), for several discordances."""
    rows = [
        "| films on which variant and baseline disagree | detectable Δ accuracy (80 % power) |",
        "|---|---|",
    ]
    rows += [
        f"| {pct(psi)} %{note} | {pct(detectable)} points |"
        for psi, note, detectable in power.accuracy_rows
    ]
    return "\n\n".join(
        [
            "\n".join(rows),
            f"Balanced accuracy, with independent errors at the decoded baseline's class "
            f"recalls (specificity {pct(power.specificity)} %, sensitivity "
            f"{pct(power.sensitivity)} %, so {pct(power.discordance_healthy)} % of the healthy "
            f"and {pct(power.discordance_diseased)} % of the diseased films discordant): "
            f"detectable Δ {pct(power.detectable_balanced_accuracy)} points.",
            f"The paper's largest claimed gain is {pct(power.claimed_gain)} points of accuracy "
            f"(95.73 against 94.19 %, the paper's figures). The exact McNemar test detects "
            f"it with 80 % power only if the variant and the baseline disagree on at most "
            f"{pct(power.largest_discordance)} % of the test films; with independent errors "
            f"they would disagree on {pct(power.independent_discordance)} %, where "
            f"{pct(power.needed_gain)} points would be needed.",
        ]
    )
