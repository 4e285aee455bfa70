"""The landmark run's report (results/landmark_report.py) on a fabricated run folder: metrics.json
and landmarks.csv written by the real runs/landmark_results.py functions from made-up points on
three tiny films, whose errors grow film by film so that the median and worst films are known."""

from __future__ import annotations

import base64
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from csxa_lightning.data.keypoints import KEYPOINT_LABELS
from csxa_lightning.results.landmark_report import (
    LITERATURE,
    LandmarkReportError,
    example_films,
    film_errors,
    write_landmark_report,
)
from csxa_lightning.runs.folder import write_metrics
from csxa_lightning.runs.landmark_results import landmark_table, scored, write_landmark_table

NAMES = list(KEYPOINT_LABELS)
STEMS = ["0010101", "0020202", "0030303"]  # in order of their errors: median 0020202, worst last
MISS_PX = np.array([1.0, 4.0, 12.0])  # each film's predicted landmarks are off by about this
FILM_SHAPE = (240, 200)  # height, width
SPACING_MM = 0.2


def fabricate_run(tmp_path: Path, millimetres: bool = True) -> tuple[Path, dict]:
    """A finished landmark run folder and the arrays behind it; the films in a fake CSXA."""
    rng = np.random.default_rng(7)
    n, k = len(STEMS), len(NAMES)
    annotated = rng.uniform([40, 40], [160, 200], size=(n, k, 2))
    angles = rng.uniform(0, 2 * np.pi, size=(n, k))
    miss = MISS_PX[:, None] * rng.uniform(0.5, 1.5, size=(n, k))
    predicted = annotated + np.stack([np.cos(angles), np.sin(angles)], axis=-1) * miss[..., None]
    baseline = annotated + rng.normal(0, 20, size=(n, k, 2))
    spacing = np.full(n, SPACING_MM if millimetres else np.nan)
    films = pd.DataFrame({"case_id": [11, 22, 33], "stem": STEMS, "pixel_mm": spacing})
    root = tmp_path / "CSXA"
    (root / "datasets-PNG").mkdir(parents=True)
    gradient = np.tile(np.linspace(0, 255, FILM_SHAPE[1]).astype(np.uint8), (FILM_SHAPE[0], 1))
    for stem in STEMS:
        cv2.imwrite(str(root / "datasets-PNG" / f"{stem}.png"), gradient)
    run = tmp_path / "run"
    run.mkdir()
    metrics = {
        "task": "landmarks",
        "model": scored(predicted, annotated, spacing, NAMES, seed=1),
        "mean_shape_baseline": scored(baseline, annotated, spacing, NAMES, seed=1),
        "arch": "hrnet_w18",
        "dataset_root": str(root),
        "checkpoint": str(run / "checkpoints" / "epoch003.ckpt"),
        "selected_by": "val/mre_px",
        "epochs": 4,
        "n_train": 30,
        "n_val": 5,
        "n_test": n,
        "image_size": 256,
    }
    write_landmark_table(run, landmark_table(films, NAMES, predicted, annotated, baseline))
    write_metrics(run, metrics)
    film_mean = np.hypot(*np.moveaxis(predicted - annotated, -1, 0)).mean(axis=1)
    return run, {"metrics": metrics, "film_mean_px": film_mean, "root": root}


def ci(part: dict, key: str) -> str:
    return f"{part[key]:.2f} [{part[key + '_ci_low']:.2f}, {part[key + '_ci_high']:.2f}]"


def pct_ci(part: dict, key: str) -> str:
    low, high = part[key + "_ci_low"], part[key + "_ci_high"]
    return f"{100 * part[key]:.2f} [{100 * low:.1f}, {100 * high:.1f}]"


def build(folder: Path) -> tuple:
    run, made = fabricate_run(folder)
    paths = write_landmark_report(run)
    return run, made, paths, paths["md"].read_text()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One report, read by the tests that change nothing (a report takes about half a second)."""
    return build(tmp_path_factory.mktemp("landmark_run"))


@pytest.fixture
def fresh(tmp_path):
    """A report of the test's own, for the tests that move or delete films."""
    return build(tmp_path)


