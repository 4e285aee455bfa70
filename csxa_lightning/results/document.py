"""The sweep report as files: build_report computes the sweep's numbers once (comparisons.py),
then writes them as report.md (sweep_markdown.py), report.csv (the run table as it is),
report.html (the same markdown with its figures inlined) and figures/, from the run folders'
files alone."""

from __future__ import annotations

from pathlib import Path

from csxa_lightning.results.cam_section import cam_section
from csxa_lightning.results.comparisons import compare_runs
from csxa_lightning.results.figures import reliability_figure, sweep_figures
from csxa_lightning.results.html_page import html_report
from csxa_lightning.results.sweep_markdown import FIGURE_DIR, RELIABILITY_PNG, sweep_markdown
from csxa_lightning.runs.folder import find_runs, unfinished_runs
from csxa_lightning.utils.whole_files import remove_leftovers, write_bytes_whole, write_text_whole


def build_report(sweep_dir: str | Path, cam_examples: int = 3) -> dict[str, Path]:
    """report.md, report.csv, report.html (and figures/) in sweep_dir; returns their paths.

    cam_examples: Grad-CAM pictures per category (true/false positives, false negatives) and
    variant, from the runs' checkpoints; 0 leaves the Grad-CAM section out."""
    sweep_dir = Path(sweep_dir)
    runs = find_runs(sweep_dir)
    comparisons = compare_runs(runs)
    pictures = sweep_figures(comparisons.table, comparisons.roc_curves)
    images = {name: f"{FIGURE_DIR}/{name}" for name in pictures}  # listed under Figures
    pictures[RELIABILITY_PNG] = reliability_figure(
        comparisons.reliability, "Reliability, test split"
    )  # shown in its own section
    cam_markdown = None
    if cam_examples > 0:
        cams = cam_section(runs, cam_examples)
        cam_markdown = cams.markdown
        pictures.update(cams.pictures)
    write_figures(sweep_dir, pictures)
    markdown_text = sweep_markdown(
        sweep_dir, comparisons, images, cam_markdown, unfinished_runs(sweep_dir)
    )
    paths = {
        "md": sweep_dir / "report.md",
        "csv": sweep_dir / "report.csv",
        "html": sweep_dir / "report.html",
    }
    write_text_whole(paths["md"], markdown_text)
    write_text_whole(paths["csv"], comparisons.table.to_csv(index=False))
    write_text_whole(paths["html"], html_report(markdown_text, pictures))
    if comparisons.ensembles is not None and len(comparisons.ensembles.table):
        paths["ensembles_csv"] = sweep_dir / "ensembles.csv"  # report.csv's columns, per ensemble
        write_text_whole(paths["ensembles_csv"], comparisons.ensembles.table.to_csv(index=False))
    return paths


def write_figures(sweep_dir: Path, pictures: dict[str, bytes]) -> None:
    figure_dir = sweep_dir / FIGURE_DIR
    figure_dir.mkdir(exist_ok=True)
    remove_leftovers(sweep_dir, figure_dir)  # of an earlier report build that was killed
    for name, data in pictures.items():
        write_bytes_whole(figure_dir / name, data)
