"""A landmark run's report (task=landmarks): report.md, report.html (the same text, its figures
inlined) and figures/ in the run folder, written from the folder's metrics.json and
landmarks.csv alone (runs/landmark_results.py), so that it can be rebuilt at any time:

    from csxa_lightning.results.landmark_report import write_landmark_report
    write_landmark_report(Path("outputs/.../run"))

It holds the run, the mean radial error (MRE) and successful detection rates (SDR) of the model
beside the mean-shape baseline with their film-bootstrap intervals, the errors per vertebra and
per landmark, and the median and worst test films drawn with their landmarks. Every number is
read from metrics.json or computed from landmarks.csv here; the markdown only writes them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from csxa_lightning.data.csxa import PNG_DIR
from csxa_lightning.data.films import read_film
from csxa_lightning.data.images import ImageReadError, to_gray
from csxa_lightning.data.listing import FILM_SUFFIXES
from csxa_lightning.metrics.landmarks import MM_UNKNOWN
from csxa_lightning.results.evaluation_report import environment_line
from csxa_lightning.results.formatting import (
    Column,
    counts,
    field_of,
    markdown_table,
    pct,
    pct_ci,
    with_interval,
)
from csxa_lightning.results.html_page import html_report
from csxa_lightning.results.landmark_figures import film_overlay
from csxa_lightning.runs.environment import recorded_environment
from csxa_lightning.runs.folder import METRICS_FILE, read_metrics
from csxa_lightning.runs.landmark_results import LANDMARKS_FILE, read_landmark_table
from csxa_lightning.utils.errors import UserError
from csxa_lightning.utils.whole_files import remove_leftovers, write_bytes_whole, write_text_whole

REPORT_MD = "report.md"
REPORT_HTML = "report.html"
FIGURE_DIR = "figures"
LANDMARK_TASK = "landmarks"  # metrics.json's task of a landmark run (training/landmark_run.py)
PARTS = {"model": "model", "mean_shape_baseline": "mean-shape baseline"}
OVERLAY_FILES = {"median": "median_film.png", "worst": "worst_film.png"}
SDR_KEY = re.compile(r"^sdr_(?P<mm>[\d.]+)mm$")
# Published figures on other data, quoted so a reader can place ours; never compared as equals.
LITERATURE = (
    "On lateral cervical radiographs an external 34-landmark CNN reported 1.17 mm mean error "
    "with 96 % of points within 3 mm; cephalometric landmark challenges report 1.5-1.7 mm. "
    "These are published figures on other data; this report's figures are measured on this "
    "run's test films."
)


class LandmarkReportError(UserError):
    """A run folder a landmark report cannot be built from (unfinished, not task=landmarks)."""


@dataclass(frozen=True)
class Overlay:
    """One example film: its caption, and its picture or why there is none."""

    role: str  # "median", "worst", or "median and worst" when the test set is one film
    caption: str
    file: str
    png: bytes | None
    missing: str | None


def write_landmark_report(run_folder: Path, *, dataset_root: Path | None = None) -> dict[str, Path]:
    """report.md, report.html and figures/ in a finished landmark run folder; returns the
    report paths ("md", "html"). dataset_root: where the films are now, when the dataset has
    moved since the run (default: the run's recorded dataset_root)."""
    folder = Path(run_folder)
    metrics, table = read_landmark_run(folder)
    root = dataset_root if dataset_root is not None else metrics.get("dataset_root")
    films = film_errors(table)
    overlays = [
        example_overlay(table, role, film, root) for role, film in example_films(films).items()
    ]
    pictures = {o.file: o.png for o in overlays if o.png is not None}
    write_figures(folder, pictures)
    text = landmark_markdown(folder, metrics, films, overlays)
    paths = {"md": folder / REPORT_MD, "html": folder / REPORT_HTML}
    write_text_whole(paths["md"], text)
    write_text_whole(paths["html"], html_report(text, pictures))
    return paths


def read_landmark_run(folder: Path) -> tuple[dict, pd.DataFrame]:
    """metrics.json and landmarks.csv of a finished landmark run, or one line saying why not."""
    metrics_path, table_path = folder / METRICS_FILE, folder / LANDMARKS_FILE
    if not metrics_path.is_file():
        raise LandmarkReportError(
            f"{metrics_path}: not found; the run has not finished: train it (task=landmarks) "
            "until it writes metrics.json, then build the report"
        )
    try:
        metrics = read_metrics(folder)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise LandmarkReportError(
            f"{metrics_path}: not readable JSON ({err}); retrain the run with force=true"
        ) from err
    if metrics.get("task") != LANDMARK_TASK or not all(p in metrics for p in PARTS):
        raise LandmarkReportError(
            f"{metrics_path}: not a landmark run's (task {metrics.get('task')!r}); build a "
            "classifier's report with `report` (a sweep) or `evaluate` (one checkpoint)"
        )
    if not table_path.is_file():
        raise LandmarkReportError(
            f"{table_path}: not found beside metrics.json; retrain the run with force=true"
        )
    return metrics, read_landmark_table(folder)


def film_errors(table: pd.DataFrame) -> pd.DataFrame:
    """One row per test film with an annotated landmark: stem, case_id, points (annotated),
    error_px and error_mm (its mean errors), ordered by error_px, smallest first."""
    films = table.groupby("stem", sort=False).agg(
        case_id=("case_id", "first"),
        points=("error_px", "count"),
        error_px=("error_px", "mean"),
        error_mm=("error_mm", "mean"),
    )
    films = films.dropna(subset=["error_px"]).reset_index()
    return films.sort_values(["error_px", "stem"], kind="stable").reset_index(drop=True)


def example_films(films: pd.DataFrame) -> dict[str, dict]:
    """{"median": film, "worst": film} of film_errors' rows: the median is the lower middle
    film when their number is even (a film that exists, not an average of two); a single
    film is both."""
    if not len(films):
        return {}
    median, worst = films.iloc[(len(films) - 1) // 2], films.iloc[-1]
    if len(films) == 1:
        return {"median and worst": median.to_dict()}
    return {"median": median.to_dict(), "worst": worst.to_dict()}


def film_path(dataset_root: str | Path | None, stem: str) -> tuple[Path | None, str]:
    """(the film of stem under dataset_root's datasets-PNG/, or None and why not)."""
    if not dataset_root:
        return None, "the run did not record its dataset_root"
    folder = Path(dataset_root).expanduser() / PNG_DIR
    for suffix in FILM_SUFFIXES:
        for spelling in (suffix, suffix.upper()):
            if (folder / f"{stem}{spelling}").is_file():
                return folder / f"{stem}{spelling}", ""
    return None, (
        f"film `{stem}` is not in `{folder}` (as {', '.join(FILM_SUFFIXES)}): the dataset has "
        "moved or is not on this machine; rebuild the report with "
        "write_landmark_report(run_folder, dataset_root=WHERE_IT_IS)"
    )


def mean_error_text(film: dict) -> str:
    mm = "" if pd.isna(film["error_mm"]) else f" ({film['error_mm']:.2f} mm)"
    return f"mean error {film['error_px']:.2f} px{mm} over {film['points']} landmarks"


def example_overlay(
    table: pd.DataFrame, role: str, film: dict, dataset_root: str | Path | None
) -> Overlay:
    """The film drawn with its annotated and predicted landmarks, or why it cannot be."""
    stem = str(film["stem"])
    caption = f"{role.capitalize()} test film `{stem}` (case {film['case_id']}): " + (
        mean_error_text(film)
    )
    file = OVERLAY_FILES[role.split()[0]]
    path, why = film_path(dataset_root, stem)
    if path is None:
        return Overlay(role, caption, file, None, why)
    try:
        pixels, _ = read_film(path)
    except ImageReadError as err:
        return Overlay(role, caption, file, None, f"`{path}` could not be read: {err}")
    rows = table[table["stem"] == stem]
    png = film_overlay(
        to_gray(pixels),
        rows[["x_annotated", "y_annotated"]].to_numpy(dtype=float),
        rows[["x_predicted", "y_predicted"]].to_numpy(dtype=float),
        f"{role} film {stem}: {mean_error_text(film)}",
    )
    return Overlay(role, caption, file, png, None)


def write_figures(folder: Path, pictures: dict[str, bytes]) -> None:
    figure_dir = folder / FIGURE_DIR
    figure_dir.mkdir(exist_ok=True)
    remove_leftovers(folder, figure_dir)  # of an earlier build that was killed
    for name in set(OVERLAY_FILES.values()) - set(pictures):
        (figure_dir / name).unlink(missing_ok=True)  # an earlier build's, of a film now missing
    for name, data in pictures.items():
        write_bytes_whole(figure_dir / name, data)


# --------------------------------------------------------------------------- markdown


def number(value: float | None) -> str:
    return "—" if value is None or pd.isna(value) else f"{value:.2f}"


def measure_ci(values: tuple) -> str:
    """A measured value in px, mm or degrees with its interval: 12.34 [11.02, 13.90]."""
    value, low, high = values
    interval = "" if low is None or pd.isna(low) else f" [{low:.2f}, {high:.2f}]"
    return number(value) + ("" if number(value) == "—" else interval)


def sdr_thresholds(part: dict) -> list[str]:
    """The SDR radii metrics.json holds, as written in its keys ("2", "2.5", ...)."""
    found = [SDR_KEY.match(key) for key in part]
    return sorted((m["mm"] for m in found if m), key=float)


def millimetres_known(metrics: dict) -> bool:
    return metrics["model"].get("mre_mm") is not None


def summary_columns(metrics: dict) -> tuple[Column, ...]:
    """The MRE/SDR table's columns; without pixel spacing the mm ones are left out."""
    model = metrics["model"]
    level = f"{round(100 * model.get('ci_level', 0.95)):g} % CI"
    columns = [
        Column("predictions", field_of("label")),
        Column(f"MRE px [{level}]", with_interval("mre_px"), measure_ci),
    ]
    if millimetres_known(metrics):
        columns.append(Column(f"MRE mm [{level}]", with_interval("mre_mm"), measure_ci))
        columns += [
            Column(f"SDR {t} mm % [{level}]", with_interval(f"sdr_{t}mm"), pct_ci)
            for t in sdr_thresholds(model)
        ]
        columns.append(
            Column(
                f"failures > {model['failure_mm']:g} mm (points / films)",
                lambda r: (r["failed_points"], r["films_with_failure"]),
                counts,
            )
        )
    columns.append(Column("C2-C7 Cobb angle MAE °", field_of("cobb_c2_c7_mae_deg"), number))
    return tuple(columns)


def ratio_sentence(model: dict, baseline: dict) -> str:
    """The model's MRE as a multiple of the baseline's, computed from the two numbers."""
    found = {}
    for unit in ("px", "mm"):
        mine, theirs = model.get(f"mre_{unit}"), baseline.get(f"mre_{unit}")
        if mine is not None and theirs:  # a baseline MRE of 0 has no ratio
            found[unit] = (
                f"{mine / theirs:.2f} times",
                f"({mine:.2f} {unit} against {theirs:.2f})",
            )
    if "px" not in found:
        return "The baseline's MRE is not known, so there is no ratio to it."
    times, values = found["px"]
    text = f"The model's MRE is {times} the mean-shape baseline's {values}"
    if "mm" in found:
        text += "; in millimetres {} {}".format(*found["mm"])
    return text + (
        ". Below 1, the model lands nearer the annotations than the training films' average "
        "landmark shape placed on each test film."
    )


def breakdown_rows(metrics: dict, key: str, name: str) -> list[dict]:
    """The model's per-vertebra or per-landmark rows, each with the baseline's MRE beside."""
    baseline = {row[name]: row for row in metrics["mean_shape_baseline"].get(key) or []}
    return [
        {
            **row,
            "baseline_mre_px": baseline.get(row[name], {}).get("mre_px"),
            "baseline_mre_mm": baseline.get(row[name], {}).get("mre_mm"),
        }
        for row in metrics["model"].get(key) or []
    ]


def breakdown_table(metrics: dict, key: str, name: str) -> str:
    """metrics.json's per_vertebra or per_landmark list as a table (name: its first column)."""
    rows = breakdown_rows(metrics, key, name)
    if not rows:
        return f"metrics.json holds no {key.replace('_', '-')} rows."
    columns = [Column(name, field_of(name))]
    if "n_landmarks" in rows[0]:
        columns.append(Column("landmarks", field_of("n_landmarks")))
    columns.append(Column("points", field_of("n_points")))
    units = ("px", "mm") if millimetres_known(metrics) else ("px",)
    for unit in units:
        columns += [
            Column(f"MRE {unit}", field_of(f"mre_{unit}"), number),
            Column(f"median {unit}", field_of(f"median_{unit}"), number),
            Column(f"90th pct {unit}", field_of(f"p90_{unit}"), number),
        ]
    sdr = [SDR_KEY.match(k) for k in rows[0] if SDR_KEY.match(k)]
    if "mm" in units and sdr:
        columns.append(Column(f"SDR {sdr[0]['mm']} mm %", field_of(sdr[0].string), pct))
    columns += [Column(f"baseline MRE {u}", field_of(f"baseline_mre_{u}"), number) for u in units]
    return markdown_table(tuple(columns), rows)


def checkpoint_text(folder: Path, checkpoint: str | None) -> str:
    """The tested checkpoint, inside the run folder when it is there: the name stays true
    when the folder moves or a forced retraining's staging folder is swapped in."""
    if not checkpoint:
        return "none saved: the weights of the last epoch were tested"
    path = Path(checkpoint)
    for base in (folder, folder.resolve()):
        if path.is_relative_to(base):
            return f"`{path.relative_to(base)}` in the run folder"
    return f"`{path}`"


def millimetre_line(model: dict) -> str:
    if model.get("mre_mm") is None:
        return (
            f"- millimetres: none ({model.get('millimetres', MM_UNKNOWN)}), so this report "
            "gives pixels only (px: pixels of the original film); SDR and failures, whose radii "
            "are in mm, are not shown"
        )
    return f"- millimetres: {model['millimetres']}; px: pixels of the original film"


def header_markdown(folder: Path, metrics: dict) -> str:
    m, model = metrics, metrics["model"]
    unscored = model.get("n_points_not_annotated") or 0
    level = f"{round(100 * model.get('ci_level', 0.95)):g} %"
    lines = [
        f"- model: {m.get('arch')}, input {m.get('image_size')} px square (the film "
        f"letterboxed), {m.get('epochs')} epochs; checkpoint selected by {m.get('selected_by')}",
        f"- films: {m.get('n_train')} train / {m.get('n_val')} validation / {m.get('n_test')} "
        f"test; scored: {model['n_films']} test films, {model['n_points']} annotated landmarks"
        + (f" ({unscored} not annotated, left out)" if unscored else ""),
        f"- checkpoint tested: {checkpoint_text(folder, m.get('checkpoint'))}",
        f"- films read from: `{m.get('dataset_root')}`",
        millimetre_line(model),
        f"- intervals: {level} percentile intervals from a bootstrap over test films "
        f"({model.get('bootstrap_resamples')} resamples, seed {model.get('bootstrap_seed')}): "
        "a film's landmarks are drawn together, since they share its positioning",
        "- mean-shape baseline: the training films' average landmark shape (in each film's unit "
        "coordinates) placed on every test film, the floor any model must clear",
        f"- scored with: {environment_line(recorded_environment(m))}",
    ]
    return "\n".join(lines)


def measures_note(metrics: dict) -> str:
    model = metrics["model"]
    text = (
        "MRE: the mean distance between a predicted landmark and its annotation, over every "
        "annotated landmark of the test films. "
    )
    if millimetres_known(metrics):
        text += (
            "SDR r mm: the share of landmarks within r mm of their annotation. Failures: "
            f"landmarks more than {model['failure_mm']:g} mm off, and the films with one. "
        )
    return text + (
        "Cobb angle: the angle between the lower endplates of C2 and C7, its mean absolute "
        f"error over {model.get('cobb_c2_c7_n_films', 0)} films."
    )


def examples_markdown(films: pd.DataFrame, overlays: list[Overlay]) -> list[str]:
    if not overlays:
        return ["## Example films", "No test film has an annotated landmark: nothing to draw."]
    px = films["error_px"].to_numpy(dtype=float)
    parts = [
        "## Example films",
        f"The {len(films)} test films' mean errors: median {np.median(px):.2f} px, 90th "
        f"percentile {np.percentile(px, 90):.2f} px, largest {px.max():.2f} px. Below, the "
        "median film (the lower middle one when their number is even) and the worst: annotated "
        "landmarks green, predicted red, a yellow line joining each pair; cropped around the "
        "landmarks.",
    ]
    for overlay in overlays:
        parts.append(f"**{overlay.caption}.**")
        if overlay.png is None:
            parts.append(f"Not drawn: {overlay.missing}.")
        else:
            parts.append(f"![{overlay.role} film]({FIGURE_DIR}/{overlay.file})")
    return parts


def landmark_markdown(
    folder: Path, metrics: dict, films: pd.DataFrame, overlays: list[Overlay]
) -> str:
    """report.md: metrics is the run's metrics.json, films film_errors' table, overlays the
    example films."""
    rows = [{**metrics[key], "label": label} for key, label in PARTS.items()]
    parts = [
        f"# Landmark model: {metrics.get('arch')}",
        header_markdown(folder, metrics),
        "## Mean radial error and successful detection",
        markdown_table(summary_columns(metrics), rows),
        ratio_sentence(metrics["model"], metrics["mean_shape_baseline"]),
        measures_note(metrics),
        "## By vertebra",
        breakdown_table(metrics, "per_vertebra", "vertebra"),
        "## By landmark",
        breakdown_table(metrics, "per_landmark", "landmark"),
        *examples_markdown(films, overlays),
        "## Published figures (the literature's, not this run's)",
        LITERATURE,
    ]
    return "\n\n".join(parts) + "\n"
