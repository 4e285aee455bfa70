"""A tiny but complete run: phantom set -> split -> train -> test -> files a user reads."""

from __future__ import annotations

import importlib.metadata
import json
import platform
from pathlib import Path

import cv2
import pandas as pd
import pytest
import torch
import torchvision
from hydra.utils import instantiate

from csxa_lightning.data.sampler import batch_bounds
from csxa_lightning.runs.summary import sweep_objective
from csxa_lightning.training.run import train
from tests.helpers import PHANTOM_N, compose_train_config, git_head, run_module

TINY = [
    "model=resnet18",
    "model.pretrained=none",
    "image_size=64",
    "trainer=cpu",
    "trainer.max_epochs=1",
    "data.batch_size=8",
    "data.num_workers=0",
]


def test_phantom_run_writes_split_predictions_and_metrics(tmp_path):
    out, cache = tmp_path / "run", tmp_path / "cache"
    cfg = compose_train_config(
        TINY
        + [
            "protocol=strict",  # stratified, with a validation slice selecting the checkpoint
            f"paths.output_dir={out}",
            f"paths.cache_dir={cache}",
            "data=phantom",
            "data.phantom.n=40",
            "data.phantom.healthy_fraction=0.3",
        ]
    )
    metrics = train(cfg)

    # data=phantom generated its set into the cache dir, completely
    generated = [p for p in (cache / "phantom").iterdir() if p.is_dir()]  # beside: its lock
    assert len(generated) == 1 and (generated[0] / ".complete").exists()
    assert len(list((generated[0] / "datasets-PNG").iterdir())) == 40

    split = pd.read_csv(out / "split.csv")
    assert len(split) == 40 and split["case_id"].is_unique
    assert split["split"].value_counts().to_dict() == {"train": 27, "test": 10, "val": 3}

    predictions = pd.read_csv(out / "predictions.csv")
    test_ids = set(split.loc[split["split"] == "test", "case_id"])
    assert len(predictions) == 10 and set(predictions["case_id"]) == test_ids
    assert list(predictions.columns) == ["case_id", "stem", "label", "prob_diseased", "pred"]
    assert predictions["prob_diseased"].between(0, 1).all()
    assert (predictions["pred"] == (predictions["prob_diseased"] >= 0.5)).all()
    merged = predictions.merge(split, on="case_id", suffixes=("", "_split"))
    assert (merged["label"] == merged["label_split"]).all()

    saved = json.loads((out / "metrics.json").read_text())
    assert saved == json.loads(json.dumps(metrics))
    assert saved["n"] == 10 and saved["n_healthy"] == 3
    assert saved["accuracy"] == pytest.approx((predictions["pred"] == predictions["label"]).mean())
    assert saved["accuracy_ci_low"] <= saved["accuracy"] <= saved["accuracy_ci_high"]
    assert saved["selected_by"] == "val/loss" and Path(saved["checkpoint"]).is_file()
    # The sweep objective is the selecting validation loss, never a test metric.
    logged = pd.read_csv(out / "logs" / "metrics.csv")["val/loss"].dropna()
    assert saved["selection_score"] == pytest.approx(logged.min(), rel=1e-5)
    assert sweep_objective(saved) == saved["selection_score"]
    assert saved["protocol"] == "strict"
    # What trained it: the versions imported here, the CPU, this checkout's commit.
    env = saved["environment"]
    assert env["torch"] == importlib.metadata.version("torch")
    assert env["opencv"] == cv2.__version__ and env["python"] == platform.python_version()
    assert (env["accelerator"], env["cuda"], env["cudnn"]) == ("cpu", None, None)
    assert (env["commit"] or "").split("+")[0] == git_head()
    strict = {d["setting"] for d in saved["departures"]}
    assert {"data.stratify", "data.val_fraction", "callbacks.model_checkpoint.monitor"} <= strict
    # A finished run keeps only the tested checkpoint, without the state to train further
    # (predict, export and the report read it: their tests use such a run); last.ckpt, only
    # for resuming, is gone.
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == [
        Path(saved["checkpoint"]).name
    ]
    kept = torch.load(saved["checkpoint"], weights_only=True)
    assert "optimizer_states" not in kept and "lr_schedulers" not in kept
    assert {"state_dict", "hyper_parameters", "CSXADataModule", "csxa_decision"} <= set(kept)
    assert saved["arch"] == "resnet18"
    # The folder the images came from, and Lightning's precision under its own name.
    assert saved["dataset_root"] == str(generated[0])
    assert "precision" not in saved and saved["trainer_precision"].endswith(("-true", "-mixed"))


