"""The report's tables: one row per run with every number (run_table, report.csv), and the
markdown of each table and section built from it. The formatting rules (pct, pval, ci) live
here too, so that a number reads the same in every table."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from csxa_lightning.metrics.classification import (
    INTERVAL_BOOTSTRAP_METRICS,
    bootstrap_seed,
    compute_metrics,
)
from csxa_lightning.metrics.paper import PUBLISHED_N_TEST, decode_paper_table, published_table
from csxa_lightning.metrics.stats import (
    balanced_accuracy_detectable_difference,
    holm,
    mcnemar_detectable_difference,
    mcnemar_exact,
    mean_sd,
    paired_bootstrap,
    paired_ttest,
    two_proportion_ztest,
)
from csxa_lightning.phantom.anatomy import EFFECTS
from csxa_lightning.runs.folder import Run, run_repeat

# The paper's reference (original images, ResNet50), used to find the baseline only in sweeps
# written before variants carried their own marker (variant.baseline in conf/variant/).
LEGACY_BASELINE = ("resnet50", "none", "none")


def is_baseline(run: Run, runs: list[Run]) -> bool:
    """The run of the variant marked as baseline in its own yaml (conf/variant/). Only a sweep
    in which no run carries a marker (written before the markers existed) falls back to the
    paper's reference, ResNet50 on the original images."""
    if any(r.is_baseline is not None for r in runs):
        return bool(run.is_baseline)
    return run.key == LEGACY_BASELINE


def baseline_for(run: Run, runs: list[Run]) -> tuple[Run | None, str]:
    """(the baseline run of the same repetition, "") or (None, why there is none)."""
    bases = [r for r in runs if is_baseline(r, runs) and r.repeat == run.repeat]
    if not bases:
        return None, (
            f"no run of {run_repeat(run)} is marked as the baseline (variant.baseline: true "
            "in conf/variant/original.yaml; run +variant=original in the same sweep)"
        )
    base = bases[0]
    if base is run:
        return None, ""
    if not np.array_equal(np.sort(base.test_ids), np.sort(run.test_ids)):
        only_run = np.setdiff1d(run.test_ids, base.test_ids)
        only_base = np.setdiff1d(base.test_ids, run.test_ids)
        return None, (
            f"its test images differ from the baseline's ({run.path.name}: {len(run.test_ids)} "
            f"images, {len(only_run)} not in the baseline's; {base.path.name}: "
            f"{len(base.test_ids)}, {len(only_base)} not in this run's), so they cannot be "
            "paired. Runs share their test images when they share data.split_seed, the "
            "fractions, cv.fold and the usable image set (see each run's split.csv and "
            "skipped_files.csv)."
        )
    return base, ""


NO_COMPARISON = {
    "z_p": np.nan,
    "mcnemar_p": np.nan,
    "mcnemar_p_one_sided": np.nan,
    "d_bal_acc": np.nan,
    "d_bal_acc_ci": (np.nan, np.nan),
    "discordance": np.nan,
    "detectable_d_acc": np.nan,
    "detectable_d_bal_acc": np.nan,
}


def detectable_differences(run: Run, base: Run) -> dict:
    """The observed share of images on which the run and its baseline disagree, and the
    smallest differences in accuracy (exact McNemar) and in balanced accuracy (class counts,
    per-class discordance) this test set detects with 80 % power at alpha = 0.05."""
    disagree = run.correct != base.correct
    healthy = run.predictions["label"].to_numpy() == 0
    return {
        "discordance": float(disagree.mean()),
        "detectable_d_acc": mcnemar_detectable_difference(len(disagree), disagree.mean()),
        "detectable_d_bal_acc": balanced_accuracy_detectable_difference(
            int(healthy.sum()),
            int((~healthy).sum()),
            float(disagree[healthy].mean()) if healthy.any() else 0.0,
            float(disagree[~healthy].mean()) if (~healthy).any() else 0.0,
        ),
    }