def test_the_table_holds_metrics_json_numbers_for_the_model_and_the_baseline(built):
    _, made, paths, text = built
    assert set(paths) == {"md", "html"} and all(p.is_file() for p in paths.values())
    for label, key in (("model", "model"), ("mean-shape baseline", "mean_shape_baseline")):
        part = made["metrics"][key]
        cells = [ci(part, "mre_px"), ci(part, "mre_mm")]
        cells += [pct_ci(part, f"sdr_{t}mm") for t in ("2", "2.5", "3", "4")]
        cells.append(f"{part['failed_points']} / {part['films_with_failure']}")
        cells.append(f"{part['cobb_c2_c7_mae_deg']:.2f}")
        assert f"| {label} | " + " | ".join(cells) + " |" in text
    assert "MRE px [95 % CI] | MRE mm [95 % CI] | SDR 2 mm % [95 % CI]" in text
    assert "failures > 10 mm (points / films)" in text
    assert "millimetres: from each film's pixel spacing" in text


def test_the_ratio_sentence_is_computed_from_the_two_mres(built):
    _, made, _, text = built
    model, base = made["metrics"]["model"], made["metrics"]["mean_shape_baseline"]
    px = model["mre_px"] / base["mre_px"]
    mm = model["mre_mm"] / base["mre_mm"]
    assert px < 1  # the fabricated model misses by less than the baseline
    assert (
        f"The model's MRE is {px:.2f} times the mean-shape baseline's ({model['mre_px']:.2f} px "
        f"against {base['mre_px']:.2f}); in millimetres {mm:.2f} times ({model['mre_mm']:.2f} "
        f"mm against {base['mre_mm']:.2f})."
    ) in text


def test_the_header_names_the_run(built):
    _, _, _, text = built
    assert text.startswith("# Landmark model: hrnet_w18\n")
    assert "input 256 px square" in text
    assert "30 train / 5 validation / 3 test" in text
    # Inside the run folder: named relative to it, true after a move or a staging swap.
    assert "checkpoint tested: `checkpoints/epoch003.ckpt` in the run folder" in text


def test_the_per_vertebra_and_per_landmark_rows_are_metrics_json(built):
    _, made, _, text = built
    model, base = made["metrics"]["model"], made["metrics"]["mean_shape_baseline"]
    vertebrae = [row["vertebra"] for row in model["per_vertebra"]]
    assert vertebrae == ["C2", "C3", "C4", "C5", "C6", "C7"]
    for row, base_row in zip(model["per_vertebra"], base["per_vertebra"], strict=True):
        cells = [row["vertebra"], str(row["n_landmarks"]), str(row["n_points"])]
        cells += [f"{row[k]:.2f}" for k in ("mre_px", "median_px", "p90_px")]
        cells += [f"{row[k]:.2f}" for k in ("mre_mm", "median_mm", "p90_mm")]
        cells += [f"{100 * row['sdr_2mm']:.2f}", f"{base_row['mre_px']:.2f}"]
        assert "| " + " | ".join(cells) + " |" in text
    positions = [text.index(f"| {row['vertebra']} | ") for row in model["per_vertebra"]]
    assert positions == sorted(positions)
    for row in model["per_landmark"]:
        assert f"| {row['landmark']} | {row['n_points']} | {row['mre_px']:.2f} |" in text


def test_the_median_and_worst_films_are_named_with_their_mean_errors(built):
    _, made, _, text = built
    mean = made["film_mean_px"]
    assert np.argmax(mean) == 2 and np.argsort(mean)[1] == 1  # as fabricated
    assert f"**Median test film `0020202` (case 22): mean error {mean[1]:.2f} px (" in text
    assert f"**Worst test film `0030303` (case 33): mean error {mean[2]:.2f} px (" in text
    assert f"largest {mean[2]:.2f} px" in text
    assert text.index("Median test film") < text.index("Worst test film")


def test_the_figures_exist_and_the_html_inlines_them(built):
    run, _, paths, text = built
    html = paths["html"].read_text()
    for name in ("median_film.png", "worst_film.png"):
        data = (run / "figures" / name).read_bytes()
        assert data.startswith(b"\x89PNG")
        assert f"](figures/{name})" in text
        assert base64.b64encode(data).decode() in html
    assert "figures/" not in html
    assert "Not drawn" not in text