def test_without_validation_the_last_epoch_is_tested(phantom, tmp_path):
    out = tmp_path / "run"
    cfg = compose_train_config(
        TINY
        + [
            f"paths.output_dir={out}",
            "data=csxa",
            f"data.root={phantom.root}",
            "protocol=paper",  # the default: plain random 75/25 split, no validation slice
            "trainer.max_epochs=2",
            "callbacks.model_checkpoint.keep_last=true",
        ]
    )
    metrics = train(cfg)
    split = pd.read_csv(out / "split.csv")
    assert set(split["split"]) == {"train", "test"}
    assert split["split"].value_counts().to_dict() == {"train": 30, "test": 10}
    assert metrics["selected_by"] == "last epoch" and metrics["n_val"] == 0
    # What the run records about its protocol (metrics.json): the name, the departures from
    # the paper that remain, the optimizer steps taken, and no sweep objective (no validation).
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["protocol"] == "paper" and saved["variant"] is None
    assert Path(saved["dataset_root"]) == Path(phantom.root).expanduser()
    assert saved["selection_score"] is None and sweep_objective(saved) is None
    listed = {d["setting"]: d for d in saved["departures"]}
    assert not {"data.stratify", "data.val_fraction", "callbacks.model_checkpoint.monitor"} & set(
        listed
    )
    assert listed["model.pretrained"]["ours"] == "none"  # TINY trains from scratch
    assert listed["image_size"] == {
        "setting": "image_size",
        "ours": "64",
        "paper": "224 x 224",
        "why": "the network sees coarser or finer detail than the paper's",
    }
    # 2 epochs of batches of 8 (a remainder of one folded in): what the report shows.
    assert saved["optimizer_steps"] == 2 * len(batch_bounds(saved["train_samples"], 8))
    assert Path(metrics["checkpoint"]).name == "epoch001.ckpt"  # epochs 0 and 1: the last
    assert len(pd.read_csv(out / "predictions.csv")) == len(split[split["split"] == "test"])
    # keep_last=true: last.ckpt stays, whole (during training it was a link to the epoch's
    # checkpoint: one write per epoch), with the state to train further; the tested
    # checkpoint loses that state.
    last = out / "checkpoints" / "last.ckpt"
    assert last.is_file() and not last.is_symlink()
    assert sorted(p.name for p in last.parent.iterdir()) == ["epoch001.ckpt", "last.ckpt"]
    assert "optimizer_states" in torch.load(last, weights_only=True)
    assert "optimizer_states" not in torch.load(metrics["checkpoint"], weights_only=True)
    # The training metrics, updated once per epoch, are logged for every epoch.
    logged = pd.read_csv(out / "logs" / "metrics.csv")
    per_epoch = logged.dropna(subset=["train/acc"])
    assert per_epoch["epoch"].tolist() == [0, 1]
    for name in ("train/acc", "train/bal_acc", "train/auroc"):
        assert per_epoch[name].between(0, 1).all(), name
    assert (per_epoch["train/loss"] > 0).all()


def test_command_line_run_names_its_folder_after_the_overrides(phantom, tmp_path):
    overrides = TINY + ["data=csxa", f"data.root={phantom.root}", f"paths.log_dir={tmp_path}"]
    result = run_module("csxa_lightning.train", *overrides, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    runs = list((tmp_path / "train" / "runs").iterdir())
    assert len(runs) == 1
    # data.root and paths.* are left out of the name: it says what was run, not where from
    assert runs[0].name == ",".join(
        sorted(o for o in overrides if not o.startswith(("data.root", "paths.")))
    )
    (run_dir,) = list(runs[0].iterdir())
    for name in ("metrics.json", "predictions.csv", "split.csv", ".hydra/config.yaml"):
        assert (run_dir / name).is_file(), name
    assert f"metrics: {run_dir / 'metrics.json'}" in result.stdout
    saved = json.loads((run_dir / "metrics.json").read_text())
    assert saved["protocol"] == "paper" and saved["variant"] is None  # the defaults
    assert len(pd.read_csv(run_dir / "split.csv")) == PHANTOM_N


@pytest.mark.parametrize("arch", ["resnet50", "vgg19", "resnet18"])
def test_every_model_config_composes_and_builds(arch, tmp_path):
    cfg = compose_train_config(
        [f"model={arch}", "model.pretrained=none", f"paths.output_dir={tmp_path}"]
    )
    assert cfg.model.optimizer.lr == 3e-4 and cfg.model.scheduler.step_size == 5
    assert cfg.model.scheduler.gamma == 0.5 and cfg.trainer.max_epochs == 30
    model = instantiate(cfg.model)
    assert model.hparams.arch == arch
    optimizers = model.configure_optimizers()
    assert type(optimizers["optimizer"]).__name__ == "Adam"


def test_csxa_without_a_folder_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.delenv("CSXA_ROOT", raising=False)
    cfg = compose_train_config(["data=csxa", f"paths.output_dir={tmp_path}"])
    with pytest.raises(Exception, match=r"data.root=/path/to/CSXA.*doi:10.57760/sciencedb.15391"):
        instantiate(cfg.data)


def test_weights_path_override_reaches_the_backbone(tmp_path):
    reference = torchvision.models.resnet18(weights=None)
    path = tmp_path / "my-resnet18.pth"
    torch.save(reference.state_dict(), path)
    cfg = compose_train_config(
        ["model=resnet18", f"model.weights_path={path}", f"paths.output_dir={tmp_path}"]
    )
    model = instantiate(cfg.model)
    assert torch.equal(model.net.conv1.weight, reference.conv1.weight)
    assert model.net.fc.out_features == 2


def test_command_line_reports_a_missing_dataset_in_one_line(tmp_path):
    result = run_module(
        "csxa_lightning.train",
        "data=csxa",
        f"data.root={tmp_path / 'CSXA'}",
        f"paths.log_dir={tmp_path}",
        "model.pretrained=none",  # the weights are checked first; no download in tests
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: CSXA folder not found: {tmp_path / 'CSXA'}")
    assert "doi:10.57760/sciencedb.15391" in last
    assert "Traceback" not in result.stderr
