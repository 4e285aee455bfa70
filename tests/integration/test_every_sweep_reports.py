"""Every --multirun ends with its report and starts with the variant check (the Hydra callbacks
of conf/hydra/default.yaml), not only experiment=table1: a plain sweep of two crops, in a
subprocess as a user types it."""

from __future__ import annotations

import pytest

from tests.helpers import TINY_TRAINING, run_module


@pytest.mark.slow  # two tiny trainings in a subprocess: about a minute
def test_a_plain_multirun_writes_its_report(phantom, tmp_path):
    sweep = tmp_path / "sweep"
    result = run_module(
        "csxa_lightning.train", "--multirun", *TINY_TRAINING, "data=csxa",
        f"data.root={phantom.root}", f"paths.log_dir={tmp_path}",
        f"paths.cache_dir={tmp_path / 'cache'}", "crop=none,wide", f"hydra.sweep.dir={sweep}",
        cwd=tmp_path, timeout=600,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert f"report: {sweep / 'report.html'}" in result.stdout
    report = (sweep / "report.md").read_text()
    assert "Original" in report and "Wide cropped" in report
    assert len((sweep / "report.csv").read_text().splitlines()) == 3  # header and two runs


@pytest.mark.slow  # a subprocess: tens of seconds
def test_a_plain_multirun_whose_variants_collapse_is_refused_before_its_first_job(tmp_path):
    result = run_module(
        "csxa_lightning.train", "--multirun", *TINY_TRAINING,
        "+variant=original,cropped", "crop=tight", f"paths.log_dir={tmp_path}",
        f"hydra.sweep.dir={tmp_path / 'sweep'}", cwd=tmp_path, timeout=300,
    )  # fmt: skip
    assert result.returncode == 1
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith("error: crop=tight makes +variant=original and +variant=cropped the same run")
    )
    assert not (tmp_path / "sweep").exists()
