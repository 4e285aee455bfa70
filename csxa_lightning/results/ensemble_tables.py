"""The sweep report's ensemble section, written from results/ensembles.py's numbers: each
variant's ensemble over its seeds beside its members' mean, and its tests against the
baseline's ensemble of as many members. Nothing here computes a statistic."""

from __future__ import annotations

from csxa_lightning.results.ensembles import Ensembles
from csxa_lightning.results.formatting import (
    Column,
    field_of,
    markdown_table,
    pct,
    pct_ci,
    pval,
    ratio,
    run_label,
    with_interval,
)

ENSEMBLE_NOTE = (
    "Each variant trained over several seeds, as one model: the mean of its members' "
    "probabilities of diseased (decided at the mean of their thresholds), scored from their "
    "saved predictions.csv on the same test films, no model run again. Beside each, the mean of "
    "its members' own scores. The tests compare it with the baseline's ensemble of as many "
    "members (McNemar, Holm-adjusted over the ensembles; Δ balanced accuracy with its paired "
    "bootstrap interval). Brier score: lower is better."
)

ENSEMBLE_TABLE = (
    Column("variant", field_of("label")),
    Column("members", field_of("members")),
    Column("balanced accuracy [95 % CI]", with_interval("balanced_accuracy"), pct_ci),
    Column("members' mean balanced accuracy", field_of("members_balanced_accuracy_mean"), pct),
    Column("AUROC [95 % CI]", with_interval("auroc"), pct_ci),
    Column("members' mean AUROC", field_of("members_auroc_mean"), pct),
    Column("Brier score", field_of("brier_score"), ratio),
    Column("members' mean Brier score", field_of("members_brier_score_mean"), ratio),
    Column(
        "Δ balanced accuracy vs baseline ensemble [95 % CI]",
        with_interval(
            "d_balanced_accuracy_vs_baseline",
            "d_balanced_accuracy_ci_low",
            "d_balanced_accuracy_ci_high",
        ),
        pct_ci,
    ),
    Column("McNemar p (Holm)", field_of("p_mcnemar_vs_baseline_holm"), pval),
)


def ensemble_markdown(ensembles: Ensembles) -> list[str]:
    """The section's parts: its heading, note, table and why a variant has no ensemble."""
    parts = ["## Ensembles over seeds", ENSEMBLE_NOTE]
    if len(ensembles.table):
        rows = [
            {**row, "label": run_label(row["variant"], bool(row["baseline"]), row["repeat"])}
            for row in ensembles.table.to_dict("records")
        ]
        parts.append(markdown_table(ENSEMBLE_TABLE, rows))
    parts += [f"- No ensemble: {why}." for why in ensembles.skipped]
    return parts
