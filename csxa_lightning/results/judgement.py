"""The sweep report's clinical-reader sections: calibration and the decision rule of each run,
results by subgroup, and a CLAIM reporting checklist answered from the run files.

The numbers are clinical.py's, computed from the run folders (predictions.csv, metrics.json);
the checklist reads split.csv, skipped_files.csv and .hydra/config.yaml. Nothing is typed in.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from omegaconf import OmegaConf

from csxa_lightning.metrics.calibration import DEFAULT_BINS
from csxa_lightning.metrics.subgroups import DEFAULT_MIN_COUNT
from csxa_lightning.results.formatting import Column, field_of, markdown_table, pct, ratio
from csxa_lightning.runs.folder import SKIPPED_FILE, SPLIT_FILE, Run, load_saved_config

CALIBRATION_COLUMNS = (
    Column("variant", field_of("label")),
    Column("Brier score", field_of("brier"), lambda v: f"{v:.4f}"),
    Column(f"ECE ({DEFAULT_BINS} bins)", field_of("ece"), lambda v: f"{v:.4f}"),
    Column("temperature", field_of("temperature"), ratio),
    Column(
        "threshold (rule)", lambda r: (r["threshold"], r["rule"]), lambda v: f"{v[0]:.4f} ({v[1]})"
    ),  # fmt: skip
    Column(
        "accuracy at threshold / at 0.5",
        lambda r: (r["accuracy"], r["accuracy_half"]),
        lambda v: f"{pct(v[0])} / {pct(v[1])}",
    ),  # fmt: skip
)

# How the checklist names the class balancing of a run: by the class its saved config names
# (balance._target_, conf/balance/*.yaml), which is all a balance config records.
BALANCE_NAMES = {
    "SMOTEBalancing": "SMOTE",
    "RandomOversampling": "random oversampling",
    "ClassWeighting": "class weighting (weighted cross-entropy)",
    "NoBalancing": "none",
}


def judgement_sections(
    calibration: Sequence[dict],
    subgroups: dict[str, pd.DataFrame],
    runs: Sequence[Run],
    figure_path: str,
) -> list[str]:
    """The markdown parts: calibration (clinical.calibration_rows), subgroups
    (clinical.subgroup_tables), checklist. figure_path: where the reliability figure is
    written, relative to the report."""
    return [
        "## Calibration and decision rule",
        "Brier score: mean squared difference between prob_diseased and the label (0 is "
        f"perfect). ECE: expected calibration error over {DEFAULT_BINS} equal-width bins. "
        "Temperature and threshold: the decision rule each run fitted on its validation "
        "slice (train's calibrate= and threshold=; 1 and 0.5 when none was fitted).",
        markdown_table(CALIBRATION_COLUMNS, list(calibration)),
        f"![reliability]({figure_path})",
        "## Subgroups",
        subgroups_markdown(subgroups),
        "## Reporting checklist (CLAIM)",
        checklist_markdown(runs),
    ]


def subgroups_markdown(tables: dict[str, pd.DataFrame], min_count: int = DEFAULT_MIN_COUNT) -> str:
    """Accuracy [95 % Wilson CI] per subgroup (columns) and run (rows), with each subgroup's
    film counts in its header; '—' where a subgroup has fewer than min_count films. tables:
    each run's subgroup table by run label (clinical.subgroup_tables)."""
    first = next(iter(tables.values()))
    groups = first[first["attribute"] != "all"]
    headers = [
        f"{g['group']} (n {g['n']}, healthy {g['n_healthy']})" for g in groups.to_dict("records")
    ]
    lines = ["| variant | " + " | ".join(headers) + " |", "|" + "---|" * (len(headers) + 1)]
    for name, table in tables.items():
        cells = [subgroup_cell(table, group) for group in groups.to_dict("records")]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    note = (
        "Accuracy % [95 % Wilson CI] at each run's threshold, by the file name's gender code "
        "(CSXA does not document which sex each code is) and age band. Counts are those of "
        f"the first run's test split. '—': fewer than {min_count} films. Sensitivity, "
        "specificity and AUROC per subgroup, with intervals: `python -m "
        "csxa_lightning.evaluate` on a run's checkpoint with `subset=test`."
    )
    return "\n".join(lines) + "\n\n" + note


def subgroup_cell(table: pd.DataFrame, group: dict) -> str:
    """A run's accuracy [interval] in one subgroup; '—' where it has none."""
    row = table[(table["attribute"] == group["attribute"]) & (table["group"] == group["group"])]
    row = row.iloc[0] if len(row) else None
    if row is None or pd.isna(row["accuracy"]):
        return "—"
    return (
        f"{pct(row['accuracy'])} [{100 * row['accuracy_ci_low']:.1f}, "
        f"{100 * row['accuracy_ci_high']:.1f}]"
    )


def split_counts(run: Run) -> str:
    split_file = run.path / SPLIT_FILE
    if not split_file.exists():
        return "not recorded"
    split = pd.read_csv(split_file)
    parts = []
    for name in ("train", "val", "test"):
        part = split[split["split"] == name]
        if len(part):
            parts.append(f"{name} {len(part)} ({int((part['label'] == 0).sum())} healthy)")
    return f"{len(split)} films: " + ", ".join(parts)


