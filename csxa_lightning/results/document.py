"""The report of a sweep as documents: report.md (markdown_report), report.html (html_report,
the same markdown with its figures inlined) and report.csv; build_report writes all three and
figures/ from the run folders' files alone."""

from __future__ import annotations

import base64
from pathlib import Path

import markdown
import pandas as pd

from csxa_lightning.results.cam_section import cam_section
from csxa_lightning.results.figures import figures
from csxa_lightning.results.judgement import judgement_sections, runs_reliability_figure
from csxa_lightning.results.software import environment_warning, software_markdown
from csxa_lightning.results.tables import (
    decoded_paper_markdown,
    majority_row,
    not_compared_markdown,
    phantom_markdown,
    protocol_markdown,
    run_table,
    seeds_markdown,
    table1_markdown,
    table2_markdown,
    training_markdown,
    undefined_markdown,
)
from csxa_lightning.runs.folder import (
    Run,
    UnfinishedRun,
    find_runs,
    run_repeat,
    unfinished_runs,
)
from csxa_lightning.utils.whole_files import remove_leftovers, write_bytes_whole, write_text_whole


def markdown_report(
    sweep_dir: Path,
    runs: list[Run],
    table: pd.DataFrame,
    images: dict[str, str],
    cam_markdown: str | None = None,
    unfinished: list[UnfinishedRun] | None = None,
) -> str:
    n = table.iloc[0]
    seeds = seeds_markdown(table)
    majority, _ = majority_row(table)
    baseline = table[table["baseline"]]
    baseline_name = baseline["variant"].iloc[0] if len(baseline) else "none in this sweep"
    parts = [
        "# CSXA preprocessing ablation — report",
        f"{len(runs)} run(s) from `{sweep_dir}`. Test split: {n['n']} images "
        f"({n['n_healthy']} healthy, {n['n_diseased']} diseased). Positive class: diseased. "
        f"Baseline: {baseline_name} (the variant marked baseline in its yaml).",
        *filter(None, [phantom_markdown(runs)]),
        protocol_markdown(runs),
        *filter(None, [environment_warning(runs)]),
        *unfinished_markdown(sweep_dir, unfinished or []),
        "## Table 1 (the paper's layout)",
        "Precision, recall and F1 are support-weighted averages over both classes (the "
        "paper's published values follow this convention) and macro averages. Recall "
        "(weighted) equals accuracy. The precision of a class that is never predicted counts "
        "as 0 (scikit-learn's zero_division=0), as in the paper's numbers. "
        "p: the paper's one-sided two-proportion z-test of accuracy "
        "(variant larger than the baseline of the same seed), n = test images each; Holm: "
        "adjusted for the comparisons against one baseline. The z-test's independence "
        "assumption is wrong here — every variant is scored on the same images — so see "
        "McNemar's paired test below.",
        table1_markdown(table),
        "## What the paper does not show",
        f"The row {majority} answers that class for every image. McNemar: exact test on "
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
        "than it, found or not, says little.",
        table2_markdown(table),
    ]
    undefined = undefined_markdown(table)
    if undefined:
        parts.append(undefined)
    not_compared = not_compared_markdown(table)
    if not_compared:
        parts += ["### Comparisons not made", not_compared]
    parts += [
        "## Samples and optimizer steps",
        "Enhanced variants train on two channel orders of every film: twice the samples per "
        "epoch, so twice the optimizer steps per epoch and per learning-rate stage. A "
        "difference between color variants mixes the color processing with this longer "
        "training.",
        training_markdown(table),
    ]
    if seeds:
        parts += ["## Across seeds and folds (mean ± sd)", seeds]
    parts += judgement_sections(runs, "figures/reliability.png")
    parts += ["## The paper's table, decoded", decoded_paper_markdown()]
    parts += ["## Figures"] + [f"![{name}]({path})" for name, path in images.items()]
    if cam_markdown:
        parts.append(cam_markdown)
    parts += [
        "## Runs and their configs",
        "| variant | repetition | overrides | config |\n|---|---|---|---|",
    ]
    for run in runs:
        config = run.config_file.relative_to(sweep_dir)
        overrides = " ".join(run.overrides) or "—"
        parts[-1] += f"\n| {run.title} | {run_repeat(run)} | `{overrides}` | [{config}]({config}) |"
    parts += ["## Software", software_markdown(runs)]
    return "\n\n".join(parts) + "\n"


def unfinished_markdown(sweep_dir: Path, unfinished: list[UnfinishedRun]) -> list[str]:
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


def html_report(markdown_text: str, pictures: dict[str, bytes]) -> str:
    """A self-contained page: the same markdown (Python-Markdown, tables extension) with the
    figures inlined as data URIs instead of links to figures/."""
    for name, data in pictures.items():
        uri = "data:image/png;base64," + base64.b64encode(data).decode()
        markdown_text = markdown_text.replace(f"](figures/{name})", f"]({uri})")
    body = markdown.markdown(markdown_text, extensions=["tables"])
    style = (
        "body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;"
        "color:#222}table{border-collapse:collapse;margin:1em 0;font-size:13px}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
        "td:first-child,th:first-child{text-align:left}th{background:#f3f3f3}"
        "img{max-width:100%}"
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>CSXA report</title>"
        f"<style>{style}</style></head><body>{body}</body></html>\n"
    )


def build_report(sweep_dir: str | Path, cam_examples: int = 3) -> dict[str, Path]:
    """report.md, report.csv, report.html (and figures/) in sweep_dir; returns their paths.

    cam_examples: Grad-CAM pictures per category (true/false positives, false negatives) and
    variant, from the runs' checkpoints; 0 leaves the Grad-CAM section out."""
    sweep_dir = Path(sweep_dir)
    runs = find_runs(sweep_dir)
    table = run_table(runs)
    pictures = figures(runs, table)
    figure_names = list(pictures)
    pictures["reliability.png"] = runs_reliability_figure(runs)  # shown in its own section
    cam_markdown = None
    if cam_examples > 0:
        cams = cam_section(runs, cam_examples)
        cam_markdown = cams.markdown
        pictures.update(cams.pictures)
    figure_dir = sweep_dir / "figures"
    figure_dir.mkdir(exist_ok=True)
    remove_leftovers(sweep_dir, figure_dir)  # of an earlier report build that was killed
    for name, data in pictures.items():
        write_bytes_whole(figure_dir / name, data)
    markdown_text = markdown_report(
        sweep_dir,
        runs,
        table,
        {n: f"figures/{n}" for n in figure_names},
        cam_markdown,
        unfinished_runs(sweep_dir),
    )
    paths = {
        "md": sweep_dir / "report.md",
        "csv": sweep_dir / "report.csv",
        "html": sweep_dir / "report.html",
    }
    write_text_whole(paths["md"], markdown_text)
    write_text_whole(paths["csv"], table.to_csv(index=False))
    write_text_whole(paths["html"], html_report(markdown_text, pictures))
    return paths
