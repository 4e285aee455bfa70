"""task=landmarks end to end on the phantom: the real config composed and shrunk, trained in
this process; its run folder holds split.csv, landmarks.csv and metrics.json with the model's
and the mean-shape baseline's scores, in film pixels and millimetres (the phantom's sheet gives
each film's pixel size)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from csxa_lightning.config.checks import config_problems
from csxa_lightning.data.keypoints import KEYPOINT_LABELS
from csxa_lightning.training.run import train
from tests.helpers import compose_train_config, phantom_training

LANDMARK_TRAINING = ["task=landmarks", "image_size=64", "data.batch_size=8"]


def test_a_landmark_run_writes_its_scores_and_every_test_films_landmarks(
    phantom_run_overrides, tmp_path
):
    cfg = compose_train_config([*phantom_run_overrides, *LANDMARK_TRAINING])
    metrics = train(cfg)
    run = tmp_path / "run"
    assert metrics == json.loads((run / "metrics.json").read_text())
    assert metrics["task"] == "landmarks"
    split = pd.read_csv(run / "split.csv", dtype={"stem": str})
    test_stems = sorted(split.loc[split["split"] == "test", "stem"])
    table = pd.read_csv(run / "landmarks.csv", dtype={"stem": str})
    assert len(table) == len(test_stems) * 23 == metrics["n_test"] * 23
    assert sorted(table["stem"].unique()) == test_stems
    assert table["landmark"].head(23).tolist() == list(KEYPOINT_LABELS)
    # Each error is the distance between the predicted and annotated point it sits beside.
    dx = table["x_predicted"] - table["x_annotated"]
    dy = table["y_predicted"] - table["y_annotated"]
    np.testing.assert_allclose(table["error_px"], np.hypot(dx, dy), rtol=1e-9)
    for part, column in (("model", "error_px"), ("mean_shape_baseline", "baseline_error_px")):
        assert metrics[part]["mre_px"] == pytest.approx(table[column].mean())
        assert metrics[part]["mre_mm"] == pytest.approx(table[column.replace("px", "mm")].mean())
        low, high = metrics[part]["mre_px_ci_low"], metrics[part]["mre_px_ci_high"]
        assert low <= metrics[part]["mre_px"] <= high
        assert [row["landmark"] for row in metrics[part]["per_landmark"]] == list(KEYPOINT_LABELS)
    # protocol=strict (the tiny training's): the checkpoint val/loss selected, kept in the run
    assert metrics["selected_by"] == "val/loss"
    assert Path(metrics["checkpoint"]).parent == run / "checkpoints"
    assert Path(metrics["checkpoint"]).is_file()


@pytest.mark.parametrize(
    ("given", "refused"),
    [("crop=tight", "crop=tight"), ("balance=oversample", "balance (RandomOversampling)"),
     ("threshold=0.3", "threshold=0.3")],
)  # fmt: skip
def test_classifier_settings_are_refused_with_the_landmark_task(given, refused):
    problems = config_problems(compose_train_config(["task=landmarks", given]))
    assert problems == [
        f"{refused}: task=landmarks places landmarks on the whole film; "
        f"{refused.split('=')[0].split(' ')[0]}= applies to task=classify only: leave it out"
    ]


@pytest.mark.slow  # about 3 minutes on 2 CPU cores
def test_a_small_landmark_model_beats_the_mean_shape_baseline(tmp_path):
    """300 phantom films, ResNet18 from scratch at 128 px, 12 epochs: its test MRE is below a
    half of the mean-shape baseline's (the issue's target, a third, is met by the longer
    training of experiment=demo_landmark_model; README)."""
    from csxa_lightning.phantom.store import generate_phantom

    root = tmp_path / "CSXA"
    generate_phantom(root, n=300, seed=3, healthy_fraction=0.3)
    overrides = [
        *phantom_training(root, tmp_path),
        "task=landmarks",
        "image_size=128",
        "trainer.max_epochs=12",
        "data.batch_size=16",
    ]
    metrics = train(compose_train_config(overrides))
    model, baseline = metrics["model"], metrics["mean_shape_baseline"]
    assert model["mre_px"] < 0.5 * baseline["mre_px"]
    assert model["sdr_4mm"] > baseline["sdr_4mm"]
