"""A checkpoint or a run folder from a colleague or a download is data, never code. Each payload
below passes torch's weights_only=True (it is plain data) and names something to call or a file
to touch; every command that reads it must end with one line naming the file, and write
nothing."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import torch

from csxa_lightning.data.preprocess import Preprocessor, PreprocessSpecError
from csxa_lightning.inference.export import export
from csxa_lightning.inference.loading import DATAMODULE_KEY, CheckpointError, load_trained_model
from csxa_lightning.models.classifier import DECISION_KEY
from csxa_lightning.results.cam_section import cam_section
from csxa_lightning.results.evaluation import evaluate
from csxa_lightning.runs.folder import load_run
from csxa_lightning.training.model_checkpoint import CheckpointStateError, RunModelCheckpoint
from csxa_lightning.utils.errors import UserError
from tests.helpers import compose_config, run_module

WRITER = "csxa_lightning.utils.whole_files.write_text_whole"


def write_payload(victim: Path) -> dict:
    """A spec that, called, would write victim (a .pth in site-packages runs at start-up)."""
    return {"_target_": WRITER, "path": str(victim), "text": "import os  # planted\n"}


def planted(tiny_run, folder: Path, where: str, victim: Path) -> Path:
    """A copy of the tiny run's checkpoint with a payload at `where`."""
    checkpoint = torch.load(tiny_run.checkpoint, map_location="cpu", weights_only=True)
    spec = checkpoint[DATAMODULE_KEY]["preprocess"]
    if where == "preprocess":
        checkpoint[DATAMODULE_KEY]["preprocess"] = write_payload(victim)
    elif where == "preprocess.crop":
        spec["crop"] = write_payload(victim)
    elif where == "preprocess.color.name":  # a non-plain value where text belongs
        spec["color"]["name"] = torch.zeros(1)
    elif where == "decision":
        checkpoint[DECISION_KEY] = {"threshold": 2.0, "run": write_payload(victim)}
    elif where == "hyper_parameters":
        checkpoint["hyper_parameters"]["optimizer"] = write_payload(victim)
    path = folder / f"{where}.ckpt"
    torch.save(checkpoint, path)
    return path


PLACES = ["preprocess", "preprocess.crop", "preprocess.color.name", "decision", "hyper_parameters"]
MESSAGES = {
    "preprocess": "is not one of the preprocessing classes a checkpoint may name",
    "preprocess.crop": "is not one of the preprocessing classes a checkpoint may name",
    "preprocess.color.name": "a Tensor where a spec holds text or numbers",
    "decision": "threshold=2.0 (a probability)",
    "hyper_parameters": "settings the model does not have (optimizer)",
}


@pytest.mark.parametrize("where", PLACES)
def test_loading_a_planted_checkpoint_writes_nothing_and_names_it(tiny_run, tmp_path, where):
    victim = tmp_path / "planted.pth"
    evil = planted(tiny_run, tmp_path, where, victim)
    with pytest.raises(UserError, match=re.escape(MESSAGES[where])) as raised:
        load_trained_model(evil)
    assert not victim.exists()
    assert str(raised.value).startswith(f"{evil}: ")  # the line names the file


@pytest.mark.slow  # a command in a subprocess: tens of seconds
def test_predict_on_a_planted_checkpoint_ends_with_one_line_and_no_file(tiny_run, tmp_path):
    victim = tmp_path / "planted.pth"
    evil = planted(tiny_run, tmp_path, "preprocess", victim)
    film = next((tiny_run.dataset / "datasets-PNG").iterdir())
    result = run_module(
        "csxa_lightning.predict", f"ckpt={evil}", f"input={film}", f"out={tmp_path / 'p.csv'}",
        cwd=tmp_path, timeout=300,
    )  # fmt: skip
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(evil) in lines[0]
    assert "preprocessing classes a checkpoint may name" in lines[0]
    assert not victim.exists() and not (tmp_path / "p.csv").exists()


