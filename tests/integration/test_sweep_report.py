"""A small Table 1 sweep: two variants on a tiny phantom, a report when it ends, and a restart
that skips what finished."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.helpers import phantom_command_line, run_module


def run_sweep(phantom, tmp_path, *extra):
    command = [
        "--multirun",
        "experiment=table1",
        "+variant=original,cropped",
        *phantom_command_line(phantom.root, tmp_path / "cache"),
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
        *extra,
    ]
    result = run_module("csxa_lightning.train", *command, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.mark.slow  # a subprocess run of tens of seconds: make test-all
def test_sweep_ends_with_a_report_and_a_restart_skips_finished_runs(phantom, tmp_path):
    first = run_sweep(phantom, tmp_path)
    sweep = tmp_path / "sweep"
    runs = sorted(p.name for p in sweep.iterdir() if (p / "metrics.json").exists())
    assert len(runs) == 2
    assert runs[0].startswith("+variant=cropped,") and runs[1].startswith("+variant=original,")
    assert f"report: {sweep / 'report.html'}" in first.stdout
    assert (first.stdout + first.stderr).count("report: ") == 1  # said once
    table = pd.read_csv(sweep / "report.csv")
    assert sorted(table["variant"]) == ["Cropped (ResNet18)", "Original (ResNet18)"]
    split = pd.read_csv(next(sweep.glob("*/split.csv")))
    assert (table["n"] == (split["split"] == "test").sum()).all()
    markdown = (sweep / "report.md").read_text()
    assert "## Table 1" in markdown and "Majority class" in markdown

    stamps = {p: p.stat().st_mtime_ns for p in sweep.glob("*/metrics.json")}
    second = run_sweep(phantom, tmp_path)
    assert second.stdout.count("(finished earlier; skipped)") == 2
    assert {p: p.stat().st_mtime_ns for p in sweep.glob("*/metrics.json")} == stamps
