"""A training run's console says what the run did, without known third-party noise."""

from __future__ import annotations

import pytest

from tests.helpers import phantom_command_line, run_module

NOISE = (
    "Tip: For seamless cloud logging",  # Lightning's litlogger advert
    "LeafSpec",  # torch's deprecation of a class Lightning's _pytree.py still uses
    "is smaller than the logging interval",  # log_every_n_steps longer than an epoch
)


@pytest.mark.slow  # a subprocess run of tens of seconds: make test-all
def test_a_training_run_prints_no_known_noise(phantom, tmp_path):
    result = run_module(
        "csxa_lightning.train",
        # TINY_TRAINING: 27 training films in batches of 16: 2 batches, interval 10
        *phantom_command_line(phantom.root, tmp_path / "cache", tmp_path / "outputs"),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    console = result.stdout + result.stderr
    assert [n for n in NOISE if n in console] == []
    assert console.count("metrics: ") == 1 and "test balanced accuracy" in console
