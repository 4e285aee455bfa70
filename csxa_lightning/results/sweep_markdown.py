"""The sweep report as markdown (report.md; report.html is the same text): the sections in
their order, each written from the numbers comparisons.py computed. Nothing here computes a
statistic: a section is prose and a table of numbers handed to it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from csxa_lightning.results.baseline import is_baseline
from csxa_lightning.results.comparisons import Comparisons
from csxa_lightning.results.ensemble_tables import ensemble_markdown
from csxa_lightning.results.formatting import run_label
from csxa_lightning.results.judgement import judgement_sections
from csxa_lightning.results.landmark_tables import landmark_markdown
from csxa_lightning.results.paper_tables import decoded_table_markdown
from csxa_lightning.results.software import environment_warning, software_markdown
from csxa_lightning.results.sweep_header import phantom_markdown, protocol_markdown
from csxa_lightning.results.tables import (
    baseline_tests_markdown,
    degenerate_markdown,
    not_compared_markdown,
    repeats_markdown,
    table1_markdown,
    table2_markdown,
    training_markdown,
    undefined_markdown,
)
from csxa_lightning.runs.folder import Run, UnfinishedRun, run_repeat

# Where report.md links its figures (report.html inlines them from there), and the reliability
# diagram's name: it is shown in its own section, not under Figures.
FIGURE_DIR = "figures"
RELIABILITY_PNG = "reliability.png"

TABLE1_NOTE = (
    "Precision, recall and F1 are support-weighted averages over both classes (the "
    "paper's published values follow this convention) and macro averages. Recall "
    "(weighted) equals accuracy. The precision of a class that is never predicted counts "
    "as 0 (scikit-learn's zero_division=0), as in the paper's numbers. "
    "p: the paper's one-sided two-proportion z-test of accuracy "
    "(variant larger than the baseline of the same seed), n = test images each; Holm: "
    "adjusted for the comparisons against one baseline. The z-test's independence "
    "assumption is wrong here — every variant is scored on the same images — so see "
    "McNemar's paired test below."
)
# After the sentence naming the majority row, which depends on the test split.
TABLE2_NOTE = (
    "McNemar: exact test on "
    "per-image correctness paired with the baseline of the same seed, two-sided, and "
    "one-sided (variant better) to compare like with like with the paper's z-test; Holm: "
    "adjusted for the comparisons against one baseline. Intervals: Wilson for sensitivity "
    "and specificity (binomial proportions with fixed denominators) and for accuracy "
    "(report.csv), 95 % stratified bootstrap for the others, with the seed metrics.json "
    "used (the same intervals); Δ: paired bootstrap of the difference in balanced "
    "accuracy to the baseline. Detectable Δ: the smallest difference from the baseline "
    "(percentage points) that this test set detects with 80 % power at α = 0.05, given the "
    "share of images on which the two disagree: in accuracy by the exact McNemar test "
    "(power computed exactly), in balanced accuracy by a normal approximation from the class "
    "counts and each class's disagreement (statsmodels' normal_power_het); — where no "
    "difference would reach that power (or there is no baseline). A difference smaller "
    "than it, found or not, says little."
)
TRAINING_NOTE = (
    "Enhanced variants train on two channel orders of every film: twice the samples per "
    "epoch, so twice the optimizer steps per epoch and per learning-rate stage. A "
    "difference between color variants mixes the color processing with this longer "
    "training."
)


def sweep_markdown(
    sweep_dir: Path,
    comparisons: Comparisons,
    images: dict[str, str],
    cam_markdown: str | None = None,
    unfinished: Sequence[UnfinishedRun] = (),
) -> str:
    """report.md: images maps each figure's name to its link; cam_markdown is the Grad-CAM
    section (cam_section), left out when None; unfinished: the runs the tables leave out."""
    c = comparisons
    parts = [
        *header_parts(sweep_dir, c, unfinished),
        *table_parts(c),
        *training_parts(c),
        *judgement_sections(c.calibration, c.subgroups, c.runs, f"{FIGURE_DIR}/{RELIABILITY_PNG}"),
        "## The paper's table, decoded",
        decoded_table_markdown(c.paper),
        "## Figures",
        *[f"![{name}]({path})" for name, path in images.items()],
        *filter(None, [cam_markdown]),
        "## Runs and their configs",
        runs_markdown(sweep_dir, c.runs),
        "## Software",
        software_markdown(c.environments, c.environment_differences),
    ]
    return "\n\n".join(parts) + "\n"


def header_parts(sweep_dir: Path, c: Comparisons, unfinished: Sequence[UnfinishedRun]) -> list[str]:
    """The title, the test split and baseline, the data and protocol, and what is missing."""
    n = c.table.iloc[0]
    return [
        "# CSXA preprocessing ablation — report",
        f"{len(c.runs)} run(s) from `{sweep_dir}`. Test split: {n['n']} images "
        f"({n['n_healthy']} healthy, {n['n_diseased']} diseased). Positive class: diseased. "
        f"Baseline: {c.baseline_title} (the variant marked baseline in its yaml).",
        *filter(None, [phantom_markdown(c.runs)]),
        protocol_markdown(c.runs),
        *filter(None, [environment_warning(c.environment_differences)]),
        *unfinished_markdown(sweep_dir, unfinished),
    ]


def table_parts(c: Comparisons) -> list[str]:
    """Table 1 in the paper's layout, what the paper does not show (each run's intervals, then
    its tests against the baseline), and their notes."""
    parts = [
        "## Table 1 (the paper's layout)",
        TABLE1_NOTE,
        table1_markdown(c.table, c.majority),
        *filter(None, [degenerate_markdown(c.table)]),
        "## What the paper does not show",
        f"The row {c.majority.title} answers that class for every image. " + TABLE2_NOTE,
        table2_markdown(c.table, c.majority),
        "### Against the baseline",
        baseline_tests_markdown(c.table),
        *filter(None, [undefined_markdown(c.table)]),
    ]
    not_compared = not_compared_markdown(c.table)
    if not_compared:
        parts += ["### Comparisons not made", not_compared]
    return parts


def training_parts(c: Comparisons) -> list[str]:
    """Samples and optimizer steps per run, and the summary across repetitions if any."""
    parts = ["## Samples and optimizer steps", TRAINING_NOTE, training_markdown(c.table)]
    if c.repeats is not None:
        parts += ["## Across seeds and folds (mean ± sd)", repeats_markdown(c.repeats)]
    if c.ensembles is not None:
        parts += ensemble_markdown(c.ensembles)
    if c.landmarks is not None:
        parts += landmark_markdown(c.landmarks)
    return parts


def unfinished_markdown(sweep_dir: Path, unfinished: Sequence[UnfinishedRun]) -> list[str]:
    """The runs of the sweep this report leaves out because they have not finished."""
    if not unfinished:
        return []
    rows = "\n".join(f"| `{u.path.relative_to(sweep_dir)}` | {u.describe()} |" for u in unfinished)
    return [
        "## Runs not finished",
        f"{len(unfinished)} run(s) of this sweep are not in the tables below: they have not "
        "finished. Build the report again when they have (python -m csxa_lightning.report).",
        "| run folder | state |\n|---|---|\n" + rows,
    ]


def runs_markdown(sweep_dir: Path, runs: Sequence[Run]) -> str:
    """Each run's overrides and a link to its saved config."""
    lines = ["| variant | repetition | overrides | config |", "|---|---|---|---|"]
    for run in runs:
        config = run.config_file.relative_to(sweep_dir)
        overrides = " ".join(run.overrides) or "—"
        name = run_label(run.title, is_baseline(run, runs))
        lines.append(f"| {name} | {run_repeat(run)} | `{overrides}` | [{config}]({config}) |")
    return "\n".join(lines)
