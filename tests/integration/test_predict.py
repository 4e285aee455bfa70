"""Prediction from a checkpoint alone: a run's test images get the probabilities and labels of
its predictions.csv; user mistakes end as one clear line."""

from __future__ import annotations

import shutil
import subprocess

import cv2
import numpy as np
import pandas as pd
import pytest

from csxa_lightning.inference.inputs import MissingAnnotationError
from csxa_lightning.inference.loading import CheckpointError
from csxa_lightning.inference.predict import predict
from csxa_lightning.inference.scoring import ScoringInputError
from csxa_lightning.utils.errors import exit_on_user_error
from tests.helpers import compose_config, run_module


def predict_config(*overrides: str):
    return compose_config("predict", list(overrides))


def test_predict_equals_the_runs_own_predictions_csv(tiny_run, tmp_path):
    out = tmp_path / "predicted.csv"
    # The whole PNG folder; landmarks found in CSXA's sibling datasets-JSON/ without being told.
    rows = predict(
        predict_config(
            f"ckpt={tiny_run.checkpoint}",
            f"input={tiny_run.dataset / 'datasets-PNG'}",
            f"out={out}",
            "batch_size=4",  # several batches, and not the run's test batch size
        )
    )
    written = pd.read_csv(out, dtype={"stem": str})
    assert list(written.columns) == [
        "file",
        "case_id",
        "stem",
        "prob_diseased",
        "pred",
        "threshold",
    ]
    assert len(written) == len(list((tiny_run.dataset / "datasets-PNG").glob("*.png")))
    assert (written["threshold"] == 0.5).all()
    assert rows["stem"].tolist() == written["stem"].tolist()

    expected = tiny_run.predictions
    got = written.set_index("stem").loc[expected["stem"]]
    assert len(expected) >= 5
    np.testing.assert_allclose(got["prob_diseased"], expected["prob_diseased"], rtol=0, atol=1e-6)
    assert got["pred"].tolist() == expected["pred"].tolist()
    assert got["case_id"].tolist() == expected["case_id"].tolist()


def test_run_folder_gives_the_csv_of_its_tested_checkpoint(tiny_run, tmp_path):
    """run=DIR: the checkpoint the run's metrics.json names, the same CSV as ckpt=FILE."""
    films = [str(tiny_run.png(s)) for s in tiny_run.predictions["stem"][:3]]
    inputs = f"input=[{','.join(films)}]"
    by_checkpoint, by_run = tmp_path / "by_checkpoint.csv", tmp_path / "by_run.csv"
    predict(predict_config(f"ckpt={tiny_run.checkpoint}", inputs, f"out={by_checkpoint}"))
    predict(predict_config(f"run={tiny_run.folder}", inputs, f"out={by_run}"))
    assert by_run.read_text() == by_checkpoint.read_text()


def test_a_keypoint_crop_without_landmarks_names_the_image_and_the_fix(tiny_run, tmp_path):
    folder = tmp_path / "pngs"
    folder.mkdir()
    for stem in tiny_run.predictions["stem"][:2]:
        shutil.copy(tiny_run.png(stem), folder)
    cfg = predict_config(f"ckpt={tiny_run.checkpoint}", f"input={folder}", f"out={tmp_path / 'x'}")
    with pytest.raises(MissingAnnotationError) as caught:
        predict(cfg)
    message = str(caught.value)
    first = sorted(folder.iterdir())[0]
    assert message.startswith(f"{first}: crop=tight")
    assert f"{first.stem}.json" in message and "(and 1 more image(s)" in message
    assert "annotations=DIR" in message
    assert not (tmp_path / "x").exists()

    # Told where they are, it works.
    annotations = tmp_path / "json"
    annotations.mkdir()
    for png in folder.iterdir():
        shutil.copy(tiny_run.annotation(png.stem), annotations)
    predict(predict_config(*cfg_overrides(cfg), f"annotations={annotations}"))
    assert len(pd.read_csv(tmp_path / "x")) == 2


def cfg_overrides(cfg) -> list[str]:
    return [f"{k}={cfg[k]}" for k in ("ckpt", "input", "out")]


def test_an_unreadable_png_and_a_missing_checkpoint_are_user_errors(tiny_run, tmp_path):
    stem = tiny_run.predictions["stem"][0]
    folder = tmp_path / "datasets-PNG"
    folder.mkdir()
    (folder / f"{stem}.png").write_bytes(b"not a png")
    shutil.copytree(tiny_run.annotation(stem).parent, tmp_path / "datasets-JSON")
    with pytest.raises(ScoringInputError, match=rf"{stem}\.png: not a readable image .*input="):
        predict(predict_config(f"ckpt={tiny_run.checkpoint}", f"input={folder}"))
    with pytest.raises(CheckpointError, match=r"nope\.ckpt: no such checkpoint; pass ckpt="):
        predict(predict_config(f"ckpt={tmp_path / 'nope.ckpt'}", f"input={folder}"))
    with pytest.raises(ScoringInputError, match="input= is required"):
        predict(predict_config(f"ckpt={tiny_run.checkpoint}"))


def run_cli(*arguments: str, cwd) -> subprocess.CompletedProcess:
    return run_module("csxa_lightning.predict", *arguments, cwd=cwd, timeout=300)


def test_cli_writes_the_csv_and_the_overlays(tiny_run, tmp_path):
    stems = tiny_run.predictions["stem"][:3].tolist()
    files = ",".join(str(tiny_run.png(s)) for s in stems)
    # The spelling (+out=, +cam=) works on the declared keys; two reader processes.
    result = run_cli(
        f"ckpt={tiny_run.checkpoint}",
        f"input=[{files}]",
        "+out=scored/out.csv",
        "+cam=true",
        "num_workers=2",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    written = pd.read_csv(tmp_path / "scored" / "out.csv", dtype={"stem": str})
    assert written["stem"].tolist() == stems
    size = 64  # the run's image_size
    for cam in written["cam"]:
        picture = cv2.imread(str(tmp_path / cam))
        assert picture.shape == (size, size, 3)
    assert sorted(p.name for p in (tmp_path / "scored").iterdir()) == ["out.csv", "out_cam"]


def test_a_user_error_ends_the_command_in_one_line(tiny_run, tmp_path):
    """What main() does with it: SystemExit("error: ...") prints that line and exits 1."""
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    stem = tiny_run.predictions["stem"][0]
    shutil.copy(tiny_run.png(stem), lonely)
    cfg = predict_config(f"ckpt={tiny_run.checkpoint}", f"input={lonely}")
    with pytest.raises(SystemExit) as caught, exit_on_user_error():
        predict(cfg)
    message = caught.value.code
    assert isinstance(message, str) and "\n" not in message
    assert message.startswith(f"error: {lonely / stem}.png: crop=tight")
