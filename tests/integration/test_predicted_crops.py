"""Keypoint crops from a landmark model (landmarks=predicted): a classifier trained on them
records the model, keeps each test film's predicted and annotated crop boxes, keys its cache by
the model, and predict runs the model on a bare PNG -- no annotation file anywhere."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch

from csxa_lightning.data.annotations import read_annotation
from csxa_lightning.data.cache import fingerprint, preprocess_file
from csxa_lightning.data.csxa import load_index
from csxa_lightning.data.landmark_source import with_landmark_source
from csxa_lightning.data.preprocess import Preprocessor
from csxa_lightning.data.transforms import KeypointCrop
from csxa_lightning.inference.landmark_model import (
    film_landmarks,
    load_landmark_model,
    predicted_annotations,
    predicted_landmarks,
)
from csxa_lightning.inference.predict import predict
from csxa_lightning.results.preview import preview
from csxa_lightning.training.run import train
from tests.helpers import compose_config, compose_train_config, phantom_training


@pytest.fixture(scope="module")
def landmark_checkpoint(phantom, tmp_path_factory) -> Path:
    """A 1-epoch landmark model of the session's phantom set (placement, not accuracy, is
    what these tests check)."""
    base = tmp_path_factory.mktemp("landmark_model")
    overrides = [*phantom_training(phantom.root, base), "task=landmarks", "image_size=64"]
    return Path(train(compose_train_config(overrides))["checkpoint"])


@pytest.fixture(scope="module")
def predicted_run(phantom, landmark_checkpoint, tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("predicted_run")
    overrides = [
        *phantom_training(phantom.root, base),
        "crop=tight",
        "image_size=32",
        "landmarks=predicted",
        f"landmarks.ckpt={landmark_checkpoint}",
    ]
    train(compose_train_config(overrides))
    return base


def test_the_run_records_its_landmark_model_and_both_crop_boxes(
    predicted_run, landmark_checkpoint, phantom
):
    run = predicted_run / "run"
    metrics = json.loads((run / "metrics.json").read_text())
    identity = load_landmark_model(landmark_checkpoint).identity
    assert metrics["landmarks"] == {
        "source": "predicted",
        "identity": identity,
        "ckpt": str(landmark_checkpoint),
    }
    boxes = pd.read_csv(run / "crop_boxes.csv", dtype={"stem": str})
    tested = pd.read_csv(run / "predictions.csv", dtype={"stem": str})
    assert sorted(boxes["stem"]) == sorted(tested["stem"])
    assert boxes["iou"].between(0, 1).all()
    # The LabelMe files the crops read: one per film, under the cache, named by the model.
    folder = predicted_run / "cache" / "landmarks" / identity[:24]
    assert len(list(folder.glob("*.json"))) == len(load_index(phantom.root))


def test_the_cache_key_changes_with_the_landmark_model(phantom, landmark_checkpoint, tmp_path):
    other = tmp_path / "other.ckpt"
    stored = torch.load(landmark_checkpoint, map_location="cpu", weights_only=True)
    head = next(
        k for k in stored["state_dict"] if k.endswith("head.final.bias") or k.endswith(".bias")
    )
    stored["state_dict"][head] = stored["state_dict"][head] + 1.0
    torch.save(stored, other)
    index = load_index(phantom.root).head(3)
    pre = Preprocessor(crop=KeypointCrop(), image_size=32)
    keys = {
        fingerprint(with_landmark_source(index, predicted_landmarks(c, tmp_path)), pre, 64, 10**8)
        for c in (landmark_checkpoint, other)
    }
    keys.add(fingerprint(index, pre, 64, 10**8))  # the annotated landmarks
    assert len(keys) == 3


def test_predict_on_bare_pngs_runs_the_landmark_model(predicted_run, phantom, tmp_path):
    run = predicted_run / "run"
    tested = pd.read_csv(run / "predictions.csv", dtype={"stem": str})
    bare = tmp_path / "films"  # PNGs only: no LabelMe file beside them or in datasets-JSON/
    bare.mkdir()
    for stem in tested["stem"]:
        shutil.copy(Path(phantom.root) / "datasets-PNG" / f"{stem}.png", bare)
    out = tmp_path / "scores.csv"
    predict(compose_config("predict", [f"run={run}", f"input={bare}", f"out={out}"]))
    scores = pd.read_csv(out, dtype={"stem": str}).set_index("stem").loc[tested["stem"]]
    np.testing.assert_allclose(scores["prob_diseased"], tested["prob_diseased"], atol=1e-6)


def test_predicted_landmark_files_read_back_as_the_model_placed_them(
    landmark_checkpoint, phantom, tmp_path
):
    model = load_landmark_model(landmark_checkpoint)
    film = sorted((Path(phantom.root) / "datasets-PNG").glob("*.png"))[0]
    [written] = predicted_annotations(model, [film], tmp_path)
    placed, (width, height) = film_landmarks(model, film)
    annotation = read_annotation(written)
    assert annotation.size == (width, height)
    for name, (x, y) in placed.items():
        assert annotation.keypoints[name] == pytest.approx(
            (min(max(x, 0), width), min(max(y, 0), height))
        )


def test_preview_shows_predicted_landmarks_beside_the_annotated_ones(
    phantom, landmark_checkpoint, tmp_path
):
    common = [
        "data=csxa",
        f"data.root={phantom.root}",
        f"paths.cache_dir={tmp_path / 'cache'}",
        "crop=tight",
        "image_size=32",
    ]
    sheets = {}
    for name, extra in (
        ("annotated", []),
        ("predicted", ["landmarks=predicted", f"landmarks.ckpt={landmark_checkpoint}"]),
    ):
        written = preview(compose_config("preview", [*common, *extra, f"out={tmp_path / name}"]))
        sheet = next(p for p in written if p.name.endswith("__contact_sheet.png"))
        sheets[name] = cv2.imread(str(sheet))
        stem = sheet.name.split("__")[0]
        model_input = cv2.imread(
            str(tmp_path / name / f"{stem}__tight__none.png"), cv2.IMREAD_UNCHANGED
        )
        crop_json = (
            tmp_path
            / "cache"
            / "landmarks"
            / load_landmark_model(landmark_checkpoint).identity[:24]
            / f"{stem}.json"
            if name == "predicted"
            else Path(phantom.root) / "datasets-JSON" / f"{stem}.json"
        )
        expected = preprocess_file(
            Preprocessor(crop=KeypointCrop(), image_size=32),
            str(Path(phantom.root) / "datasets-PNG" / f"{stem}.png"),
            str(crop_json),
        )[0, 0]
        np.testing.assert_array_equal(model_input, expected)  # the crop training would cut
    # One more tile: the film with the model's landmarks and boxes.
    assert sheets["predicted"].shape[1] > sheets["annotated"].shape[1]
