"""A training job and its run folder: one job per folder, checks before any data work, a loss
that becomes NaN stops the run, and an interrupted run says how to resume it -- the command it
prints works when pasted, and the resumed run keeps every epoch's curves."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import time

import pandas as pd
import pytest
import torch

from csxa_lightning.models.backbones import WeightsNotFoundError
from csxa_lightning.results.document import build_report
from csxa_lightning.runs.lock import LOCK_FILE, RunLockedError
from csxa_lightning.training import run_job
from csxa_lightning.training.divergence import NonFiniteLossError
from csxa_lightning.training.run import train
from tests.helpers import (
    REPO,
    TINY_TRAINING,
    compose_train_config,
    phantom_command_line,
    run_module,
)


def hold(folder, pid, host=None, started="2026-01-01T08:00:00+00:00"):
    folder.mkdir(parents=True, exist_ok=True)
    holder = {"host": host or socket.gethostname(), "pid": pid, "started": started}
    (folder / LOCK_FILE).write_text(json.dumps(holder))


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


# --- one job per run folder -------------------------------------------------------------------


@pytest.mark.slow  # about 18 s (two training processes): make test stays under 10 min
def test_of_two_concurrent_jobs_on_one_folder_exactly_one_trains(phantom, tmp_path):
    folder = tmp_path / "run=1,x=2"
    arguments = [
        *phantom_command_line(phantom.root, tmp_path / "cache"),
        "+callbacks.sleep._target_=tests.helpers.SleepAtFitStart",
        "+callbacks.sleep.seconds=8",
        f'hydra.run.dir="{folder}"',
    ]
    env = dict(os.environ, PYTHONPATH=str(REPO), HYDRA_FULL_ERROR="0")
    command = [sys.executable, "-m", "csxa_lightning.train", *arguments]
    first = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (folder / LOCK_FILE).exists() and first.poll() is None:
        assert time.monotonic() < deadline, "the first job never took the lock"
        time.sleep(0.2)
    second = run_module("csxa_lightning.train", *arguments, cwd=tmp_path, timeout=300)
    first_out, _ = first.communicate(timeout=300)

    assert first.returncode == 0 and "metrics: " in first_out
    assert second.returncode == 1
    lines = second.stderr.strip().splitlines()
    assert lines[-1].startswith(f"error: {folder}: another job is training this run (host ")
    assert f"pid {first.pid}, since " in lines[-1]
    assert (second.stderr + second.stdout).count("another job is training this run") == 1
    assert "training" not in second.stdout.lower().replace("is training this run", "")
    assert (folder / "metrics.json").exists() and not (folder / LOCK_FILE).exists()


def test_in_a_sweep_a_held_folder_is_skipped_with_one_line(
    phantom_run_cfg, tmp_path, monkeypatch, caplog
):
    folder = tmp_path / "run"  # the fixture's
    hold(folder, os.getppid())  # a live process on this host
    monkeypatch.setattr(run_job, "in_multirun", lambda: True)
    with caplog.at_level(logging.WARNING, logger="csxa_lightning"):
        assert train(phantom_run_cfg) == {}  # the sweep goes on with its next run
    (line,) = [r.getMessage() for r in caplog.records if "another job" in r.getMessage()]
    assert line.startswith(f"skipped: {folder}: another job is training this run (host ")
    assert f"pid {os.getppid()}, since 2026-01-01T08:00:00+00:00" in line
    assert sorted(p.name for p in folder.iterdir()) == [LOCK_FILE]  # nothing trained, lock kept
    assert not (tmp_path / "cache").exists()  # nor any data work

    monkeypatch.setattr(run_job, "in_multirun", lambda: False)
    with pytest.raises(RunLockedError, match="another job is training this run"):
        train(phantom_run_cfg)  # alone: the command ends with that line


@pytest.mark.parametrize("lock", ["dead process, this host", "old, another host"])
def test_a_stale_lock_is_taken_over_and_the_run_trains(phantom_run_cfg, tmp_path, lock):
    folder = tmp_path / "run"  # the fixture's
    if lock == "dead process, this host":
        hold(folder, dead_pid())
    else:
        hold(folder, 1, host="node-that-died", started="2020-01-01T00:00:00+00:00")
    metrics = train(phantom_run_cfg)
    assert metrics["epochs"] == 1 and (folder / "metrics.json").exists()
    assert not (folder / LOCK_FILE).exists()  # released when the job ended


def test_a_recent_lock_from_another_host_is_respected(phantom_run_overrides, tmp_path):
    folder = tmp_path / "run"  # the fixture's
    started = pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds")
    hold(folder, 1, host="node-still-training", started=started)
    cfg = compose_train_config([*phantom_run_overrides, "run_lock.stale_after_hours=1"])
    with pytest.raises(RunLockedError, match="host node-still-training, pid 1"):
        train(cfg)


def test_the_report_lists_runs_in_progress_and_interrupted(tiny_run, tmp_path):
    sweep = tmp_path / "sweep"
    shutil.copytree(tiny_run.folder, sweep / "crop=tight")
    running = sweep / "crop=wide"
    (running / ".hydra").mkdir(parents=True)
    shutil.copy(tiny_run.folder / ".hydra" / "config.yaml", running / ".hydra" / "config.yaml")
    hold(running, os.getppid())
    interrupted = sweep / "crop=none"
    shutil.copytree(running / ".hydra", interrupted / ".hydra")
    (interrupted / "checkpoints").mkdir()
    (interrupted / "checkpoints" / "last.ckpt").write_bytes(b"checkpoint")

    paths = build_report(sweep, cam_examples=0)

    report = paths["md"].read_text()
    assert "## Runs not finished" in report
    assert f"| `crop=wide` | in progress (host {socket.gethostname()}, pid {os.getppid()}" in report
    assert "| `crop=none` | interrupted (no job holds it" in report
    assert "1 run(s) from" in report  # the finished one is the report's


# --- fail fast -------------------------------------------------------------------------------


def test_missing_weights_stop_the_run_before_any_data_work(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    out = tmp_path / "run"
    cfg = compose_train_config(
        [
            *TINY_TRAINING,
            "crop=wide",  # the example; data=phantom, the default
            "model.pretrained=imagenet",
            "model.download=false",
            f"paths.output_dir={out}",
            f"paths.cache_dir={tmp_path / 'cache'}",
        ]
    )
    with pytest.raises(WeightsNotFoundError, match="ImageNet weights for resnet18 not found"):
        train(cfg)
    assert not (tmp_path / "cache").exists()  # no phantom set, no cache entry
    assert not out.exists()  # no run folder either


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_trainer_gpu_without_a_gpu_is_one_line_before_any_data_work(tmp_path):
    result = run_module(
        "csxa_lightning.train",
        *TINY_TRAINING,
        "trainer=gpu",
        f"paths.log_dir={tmp_path}",
        f"paths.cache_dir={tmp_path / 'cache'}",
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 1
    output = result.stderr + result.stdout
    assert "Traceback" not in output
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith("error: trainer.accelerator=gpu: this machine has no CUDA GPU")
    )
    assert output.count("this machine has no CUDA GPU") == 1
    assert not (tmp_path / "cache").exists()
    # The failed run keeps its log (and the config Hydra saved), nothing else.
    (folder,) = tmp_path.glob("train/runs/*/*")
    assert sorted(p.name for p in folder.iterdir()) == [".hydra", "train.log"]


# --- no silent NaNs --------------------------------------------------------------------------


def test_a_loss_that_becomes_nan_stops_the_run_naming_epoch_and_step(
    phantom_run_overrides, tmp_path
):
    out = tmp_path / "run"  # the fixture's
    cfg = compose_train_config(
        [
            *phantom_run_overrides,
            "trainer.max_epochs=3",
            "+callbacks.nan._target_=tests.helpers.NaNWeightsAt",
            "+callbacks.nan.epoch=1",
            "+callbacks.nan.batch=1",
        ]
    )
    with pytest.raises(NonFiniteLossError) as caught:
        train(cfg)
    message = str(caught.value)
    assert re.match(r"the training loss is nan at epoch 1, step \d+: the run diverged", message)
    assert "model.optimizer.lr" in message and "trainer.precision=32-true" in message
    assert "reduced precision" not in message  # a 32-bit run: not a cause here
    assert not out.exists()  # a fresh run that failed leaves nothing (no metrics.json)


# --- resume as documented --------------------------------------------------------------------


@pytest.mark.parametrize(
    "signal",
    ["SIGINT", pytest.param("SIGTERM", marks=pytest.mark.slow)],  # SIGINT: make test
)
def test_an_interrupted_run_prints_a_resume_command_that_works_when_pasted(
    phantom, tmp_path, signal
):
    arguments = [
        *phantom_command_line(phantom.root, tmp_path / "cache", tmp_path / "outputs"),
        "trainer.max_epochs=3",
        "crop=wide",
        "+callbacks.interrupt._target_=tests.helpers.SignalOnce",
        "+callbacks.interrupt.epoch=2",
        f"+callbacks.interrupt.signal={signal}",
    ]
    interrupted = run_module("csxa_lightning.train", *arguments, cwd=tmp_path, timeout=300)
    output = interrupted.stdout + interrupted.stderr
    # Never 0: a scheduler, or `train && report`, must not read an interrupted run as done.
    assert interrupted.returncode == {"SIGINT": 1, "SIGTERM": 143}[signal], output
    (folder,) = (tmp_path / "outputs").glob("train/runs/*/*")
    assert "=" in folder.parent.name and "," in folder.parent.name  # the names that broke it
    assert f"interrupted: the run in {folder} can resume" in output
    assert output.count("Resume it with:") == 1
    command = output.split("Resume it with:\n", 1)[1].splitlines()[0].strip()
    assert not (folder / "metrics.json").exists() and not (folder / LOCK_FILE).exists()

    env = dict(os.environ, PYTHONPATH=str(REPO), HYDRA_FULL_ERROR="0")
    resumed = subprocess.run(
        command, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resuming the interrupted run" in resumed.stdout + resumed.stderr
    assert (folder / "metrics.json").exists()
    assert json.loads((folder / "metrics.json").read_text())["epochs"] == 3
    curves = pd.read_csv(folder / "logs" / "metrics.csv")
    trained = curves.dropna(subset=["train/loss"])
    assert sorted(trained["epoch"]) == [0, 1, 2]  # every epoch, each once
    assert sorted(curves.dropna(subset=["val/loss"])["epoch"]) == [0, 1, 2]
