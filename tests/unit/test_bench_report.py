"""The benchmark's timing window and its table, without training anything."""

from __future__ import annotations

import argparse

import pytest

from csxa_lightning.bench.settings import Settings, epoch_window
from csxa_lightning.bench.training_report import report, with_ratios


class FakeDataModule:
    def __init__(self, batches: int) -> None:
        self.batches = batches

    def train_dataloader(self) -> list:
        return [None] * self.batches


def settings() -> Settings:
    args = argparse.Namespace(
        model="resnet50", image_size=224, quick=False, batch_size=None, warmup=None,
        steps=None, n=None, workers=2,
    )  # fmt: skip
    return Settings.for_device(args, cuda=True)


def test_on_a_gpu_end_to_end_times_one_whole_epoch_after_a_warm_up_epoch():
    base = settings()
    assert (base.batch_size, base.warmup, base.steps, base.n) == (256, 10, 40, 4963)
    window = epoch_window(base, FakeDataModule(29), cuda=True)
    assert (window.warmup, window.steps) == (29, 29)
    assert (base.warmup, base.steps) == (10, 40)  # the model-only settings are unchanged
    assert epoch_window(base, FakeDataModule(29), cuda=False) == base


def results(**extra) -> dict:
    return {
        "device": "NVIDIA H200",
        "precision": "bf16-mixed",
        "batch_size": 256,
        "input_pipeline": "device",
        "loader_workers": 0,
        "settings": {
            "model": "resnet50",
            "image_size": 224,
            "steps": 40,
            "warmup": 10,
            "workers": 16,
        },  # fmt: skip
        "end_to_end_window": {"warmup": 29, "steps": 29},
        "model_only_img_s": 4000.0,
        "end_to_end_img_s": 3800.0,
        "model_only_peak_gib": 11.08,
        "end_to_end_peak_gib": 11.09,
        **extra,
    }


def test_the_table_lists_what_was_measured_and_its_ratios_only():
    measured = results(naive_img_s=400.0)
    with_ratios(measured)
    assert measured["end_to_end_over_model_only"] == pytest.approx(0.95)
    assert measured["end_to_end_over_naive"] == pytest.approx(9.5)
    assert "loader_cached_over_naive" not in measured
    table = report(measured)
    assert "29 timed steps after 29" in table and "400.0 img/s  (per-image decode" in table
    assert "loader_cached" not in table
    assert "end_to_end / model_only" in table and "0.95" in table
    assert "model_only 11.08 GiB, end_to_end 11.09 GiB" in table


def test_a_failed_compilation_is_reported_not_raised():
    table = report(results(end_to_end_compiled_error="BackendCompilerFailed: no cc"))
    assert "end_to_end compiled: failed: BackendCompilerFailed: no cc" in table
