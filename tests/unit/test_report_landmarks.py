"""The sweep report's "Predicted against annotated landmarks" (results/landmark_comparison.py):
a run cropped to a landmark model's landmarks is compared with the same variant on the
annotated ones, on the same films, with the crop boxes' IoU from its crop_boxes.csv."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from csxa_lightning.metrics.classification import compute_metrics
from csxa_lightning.metrics.stats import mcnemar_exact
from csxa_lightning.results.comparisons import compare_runs
from csxa_lightning.results.document import build_report
from csxa_lightning.runs.folder import find_runs
from tests.unit.test_report import fake_run

PREDICTED = {"source": "predicted", "identity": "ab" * 32, "ckpt": "/models/landmarks.ckpt"}


def predicted_copy(root, name, wrong_healthy, wrong_diseased, ious):
    """A wide-crop run on predicted landmarks: its metrics.json records the landmark model and
    its crop_boxes.csv gives each test film's IoU."""
    correct = fake_run(root, name, "resnet18", "wide", "none", wrong_healthy, wrong_diseased,
                       variant=("wide_cropped_predicted", False),
                       recorded={"landmarks": PREDICTED})  # fmt: skip
    stems = pd.read_csv(root / name / "predictions.csv", dtype={"stem": str})["stem"]
    boxes = pd.DataFrame({"case_id": range(len(stems)), "stem": stems, "iou": ious})
    boxes.to_csv(root / name / "crop_boxes.csv", index=False)
    return correct


@pytest.fixture
def sweep(tmp_path):
    fake_run(tmp_path, "base", "resnet18", "none", "none", 10, 5, variant=("original", True))
    annotated = fake_run(tmp_path, "wide", "resnet18", "wide", "none", 4, 2,
                         variant=("wide_cropped", False))  # fmt: skip
    ious = np.linspace(0.8, 1.0, 100)
    predicted = predicted_copy(tmp_path, "wide_pred", 6, 3, ious)
    return tmp_path, annotated, predicted, ious


def test_a_predicted_landmark_run_is_compared_with_its_annotated_twin(sweep):
    root, annotated, predicted, ious = sweep
    runs = find_runs(root)
    assert [r.title for r in runs][-1] == "Wide cropped (ResNet18) (predicted landmarks)"
    row = compare_runs(runs).landmarks.iloc[0]
    labels = pd.read_csv(root / "wide" / "predictions.csv")["label"].to_numpy()
    prob = {
        n: pd.read_csv(root / n / "predictions.csv")["prob_diseased"] for n in ("wide", "wide_pred")
    }
    bal = {n: compute_metrics(labels, p, 0.5)["balanced_accuracy"] for n, p in prob.items()}
    # 6 healthy and 3 diseased wrong against 4 and 2: (14/20 + 77/80)/2 - (16/20 + 78/80)/2
    assert row["d_balanced_accuracy"] == pytest.approx(bal["wide_pred"] - bal["wide"])
    assert row["d_balanced_accuracy"] == pytest.approx(
        (14 / 20 + 77 / 80) / 2 - (16 / 20 + 78 / 80) / 2
    )
    assert row["p_mcnemar"] == pytest.approx(mcnemar_exact(predicted, annotated)["p"])
    assert row["iou_median"] == pytest.approx(np.median(ious))
    assert row["iou_share_ge_target"] == pytest.approx(np.mean(ious >= 0.9))
    assert row["iou_films"] == 100 and row["why_not"] == ""


@pytest.mark.slow  # about 4 s: make test stays under 10 min
def test_the_report_shows_the_section_and_names_a_run_without_a_twin(sweep):
    root, *_ = sweep
    paths = build_report(root, cam_examples=0)
    markdown = paths["md"].read_text()
    assert "## Predicted against annotated landmarks" in markdown
    assert "| Wide cropped (ResNet18) (predicted landmarks) (seed 42) |" in markdown
    # Without the annotated wide crop, there is nothing to compare with, and it says so.
    for name in ("predictions.csv", "metrics.json"):
        (root / "wide" / name).unlink()
    markdown = build_report(root, cam_examples=0)["md"].read_text()
    assert (
        "- Not compared: Wide cropped (ResNet18) (predicted landmarks) (seed 42): no run of it "
        "on annotated landmarks." in markdown
    )
    assert json.loads((root / "wide_pred" / "metrics.json").read_text())["landmarks"] == PREDICTED


def test_a_sweep_of_landmark_models_names_each_runs_own_report(tmp_path, capsys):
    from omegaconf import OmegaConf

    from csxa_lightning.config.hydra_callbacks import ReportOnMultirunEnd

    for seed in (1, 2):
        run = tmp_path / f"task=landmarks,seed={seed}"
        run.mkdir()
        (run / "landmarks.csv").write_text("case_id,stem\n")
        (run / "report.html").write_text("<html></html>")
    config = OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path)}}})
    ReportOnMultirunEnd().on_multirun_end(config)
    assert capsys.readouterr().out.splitlines() == [
        f"report: {tmp_path / f'task=landmarks,seed={seed}' / 'report.html'}" for seed in (1, 2)
    ]