def setting(run: Run, key: str, default: str = "not recorded") -> str:
    config = load_saved_config(run.config_file)
    value = OmegaConf.select(config, key, default=None, throw_on_missing=False)
    return default if value is None else str(value)


def balance_of(run: Run) -> str:
    """The class balancing a run trained with, in words (BALANCE_NAMES; SMOTE with its
    k_neighbors), from its saved config; "not recorded" where it names none."""
    config = load_saved_config(run.config_file)
    target = OmegaConf.select(config, "balance._target_", default=None)
    if target is None:
        return "not recorded"
    name = str(target).rsplit(".", 1)[-1]
    neighbours = OmegaConf.select(config, "balance.k_neighbors", default=None)
    if name == "SMOTEBalancing" and neighbours is not None:
        return f"{BALANCE_NAMES[name]} (k_neighbors {neighbours})"
    return BALANCE_NAMES.get(name, name)


def balances(runs: Sequence[Run]) -> str:
    """Every run's class balancing (balance_of): one answer when they share it, else each
    with the runs that used it."""
    used: dict[str, list[str]] = {}
    for run in runs:
        used.setdefault(balance_of(run), []).append(run.title)
    if len(used) == 1:
        return next(iter(used))
    return "; ".join(
        f"{name} ({', '.join(dict.fromkeys(titles))})" for name, titles in used.items()
    )


def checklist_markdown(runs: Sequence[Run]) -> str:
    """CLAIM items the software knows from the run files, each answered from them."""
    first = runs[0]
    recorded = first.recorded
    skipped = first.path / SKIPPED_FILE
    exclusions = (
        f"{len(pd.read_csv(skipped))} unusable file(s) left out (skipped_files.csv)"
        if skipped.exists()
        else "no unusable file left out; the sheet rows without an image and the images "
        "without a class are dropped by the loader (counted in the run log)"
    )
    roots = sorted({str(r.recorded.get("dataset_root", "not recorded")) for r in runs})
    phantom = setting(first, "data.phantom.n", "")
    source = ", ".join(f"`{r}`" for r in roots) + (
        f" (the synthetic phantom set, {phantom} films)" if phantom else ""
    )
    variants = sorted({f"{r.title}: crop={r.crop}, color={r.color}" for r in runs})
    seeds = sorted({r.seed for r in runs})
    by_method: dict[str, list[str]] = {}
    for key, method in first.metrics.items():
        if key.endswith("_ci_method"):
            by_method.setdefault(str(method), []).append(key.removesuffix("_ci_method"))
    methods = [f"{method} for {', '.join(names)}" for method, names in by_method.items()]
    items = [
        ("Data source", source),
        ("Data counts and split", f"{split_counts(first)}; protocol "
         f"{recorded.get('protocol', 'not recorded')}, split seed "
         f"{setting(first, 'data.split_seed')}, stratified {setting(first, 'data.stratify')}"),
        ("Exclusions", exclusions),
        ("Reference standard", "the sheet's classification (datasets.xlsx column D: 1 "
         "symptomatic = diseased, 2 asymptomatic = healthy), per case id"),
        ("Preprocessing", "; ".join(variants) + f"; input {setting(first, 'image_size')} px"),
        ("Model", ", ".join(sorted({r.arch for r in runs})) + ", pretrained "
         f"{setting(first, 'model.pretrained')}"),
        ("Training", f"epochs {recorded.get('epochs', 'not recorded')}, batch "
         f"{setting(first, 'data.batch_size')}, learning rate "
         f"{setting(first, 'model.optimizer.lr')}, balance {balances(runs)}, "
         f"seeds {', '.join(map(str, seeds))}; tested checkpoint selected by "
         f"{recorded.get('selected_by', 'not recorded')}"),
        ("Metrics and intervals", f"{first.metrics['ci_level']:.0%} intervals; "
         + "; ".join(methods) + f"; {first.metrics['bootstrap_resamples']} bootstrap "
         "resamples"),
        ("Statistical tests", "the paper's one-sided two-proportion z-test (Table 1), exact "
         "McNemar on paired per-image correctness, paired bootstrap of the difference in "
         "balanced accuracy, Holm adjustment per baseline (What the paper does not show)"),
        ("Subgroups", "by gender code and age band (Subgroups)"),
        ("Calibration", "Brier score, expected calibration error, reliability diagram; "
         f"decision rule threshold={recorded.get('threshold_rule', '0.5')}, temperature "
         f"{float(recorded.get('temperature', 1.0)):g} (Calibration and decision rule)"),
    ]  # fmt: skip
    rows = "\n".join(f"| {item} | {answer} |" for item, answer in items)
    return (
        "Items of the CLAIM checklist that the run files answer (the first run's, where runs "
        "share them); the others (the clinical question, the intended use, the readers) are "
        "the author's to write.\n\n| item | from the runs |\n|---|---|\n" + rows
    )
