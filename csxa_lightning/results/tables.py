"""The sweep report's markdown tables, written from the numbers comparisons.py computed: Table 1
in the paper's layout, the second table with what the paper does not show, the summary across
repetitions, samples and steps, and the notes on undefined resamples and comparisons not made.
Nothing here computes a statistic."""

from __future__ import annotations

import pandas as pd

from csxa_lightning.metrics.classification import INTERVAL_BOOTSTRAP_METRICS
from csxa_lightning.results.comparisons import Majority
from csxa_lightning.results.formatting import (
    Column,
    counts,
    field_of,
    markdown_table,
    pct,
    pct_ci,
    pval,
    ratio,
    seed_tag,
    with_interval,
)
from csxa_lightning.results.repeats import REPEAT_METRICS

TABLE1 = (
    Column("variant", field_of("label")),
    Column("model", field_of("model")),
    Column("accuracy", field_of("accuracy"), pct),
    Column("precision (weighted)", field_of("precision_weighted"), pct),
    Column("recall (weighted)", field_of("accuracy"), pct),  # weighted recall is accuracy
    Column("F1 (weighted)", field_of("f1_weighted"), pct),
    Column("precision (macro)", field_of("precision_macro"), pct),
    Column("recall (macro)", field_of("recall_macro"), pct),
    Column("F1 (macro)", field_of("f1_macro"), pct),
    Column("p (z-test)", field_of("p_ztest_vs_baseline"), pval),
    Column("p (z-test, Holm)", field_of("p_ztest_vs_baseline_holm"), pval),
)

TABLE2 = (
    Column("variant", field_of("label")),
    Column("balanced accuracy [95 % CI]", with_interval("balanced_accuracy"), pct_ci),
    Column("sensitivity", with_interval("sensitivity"), pct_ci),
    Column("specificity", with_interval("specificity"), pct_ci),
    Column("AUROC", with_interval("auroc"), pct_ci),
    Column("AUPRC", with_interval("auprc"), pct_ci),
    Column("Cohen's κ", field_of("cohen_kappa"), ratio),
    Column("McNemar p (two-sided)", field_of("p_mcnemar_vs_baseline"), pval),
    Column("McNemar p (one-sided)", field_of("p_mcnemar_one_sided"), pval),
    Column("McNemar p (two-sided, Holm)", field_of("p_mcnemar_vs_baseline_holm"), pval),
    Column(
        "Δ balanced accuracy vs baseline [95 % CI]",
        with_interval(
            "d_balanced_accuracy_vs_baseline",
            "d_balanced_accuracy_ci_low",
            "d_balanced_accuracy_ci_high",
        ),
        pct_ci,
    ),
    Column("detectable Δ accuracy (80 % power)", field_of("detectable_d_accuracy"), pct),
    Column(
        "detectable Δ balanced accuracy (80 % power)",
        field_of("detectable_d_balanced_accuracy"),
        pct,
    ),
    Column("test healthy / diseased", lambda row: (row["n_healthy"], row["n_diseased"]), counts),
)


def table1_markdown(table: pd.DataFrame, majority: Majority) -> str:
    """The paper's Table 1 layout, one row per run and the majority row."""
    return markdown_table(TABLE1, table_rows(table, majority))


def table2_markdown(table: pd.DataFrame, majority: Majority) -> str:
    """What the paper does not show: intervals, paired tests, the class counts."""
    return markdown_table(TABLE2, table_rows(table, majority))


def table_rows(table: pd.DataFrame, majority: Majority) -> list[dict]:
    """The run table's rows, then the majority row; "label" names each row in the first
    column."""
    rows = [
        {**row, "label": f"{row['variant']}{seed_tag(table, row['repeat'])}"}
        for row in table.to_dict("records")
    ]
    return rows + [{**majority.metrics, "label": majority.title, "model": "—"}]


def repeats_markdown(repeats: pd.DataFrame) -> str:
    """Mean ± sd over repetitions (seeds and/or cross-validation folds), and the paired t-test
    across them against the baseline (repeats.repeat_summary)."""
    lines = [
        "| variant | repetitions | accuracy | balanced accuracy | AUROC "
        "| paired t-test p (balanced accuracy vs baseline) |",
        "|---|---|---|---|---|---|",
    ]
    for r in repeats.to_dict("records"):
        cells = [
            f"{100 * r[f'{metric}_mean']:.2f} ± {100 * r[f'{metric}_sd']:.2f}"
            for metric in REPEAT_METRICS
        ]
        lines.append(
            f"| {r['variant']} | {r['repetitions']} | {' | '.join(cells)} "
            f"| {pval(r['p_paired_ttest'])} |"
        )
    return "\n".join(lines)


def training_markdown(table: pd.DataFrame) -> str:
    """Samples per epoch and optimizer steps: enhanced images come in two channel orders, so
    those variants train on twice the samples and take twice the steps per epoch and per
    learning-rate stage (StepLR halves the rate every 5 epochs, not every N steps)."""
    lines = [
        "| variant | samples per epoch | optimizer steps |",
        "|---|---|---|",
    ]
    for r in table.itertuples():
        samples = "—" if pd.isna(r.train_samples) else f"{int(r.train_samples)}"
        steps = "—" if pd.isna(r.optimizer_steps) else f"{int(r.optimizer_steps)}"
        lines.append(f"| {r.variant}{seed_tag(table, r.repeat)} | {samples} | {steps} |")
    return "\n".join(lines)


def undefined_markdown(table: pd.DataFrame) -> str | None:
    """Which bootstrap intervals rest on resamples whose value was undefined: a precision or F1
    where a class is never predicted (counted as 0 by the convention, and kept), or a value
    that has no definition at all (left out of the percentiles)."""
    notes = []
    for r in table.itertuples():
        undefined = [
            f"{name} {getattr(r, f'{name}_undefined_resamples')}"
            for name in INTERVAL_BOOTSTRAP_METRICS
            if getattr(r, f"{name}_undefined_resamples") > 0
        ]
        if undefined:
            notes.append(
                f"- {r.variant}{seed_tag(table, r.repeat)}: {', '.join(undefined)} of "
                f"{r.bootstrap_resamples} resamples"
            )
    if not notes:
        return None
    return (
        "Bootstrap resamples in which a metric was undefined (precision and F1: counted as 0 "
        "by the convention above and kept; other metrics: left out of the interval):\n\n"
        + "\n".join(notes)
    )


def not_compared_markdown(table: pd.DataFrame) -> str | None:
    rows = table[table["not_compared_because"].fillna("") != ""]
    if rows.empty:
        return None
    return "\n".join(
        f"- {r.variant}{seed_tag(table, r.repeat)}: not compared with the baseline: "
        f"{r.not_compared_because}"
        for r in rows.itertuples()
    )
