"""Each debug preset and each callbacks preset runs a tiny training and does what it says."""

from __future__ import annotations

import json
import logging
from collections import Counter

import pandas as pd
import pytest

from csxa_lightning.training.run import train
from tests.helpers import compose_train_config


def run(phantom_run_overrides, tmp_path, *overrides):
    """A tiny run on the session's phantom (the phantom_run_overrides fixture); returns (output
    folder, trained batches as (epoch, indices) pairs)."""
    out, batches = tmp_path / "run", tmp_path / "batches.txt"
    cfg = compose_train_config(
        [
            *phantom_run_overrides,
            "data.num_workers=0",
            "+callbacks.record._target_=tests.helpers.RecordBatchIndices",
            f"+callbacks.record.path={batches}",
            *overrides,
        ]
    )
    train(cfg)
    lines = batches.read_text().split() if batches.exists() else []
    return out, [tuple(line.split(":")) for line in lines]


def per_epoch(batches):
    return sorted(Counter(int(epoch) for epoch, _ in batches).items())


def logged(out):
    return pd.read_csv(out / "logs" / "metrics.csv")


def test_fdr_trains_one_batch_and_writes_no_checkpoint(phantom_run_overrides, tmp_path):
    out, batches = run(phantom_run_overrides, tmp_path, "+debug=fdr")
    assert per_epoch(batches) == [(0, 1)]
    assert list(out.rglob("*.ckpt")) == []
    assert json.loads((out / "metrics.json").read_text())["n"] == 10  # the test still runs


def test_overfit_trains_the_same_batch_every_epoch(phantom_run_overrides, tmp_path):
    out, batches = run(phantom_run_overrides, tmp_path, "+debug=overfit", "trainer.max_epochs=3")
    assert per_epoch(batches) == [(0, 1), (1, 1), (2, 1)]
    assert len({indices for _, indices in batches}) == 1, batches


def test_limit_trains_a_few_batches_per_epoch_and_tests_every_image(
    phantom_run_overrides, tmp_path
):
    # Batches of 4: an epoch has about 10, more than the 3 the preset keeps. Two epochs: the
    # preset's max_epochs (2) gives way to a command-line value, here TINY_TRAINING's 1.
    out, batches = run(
        phantom_run_overrides, tmp_path, "+debug=limit", "data.batch_size=4", "trainer.max_epochs=2"
    )
    assert per_epoch(batches) == [(0, 3), (1, 3)]
    assert json.loads((out / "metrics.json").read_text())["n"] == 10  # every test image


def test_profiler_writes_where_the_time_went(phantom_run_overrides, tmp_path):
    out, batches = run(phantom_run_overrides, tmp_path, "+debug=profiler")
    profiles = list(out.glob("*profile*.txt"))
    assert profiles, sorted(p.name for p in out.iterdir())
    text = "\n".join(p.read_text() for p in profiles)
    assert "run_training_epoch" in text or "training_step" in text


def test_default_callbacks_log_the_learning_rate_and_keep_the_tested_checkpoint(
    phantom_run_overrides, tmp_path, caplog
):
    caplog.set_level(logging.INFO)
    out, _ = run(phantom_run_overrides, tmp_path)
    assert logged(out)["lr-Adam"].dropna().tolist() == [pytest.approx(3e-4)]
    assert [p.name for p in (out / "checkpoints").iterdir()] == ["epoch000.ckpt"]
    assert "net.layer1" in caplog.text  # model_summary: two levels deep


def test_callbacks_none_keeps_only_the_checkpoint(phantom_run_overrides, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    out, _ = run(phantom_run_overrides, tmp_path, "callbacks=none")
    assert "lr-Adam" not in logged(out).columns
    assert [p.name for p in (out / "checkpoints").iterdir()] == ["epoch000.ckpt"]
    assert "net.layer1" not in caplog.text and "net " in caplog.text  # Lightning's one level


def test_early_stopping_with_a_patience_stops_the_run(phantom_run_overrides, tmp_path):
    # No later epoch improves val/loss by 10: the run stops after patience (1) more epochs.
    out, batches = run(
        phantom_run_overrides,
        tmp_path,
        "trainer.max_epochs=5",
        "callbacks.early_stopping.patience=1",
        "+callbacks.early_stopping.min_delta=10",
    )
    assert [epoch for epoch, _ in per_epoch(batches)] == [0, 1]


def test_rich_progress_bar_preset_runs_beside_the_default_callbacks(
    phantom_run_overrides, tmp_path
):
    # rich is not in the lock: installed, it makes Lightning's rich bar and summary every run's
    # default. Skipped (and listed by -ra) where it is absent, as in make venv.
    pytest.importorskip("rich")
    # The tests' output is a pipe: the progress bar is off unless asked for (conf/trainer).
    preset = ["callbacks=[default,rich_progress_bar]", "trainer.enable_progress_bar=true"]
    out, batches = run(phantom_run_overrides, tmp_path, *preset)
    assert per_epoch(batches)[0][0] == 0 and (out / "metrics.json").is_file()
