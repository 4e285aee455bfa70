"""The sweep report's markdown tables, written from the numbers comparisons.py computed: Table 1
in the paper's layout, what the paper does not show (each run's intervals, then its paired tests
against the baseline: two tables, so that each fits a page), the summary across repetitions,
samples and steps, and the notes on degenerate models, undefined resamples and comparisons not
made. Every table names the baseline's row "(baseline)". Nothing here computes a statistic."""

from __future__ import annotations

import pandas as pd

from csxa_lightning.metrics.classification import INTERVAL_BOOTSTRAP_METRICS
from csxa_lightning.results.comparisons import Majority
from csxa_lightning.results.degenerate import degenerate_meaning, degenerate_tag
from csxa_lightning.results.formatting import (
    Column,
    counts,
    field_of,
    markdown_table,
    pct,
    pct_ci,
    pval,
    ratio,
    row_label,
    run_label,
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

# Each run's own metrics with their intervals; the majority row closes it.
TABLE2 = (
    Column("variant", field_of("label")),
    Column("balanced accuracy [95 % CI]", with_interval("balanced_accuracy"), pct_ci),
    Column("sensitivity", with_interval("sensitivity"), pct_ci),
    Column("specificity", with_interval("specificity"), pct_ci),
    Column("AUROC", with_interval("auroc"), pct_ci),
    Column("AUPRC", with_interval("auprc"), pct_ci),
    Column("Cohen's κ", field_of("cohen_kappa"), ratio),
    Column("test healthy / diseased", lambda row: (row["n_healthy"], row["n_diseased"]), counts),
)

# Each run against the baseline of its repetition: the runs only (the majority row has no
# baseline).
BASELINE_TESTS = (
    Column("variant", field_of("label")),
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
)


def table1_markdown(table: pd.DataFrame, majority: Majority) -> str:
    """The paper's Table 1 layout, one row per run and the majority row."""
    return markdown_table(TABLE1, table_rows(table, majority))


def table2_markdown(table: pd.DataFrame, majority: Majority) -> str:
    """What the paper does not show, first part: each run's intervals and class counts."""
    return markdown_table(TABLE2, table_rows(table, majority))


def baseline_tests_markdown(table: pd.DataFrame) -> str:
    """What the paper does not show, second part: the paired tests against the baseline."""
    return markdown_table(BASELINE_TESTS, table_rows(table))


def table_rows(table: pd.DataFrame, majority: Majority | None = None) -> list[dict]:
    """The run table's rows, then the majority row if given; "label" names each row in the
    first column: the baseline's marked, a degenerate model's named as such."""
    rows = [
        {**row, "label": row_label(table, row) + degenerate_tag(row["constant_answer"])}
        for row in table.to_dict("records")
    ]
    if majority is None:
        return rows
    return rows + [{**majority.metrics, "label": majority.title, "model": "—"}]


def degenerate_markdown(table: pd.DataFrame) -> str | None:
    """What a degenerate row of the tables above means, per class it always answers; None
    when every run answered both classes."""
    notes = []
    for answer, rows in table[table["constant_answer"] != ""].groupby("constant_answer"):
        names = "; ".join(row_label(table, row) for row in rows.to_dict("records"))
        subject = "Each" if len(rows) > 1 else "It"
        notes.append(f"- Degenerate: {names}. {degenerate_meaning(str(answer), subject)}")
    return "\n".join(notes) or None


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
            f"| {run_label(r['variant'], r['baseline'])} | {r['repetitions']} "
            f"| {' | '.join(cells)} | {pval(r['p_paired_ttest'])} |"
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
    for r in table.to_dict("records"):
        samples = "—" if pd.isna(r["train_samples"]) else f"{int(r['train_samples'])}"
        steps = "—" if pd.isna(r["optimizer_steps"]) else f"{int(r['optimizer_steps'])}"
        lines.append(f"| {row_label(table, r)} | {samples} | {steps} |")
    return "\n".join(lines)


def undefined_markdown(table: pd.DataFrame) -> str | None:
    """Which bootstrap intervals rest on resamples whose value was undefined: a precision or F1
    where a class is never predicted (counted as 0 by the convention, and kept), or a value
    that has no definition at all (left out of the percentiles)."""
    notes = []
    for r in table.to_dict("records"):
        undefined = [
            f"{name} {r[f'{name}_undefined_resamples']}"
            for name in INTERVAL_BOOTSTRAP_METRICS
            if r[f"{name}_undefined_resamples"] > 0
        ]
        if undefined:
            notes.append(
                f"- {row_label(table, r)}: {', '.join(undefined)} of "
                f"{r['bootstrap_resamples']} resamples"
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
        f"- {row_label(table, r)}: not compared with the baseline: {r['not_compared_because']}"
        for r in rows.to_dict("records")
    )
