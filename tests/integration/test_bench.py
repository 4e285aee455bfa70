"""The benchmark and the GPU check script, run as a user runs them, at CPU size (slow)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RATES = (
    "model_only_img_s",
    "end_to_end_img_s",
    "naive_img_s",
    "loader_cached_img_s",
    "loader_naive_img_s",
)


@pytest.mark.slow
def test_make_bench_device_quick_writes_the_benchmark_and_the_baseline_run(tmp_path):
    out = tmp_path / "out"
    venv_python = REPO / ".venv" / "bin" / "python"
    result = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "bench-device",
            f"OUT={out}",
            "DEVICE_ARGS=--quick --cache-dir " + str(tmp_path / "cache"),
            f"DEVICE_PYTHON={venv_python}",
            f"WHEELS_DIR={tmp_path / 'no-wheels'}",  # the venv has every package already
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(p.name for p in out.iterdir()) == [
        "bench.json",
        "device.json",
        "device.txt",
        "gpu-tests.txt",
        "run.log",
    ]
    bench = json.loads((out / "bench.json").read_text())
    for rate in RATES:
        assert bench[rate] > 0, rate
    assert bench["end_to_end_over_model_only"] == pytest.approx(
        bench["end_to_end_img_s"] / bench["model_only_img_s"]
    )
    assert bench["settings"]["model"] == "resnet50" and bench["settings"]["image_size"] == 224
    assert bench["precision"] == "32-true" and bench["input_pipeline"] == "loader"
    assert {"torch", "lightning", "albumentations", "opencv"} <= set(bench["versions"])
    device = json.loads((out / "device.json").read_text())
    # No CUDA here: the GPU tests are collected and skipped, which pytest counts as success.
    assert device["gpu_tests"]["exit_code"] == 0 and "skipped" in device["gpu_tests"]["summary"]
    run = device["baseline_run"]
    assert run["epochs"] == 1 and run["train_samples_per_epoch"] > 0
    assert run["seconds"]["fit"] > 0 and run["test"]["n"] > 0
    text = (out / "device.txt").read_text()
    assert "end_to_end / model_only" in text and "baseline run (1 epochs" in text