def comparisons(run: Run, runs: list[Run]) -> dict:
    """The paper's z-test and the paired tests against the baseline of the same repetition;
    "why_not" says why there are none."""
    base, why_not = baseline_for(run, runs)
    if base is None:
        return {**NO_COMPARISON, "why_not": why_not}
    n = len(run.predictions)
    _, z_p = two_proportion_ztest(
        int(run.correct.sum()), n, int(base.correct.sum()), n, alternative="larger"
    )
    # Both are sorted by case id (load_run) and hold the same ids: the pairs are images.
    boot = paired_bootstrap(
        run.predictions["label"].to_numpy(),
        run.predictions["prob_diseased"].to_numpy(),
        base.predictions["prob_diseased"].to_numpy(),
        metric="balanced_accuracy",
        seed=bootstrap_seed(run.seed),
    )
    return {
        "z_p": z_p,
        "mcnemar_p": mcnemar_exact(run.correct, base.correct)["p"],
        # Like the paper's z-test: the variant better than the baseline.
        "mcnemar_p_one_sided": mcnemar_exact(run.correct, base.correct, alternative="larger")["p"],
        "d_bal_acc": boot["diff"],
        "d_bal_acc_ci": boot["diff_ci"],
        **detectable_differences(run, base),
        "why_not": "",
    }


def with_holm(table: pd.DataFrame) -> pd.DataFrame:
    """Holm-adjusted p-values beside the raw ones. The family is one repetition's comparisons
    against its baseline (six variants in Table 1): each test is one of several looks at the
    same question, "does preprocessing beat the original?"."""
    table = table.copy()
    for raw in ("p_ztest_vs_baseline", "p_mcnemar_vs_baseline", "p_mcnemar_one_sided"):
        table[f"{raw}_holm"] = np.nan
        for _, rows in table.groupby("repeat", sort=False):
            table.loc[rows.index, f"{raw}_holm"] = holm(rows[raw].to_numpy())
    return table


def run_table(runs: list[Run]) -> pd.DataFrame:
    """One row per run: every number of both tables (report.csv)."""
    rows = []
    for run in runs:
        m, c = run.metrics, comparisons(run, runs)
        rows.append(
            {
                "variant": run.title,
                "model": run.arch,
                "crop": run.crop,
                "color": run.color,
                "variant_name": run.variant,
                "baseline": is_baseline(run, runs),
                "protocol": run.recorded.get("protocol"),
                "train_samples": run.recorded.get("train_samples"),
                "optimizer_steps": run.recorded.get("optimizer_steps"),
                "seed": run.seed,
                "fold": run.fold,
                "repeat": run_repeat(run),
                "n": m["n"],
                "n_healthy": m["n_healthy"],
                "n_diseased": m["n_diseased"],
                **{
                    k: m[k]
                    for k in (
                        "accuracy",
                        "precision_weighted",
                        "recall_macro",
                        "f1_weighted",
                        "precision_macro",
                        "f1_macro",
                        "cohen_kappa",
                        "balanced_accuracy",
                        "sensitivity",
                        "specificity",
                        "auroc",
                        "auprc",
                        "accuracy_ci_low",
                        "accuracy_ci_high",
                        "balanced_accuracy_ci_low",
                        "balanced_accuracy_ci_high",
                        "sensitivity_ci_low",
                        "sensitivity_ci_high",
                        "specificity_ci_low",
                        "specificity_ci_high",
                        "auroc_ci_low",
                        "auroc_ci_high",
                        "auprc_ci_low",
                        "auprc_ci_high",
                        "tp",
                        "tn",
                        "fp",
                        "fn",
                    )
                },
                "bootstrap_resamples": m["bootstrap_resamples"],
                **{
                    f"{name}_undefined_resamples": m[f"{name}_undefined_resamples"]
                    for name in INTERVAL_BOOTSTRAP_METRICS
                },
                "p_ztest_vs_baseline": c["z_p"],
                "p_mcnemar_vs_baseline": c["mcnemar_p"],
                "p_mcnemar_one_sided": c["mcnemar_p_one_sided"],
                "d_balanced_accuracy_vs_baseline": c["d_bal_acc"],
                "d_balanced_accuracy_ci_low": c["d_bal_acc_ci"][0],
                "d_balanced_accuracy_ci_high": c["d_bal_acc_ci"][1],
                "discordance_vs_baseline": c["discordance"],
                "detectable_d_accuracy": c["detectable_d_acc"],
                "detectable_d_balanced_accuracy": c["detectable_d_bal_acc"],
                "not_compared_because": c["why_not"],
                "folder": str(run.path),
            }
        )
    return with_holm(pd.DataFrame(rows))


def pct(x: float) -> str:
    return "—" if pd.isna(x) else f"{100 * x:.2f}"


def pval(p: float) -> str:
    return "—" if pd.isna(p) else ("<0.0001" if p < 1e-4 else f"{p:.4f}")