def test_evaluate_and_export_refuse_it_before_writing(tiny_run, tmp_path):
    victim = tmp_path / "planted.pth"
    evil = planted(tiny_run, tmp_path, "preprocess.crop", victim)
    evaluated = compose_config(
        "evaluate", [f"ckpt={evil}", f"data.root={tiny_run.dataset}", f"out={tmp_path / 'ev'}"]
    )
    with pytest.raises(CheckpointError, match="may name"):
        evaluate(evaluated)
    with pytest.raises(CheckpointError, match="may name"):
        export(compose_config("export", [f"ckpt={evil}", f"out={tmp_path / 'm.onnx'}"]))
    assert not victim.exists() and not (tmp_path / "ev").exists()
    assert not (tmp_path / "m.onnx").exists()


def test_resuming_a_planted_last_ckpt_refuses_its_preprocessing(tiny_run, tmp_path):
    """What Lightning hands the datamodule from a resumed last.ckpt."""
    from csxa_lightning.data.datamodule import CSXADataModule

    victim = tmp_path / "planted.pth"
    datamodule = CSXADataModule.__new__(CSXADataModule)  # only its load_state_dict is used
    datamodule.preprocess = Preprocessor()
    with pytest.raises(PreprocessSpecError, match="may name"):
        datamodule.load_state_dict({"preprocess": write_payload(victim)})
    assert not victim.exists()


def test_a_report_over_a_planted_run_folder_draws_nothing_from_it(tiny_run, tmp_path):
    victim = tmp_path / "planted.pth"
    folder = tmp_path / "sweep" / "run"
    shutil.copytree(tiny_run.folder, folder)
    checkpoint = folder / "checkpoints" / tiny_run.checkpoint.name
    shutil.copyfile(planted(tiny_run, tmp_path, "preprocess", victim), checkpoint)
    section = cam_section([load_run(folder)], per_category=2)
    assert section.pictures == {} and not victim.exists()
    assert "preprocessing classes a checkpoint may name" in section.markdown


def test_a_resumed_checkpoint_state_stays_in_the_runs_folder(tmp_path):
    """Lightning would take these paths as written: test the 'best' file, write the decision
    rule into it, and delete the k-th best when a better epoch comes."""
    callback = RunModelCheckpoint(dirpath=tmp_path / "checkpoints", monitor="val/loss")
    here = Path(callback.dirpath)
    elsewhere = "/home/someone/project/checkpoints/epoch007.ckpt"
    callback.load_state_dict(
        {
            "monitor": "val/loss",
            "best_model_score": torch.tensor(0.3),
            "best_model_path": elsewhere,
            "current_score": torch.tensor(0.3),
            "dirpath": "/home/someone/project/checkpoints",
            "best_k_models": {elsewhere: torch.tensor(0.3)},
            "kth_best_model_path": elsewhere,
            "kth_value": torch.tensor(0.3),
            "last_model_path": "/home/someone/project/checkpoints/last.ckpt",
        }
    )
    assert callback.best_model_path == str(here / "epoch007.ckpt")
    assert callback.kth_best_model_path == str(here / "epoch007.ckpt")
    assert list(callback.best_k_models) == [str(here / "epoch007.ckpt")]
    assert callback.last_model_path == str(here / "last.ckpt")
    with pytest.raises(CheckpointStateError, match=r"best_model_path is '/home/u/.bashrc'"):
        callback.load_state_dict(
            {"best_model_path": "/home/u/.bashrc", "best_model_score": None, "dirpath": None}
        )


def test_a_report_over_an_edited_saved_config_calls_nothing_it_names(tiny_run, tmp_path):
    from omegaconf import OmegaConf

    from csxa_lightning.results.document import build_report

    victim = tmp_path / "planted.pth"
    sweep = tmp_path / "sweep"
    folder = sweep / "run"
    shutil.copytree(tiny_run.folder, folder)
    config = OmegaConf.load(folder / ".hydra" / "config.yaml")
    for node in ("model", "data", "trainer", "augment", "balance"):
        config[node] = {**OmegaConf.to_container(config[node]), **write_payload(victim)}
    config.callbacks = {"planted": write_payload(victim)}
    OmegaConf.save(config, folder / ".hydra" / "config.yaml")
    paths = build_report(sweep)
    assert not victim.exists()
    report = paths["md"].read_text()
    assert "Grad-CAM" in report and "## Software" in report