def test_a_missing_film_is_said_and_its_old_picture_removed(fresh):
    run, made, _, _ = fresh
    (made["root"] / "datasets-PNG" / "0030303.png").unlink()
    text = write_landmark_report(run)["md"].read_text()
    assert "**Worst test film `0030303`" in text
    assert "Not drawn: film `0030303` is not in" in text
    assert "dataset_root=WHERE_IT_IS" in text
    assert "worst_film.png" not in text
    assert not (run / "figures" / "worst_film.png").exists()
    assert (run / "figures" / "median_film.png").is_file()


def test_a_moved_dataset_is_read_from_the_root_given(fresh, tmp_path):
    run, made, _, _ = fresh
    moved = made["root"].rename(tmp_path / "moved")
    assert "Not drawn" in write_landmark_report(run)["md"].read_text()
    text = write_landmark_report(run, dataset_root=moved)["md"].read_text()
    assert "Not drawn" not in text and (run / "figures" / "worst_film.png").is_file()


def test_without_pixel_spacing_the_report_gives_pixels_only(tmp_path):
    run, made = fabricate_run(tmp_path, millimetres=False)
    text = write_landmark_report(run)["md"].read_text()
    model, base = made["metrics"]["model"], made["metrics"]["mean_shape_baseline"]
    assert "none (unknown: no pixel spacing), so this report gives pixels only" in text
    assert "MRE mm" not in text and "SDR 2" not in text and "failures >" not in text
    assert f"| model | {ci(model, 'mre_px')} | {model['cobb_c2_c7_mae_deg']:.2f} |" in text
    px = model["mre_px"] / base["mre_px"]
    assert f"is {px:.2f} times the mean-shape baseline's" in text
    assert "in millimetres" not in text
    assert f"mean error {made['film_mean_px'][2]:.2f} px over 23 landmarks" in text


def test_the_literature_is_labelled_as_the_literatures(built):
    _, _, _, text = built
    assert "## Published figures (the literature's, not this run's)\n\n" + LITERATURE in text
    assert "1.17 mm" in LITERATURE and "measured on this run's test films" in LITERATURE


def test_the_report_is_rebuilt_the_same(built):
    run, _, paths, text = built
    assert write_landmark_report(run)["md"].read_text() == text


def test_the_median_of_an_even_number_of_films_is_the_lower_middle_one():
    table = pd.DataFrame(
        {
            "stem": ["a", "a", "b", "c", "d", "e"],
            "case_id": [1, 1, 2, 3, 4, 5],
            "error_px": [3.0, 5.0, 1.0, 9.0, 2.0, np.nan],  # e: nothing annotated, not ranked
            "error_mm": [np.nan] * 6,
        }
    )
    films = film_errors(table)
    assert films["stem"].tolist() == ["b", "d", "a", "c"]
    chosen = example_films(films)
    assert chosen["median"]["stem"] == "d" and chosen["worst"]["stem"] == "c"
    assert list(example_films(films.iloc[:1])) == ["median and worst"]


def test_a_folder_that_is_not_a_finished_landmark_run_is_refused(tmp_path):
    with pytest.raises(LandmarkReportError, match="metrics.json: not found"):
        write_landmark_report(tmp_path)
    write_metrics(tmp_path, {"task": "classify", "balanced_accuracy": 0.8})
    with pytest.raises(LandmarkReportError, match="not a landmark run's"):
        write_landmark_report(tmp_path)


def test_a_landmark_run_ends_with_its_report_and_logs_it(fresh, tmp_path, caplog):
    from csxa_lightning.training.landmark_run import landmark_report  # lightning: only here

    run, _, paths, _ = fresh
    assert landmark_report(run) == [paths["md"], paths["html"]]
    (tmp_path / "other").mkdir()
    write_metrics(tmp_path / "other", {"task": "classify"})
    # A report that cannot be built leaves the finished run as it is, with a warning.
    assert landmark_report(tmp_path / "other") == []
    assert "landmark report not built" in caplog.text