def ratio(x: float) -> str:
    return "—" if pd.isna(x) else f"{x:.3f}"


def ci(low: float, high: float) -> str:
    return "" if pd.isna(low) else f" [{100 * low:.1f}, {100 * high:.1f}]"


def majority_row(table: pd.DataFrame) -> tuple[str, dict]:
    """Title and metrics of always answering the test split's larger class."""
    first = table.iloc[0]
    n_pos, n = int(first["n_diseased"]), int(first["n"])
    labels = np.r_[np.ones(n_pos), np.zeros(n - n_pos)].astype(int)
    answer = 1 if n_pos >= n - n_pos else 0
    title = f'Majority class (always "{"diseased" if answer else "healthy"}")'
    return title, compute_metrics(labels, np.full(n, float(answer)))


def seed_tag(table: pd.DataFrame, repeat: str) -> str:
    """'(seed 1, fold 2)' when the table holds several repetitions, else nothing."""
    return f" ({repeat})" if table["repeat"].nunique() > 1 else ""


@dataclass(frozen=True)
class Column:
    """One column of a markdown table: its header, how to get the value from a row (a dict: a
    row of run_table, or the majority row), and how to write it. A new statistic in a table is
    its kernel (metrics.py, stats.py), a column of run_table, and one Column here."""

    header: str
    value: Callable[[dict], Any]
    format: Callable[[Any], str] = str

    def cell(self, row: dict) -> str:
        return self.format(self.value(row))


def field_of(name: str) -> Callable[[dict], Any]:
    """The row's value of name; NaN where the row has none (the majority row has no p-value)."""
    return lambda row: row.get(name, np.nan)


def with_interval(
    name: str, low: str | None = None, high: str | None = None
) -> Callable[[dict], tuple]:
    """(value, interval low, interval high); the interval is NaN where the row has none."""
    low, high = low or f"{name}_ci_low", high or f"{name}_ci_high"
    return lambda row: (row.get(name, np.nan), row.get(low, np.nan), row.get(high, np.nan))


def pct_ci(values: tuple) -> str:
    value, low, high = values
    return pct(value) + ci(low, high)


def counts(values: tuple) -> str:
    return " / ".join(str(v) for v in values)


def markdown_table(columns: tuple[Column, ...], rows: list[dict]) -> str:
    lines = [
        "| " + " | ".join(c.header for c in columns) + " |",
        "|" + "---|" * len(columns),
    ]
    lines += ["| " + " | ".join(c.cell(row) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def table_rows(table: pd.DataFrame) -> list[dict]:
    """run_table's rows, then the majority row; "label" names each row in the first column."""
    rows = [
        {**row, "label": f"{row['variant']}{seed_tag(table, row['repeat'])}"}
        for row in table.to_dict("records")
    ]
    title, majority = majority_row(table)
    return rows + [{**majority, "label": title, "model": "—"}]


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


def table1_markdown(table: pd.DataFrame) -> str:
    """The paper's Table 1 layout, one row per run and the majority row."""
    return markdown_table(TABLE1, table_rows(table))


def table2_markdown(table: pd.DataFrame) -> str:
    """What the paper does not show: intervals, paired tests, the class counts."""
    return markdown_table(TABLE2, table_rows(table))


def seeds_markdown(table: pd.DataFrame) -> str | None:
    """Mean ± sd over repetitions (seeds and/or cross-validation folds), and the paired t-test
    across them against the baseline (the paper's caption: a paired t-test across folds)."""
    if table["repeat"].nunique() < 2:
        return None
    base = table[table["baseline"]].set_index("repeat")
    lines = [
        "| variant | repetitions | accuracy | balanced accuracy | AUROC "
        "| paired t-test p (balanced accuracy vs baseline) |",
        "|---|---|---|---|---|---|",
    ]
    for variant, group in table.groupby("variant", sort=False):
        cells = []
        for metric in ("accuracy", "balanced_accuracy", "auroc"):
            mean, sd = mean_sd(group[metric].to_numpy())
            cells.append(f"{100 * mean:.2f} ± {100 * sd:.2f}")
        shared = group.set_index("repeat").index.intersection(base.index)
        p = np.nan
        if len(shared) >= 2 and not group["folder"].isin(base["folder"]).all():
            _, p = paired_ttest(
                group.set_index("repeat").loc[shared, "balanced_accuracy"],
                base.loc[shared, "balanced_accuracy"],
            )
        lines.append(f"| {variant} | {len(group)} | {' | '.join(cells)} | {pval(p)} |")
    return "\n".join(lines)


def phantom_markdown(runs: list[Run]) -> str | None:
    """What the phantom set's generator planted (data.phantom.effect), for the report's
    header: on a phantom the ground truth is known, so the reader can check the tables against
    it. None when no run trained on a phantom."""
    effects = {}
    for run in runs:
        if run.phantom is not None:
            effects.setdefault(str(run.phantom.get("effect", "natural")), []).append(run.title)
    if not effects:
        return None
    everyone = {r.title for r in runs}
    lines = []
    for effect, titles in effects.items():
        which = "" if set(titles) == everyone else f" ({'; '.join(dict.fromkeys(titles))})"
        text = EFFECTS.get(effect, "not an effect this version of the generator knows")
        lines.append(f"**Data: a synthetic phantom set, effect `{effect}`{which}:** {text}.")
    if effects.keys() & {"planted", "none"}:
        lines.append(
            {
                "planted": "Expected by construction: the keypoint-crop variants beat the "
                "original (crop=none), whose centre crop mostly misses the signs.",
                "none": "Expected by construction: every variant at chance (balanced accuracy "
                "50 %) and no significant difference from the baseline.",
            }[next(e for e in effects if e in ("planted", "none"))]
        )
    return "\n\n".join(lines)


def protocol_markdown(runs: list[Run]) -> str:
    """The protocol every run followed and, value by value, where it departs from the paper
    (train.py records both in metrics.json)."""
    protocols = sorted({str(r.recorded.get("protocol", "not recorded")) for r in runs})
    lines = [f"**Protocol: {', '.join(protocols)}.** " + PROTOCOL_TEXT.get(protocols[0], "")]
    if len(protocols) > 1:
        lines[0] = f"**Protocols differ between runs: {', '.join(protocols)}.**"
    departures: dict[str, list[str]] = {}
    header: list[str] | None = None
    for run in runs:
        for item in run.recorded.get("departures") or []:
            cells = [str(v) for v in item.values()] if isinstance(item, dict) else [str(item)]
            if isinstance(item, dict) and header is None:
                header = list(item)
            departures.setdefault(" | ".join(cells), []).append(run.title)
    if not departures:
        lines.append("These runs recorded no departures from the paper's method.")
        return "\n\n".join(lines)
    columns = (header or ["departure"]) + ["runs"]
    everyone = {r.title for r in runs}

    def which(titles: list[str]) -> str:
        return "all" if set(titles) == everyone else "; ".join(dict.fromkeys(titles))

    rows = [f"| {cells} | {which(titles)} |" for cells, titles in departures.items()]
    lines += [
        "Departures from the paper (value by value; the paper's values are its text's):",
        "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n" + "\n".join(rows),
    ]
    return "\n\n".join(lines)


PROTOCOL_TEXT = {
    "paper": "The paper's experiment: a plain seeded random 75/25 split (not stratified), no "
    "validation slice, the model after the last epoch tested.",
    "strict": "Our recommendation, not the paper's: a stratified split and a validation slice "
    "that selects the tested checkpoint (see the departures below).",
}


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
        counts = [
            f"{name} {getattr(r, f'{name}_undefined_resamples')}"
            for name in INTERVAL_BOOTSTRAP_METRICS
            if getattr(r, f"{name}_undefined_resamples") > 0
        ]
        if counts:
            notes.append(
                f"- {r.variant}{seed_tag(table, r.repeat)}: {', '.join(counts)} of "
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


def decoded_paper_markdown() -> str:
    """The paper's Table 1, decoded: the confusion matrices its rounded accuracy, weighted
    precision and weighted F1 allow (paper.decode_paper_table), and what they imply. Every
    number here is computed from the published figures, which are the paper's."""
    decoded = decode_paper_table()
    found = decoded.dropna(subset=["tn"])
    lines = [
        "| published row | accuracy / precision / F1 (the paper's) | healthy test films "
        "| TN / FP / FN / TP | balanced accuracy | sensitivity | specificity "
        "| majority baseline |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in decoded.itertuples():
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
    resnet = found[found["arch"] == "resnet50"]
    counts = sorted(set(resnet["healthy_n"].astype(int)))
    below = bool((found["accuracy"] < found["majority_accuracy"]).all())
    published = published_table()
    holm_p = holm(published["p"].to_numpy())
    adjusted = ", ".join(
        f"{t} {pval(p)}" for t, p in zip(published["title"], holm_p, strict=True) if not pd.isna(p)
    )
    text = [
        "A binary confusion matrix on n test films is pinned down by accuracy, "
        "support-weighted precision and weighted F1 once the class counts are known. The paper "
        f"prints them to two decimals (n = {PUBLISHED_N_TEST}); every integer matrix whose "
        "figures round (or are cut off) to the published ones is listed, for 30 to 65 healthy "
        "test films.",
        "\n".join(lines),
        f"The ResNet50 rows fit {', '.join(map(str, counts))} healthy test films and no other "
        f"count from 30 to 65. Their models recognise {int(resnet['tn'].min())} to "
        f"{int(resnet['tn'].max())} of the healthy films: balanced accuracy "
        f"{pct(resnet['balanced_accuracy'].min())} to {pct(resnet['balanced_accuracy'].max())} %, "
        "where 50 % is chance. "
        + (
            "No published model beats always answering the larger class (its accuracy is the "
            "majority baseline column). "
            if below
            else ""
        )
        + (
            "Every claimed accuracy gain over the baseline comes from diseased films called "
            "diseased more often; no variant recognises more healthy films than the baseline. "
            if gains_from_diseased(resnet)
            else ""
        )
        + "Holm-adjusted for the five comparisons, the published p-values become: "
        f"{adjusted}.",
    ]
    return "\n\n".join(text)


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


# The paper's setting: the baseline's published accuracy (the paper's figure) and the decoded
# baseline matrix's class recalls (TN 3 of 47 healthy, TP 1166 of 1194 diseased).
PAPER_BASELINE_ACCURACY = 0.9419
PAPER_HEALTHY = 47
PAPER_DISCORDANCES = (0.02, 0.04, 0.06, 0.08)


def paper_power_markdown() -> str:
    """The smallest gains the paper's test set (n = 1241, 47 healthy) detects with 80 % power
    at alpha = 0.05, by the functions the report uses. The discordance (share of films on
    which a variant and the baseline disagree) is not published, so it is given for several
    values and for independent errors at the baseline's accuracy, 2 p (1 - p)."""
    p = PAPER_BASELINE_ACCURACY
    independent = 2 * p * (1 - p)
    rows = [
        "| films on which variant and baseline disagree | detectable Δ accuracy (80 % power) |",
        "|---|---|",
    ]
    for psi, note in [(d, "") for d in PAPER_DISCORDANCES] + [
        (independent, " (independent errors)")
    ]:
        mdd = mcnemar_detectable_difference(PUBLISHED_N_TEST, psi)
        rows.append(f"| {pct(psi)} %{note} | {pct(mdd)} points |")
    n_diseased = PUBLISHED_N_TEST - PAPER_HEALTHY
    specificity, sensitivity = 3 / PAPER_HEALTHY, 1166 / n_diseased
    psi_h, psi_d = (2 * r * (1 - r) for r in (specificity, sensitivity))
    bal = balanced_accuracy_detectable_difference(PAPER_HEALTHY, n_diseased, psi_h, psi_d)
    claimed = 0.9573 - p  # the paper's best gain: Wide cropped and Colored, 95.73 %
    # The largest discordance at which the claimed gain still has 80 % power (the detectable
    # difference grows with the discordance): bisection between the gain itself and
    # independent errors.
    low, high = claimed, independent
    while high - low > 1e-5:
        mid = 0.5 * (low + high)
        low, high = (
            (mid, high)
            if mcnemar_detectable_difference(PUBLISHED_N_TEST, mid) <= claimed
            else (low, mid)
        )
    needed = mcnemar_detectable_difference(PUBLISHED_N_TEST, independent)
    return "\n\n".join(
        [
            "\n".join(rows),
            f"Balanced accuracy, with independent errors at the decoded baseline's class "
            f"recalls (specificity {pct(specificity)} %, sensitivity {pct(sensitivity)} %, "
            f"so {pct(psi_h)} % of the healthy and {pct(psi_d)} % of the diseased films "
            f"discordant): detectable Δ {pct(bal)} points.",
            f"The paper's largest claimed gain is {pct(claimed)} points of accuracy "
            f"(95.73 against 94.19 %, the paper's figures). The exact McNemar test detects "
            f"it with 80 % power only if the variant and the baseline disagree on at most "
            f"{pct(low)} % of the test films; with independent errors they would disagree on "
            f"{pct(independent)} %, where {pct(needed)} "
            "points would be needed.",
        ]
    )
