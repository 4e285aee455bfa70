"""`make demo` and `make demo-null` at a smaller scale: the pipeline finds the effect the
planted phantom carries (keypoint crop against centre crop) and finds none on the null control.

Two variants (the baseline and Cropped) instead of seven, the demo's code path and settings
otherwise (experiment=demo / demo_null: 300 films, 64 px, ResNet18, 6 epochs)."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.helpers import run_module

pytestmark = pytest.mark.slow


def demo_table(tmp_path, experiment):
    command = [
        "--multirun",
        f"experiment={experiment}",
        "+variant=original,cropped",
        f"paths.cache_dir={tmp_path / 'cache'}",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
    ]
    result = run_module("csxa_lightning.train", *command, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    check_console(result.stdout + result.stderr, jobs=2)
    report = (tmp_path / "sweep" / "report.md").read_text()
    return pd.read_csv(tmp_path / "sweep" / "report.csv").set_index("variant_name"), report


def check_console(output: str, jobs: int) -> None:
    """The console speaks once: the sweep's plan, each job's start and one-line result, the
    report's path, and the first use of a data set (the phantom generated, each cache entry
    built: long steps, said as they start); a carriage return counts as a new line (a
    progress bar's updates in a log). make demo's seven jobs print at most 2 + 3 x 7 + 1."""
    lines = [line for line in output.replace("\r", "\n").splitlines() if line.strip()]
    assert len(lines) <= 2 + 3 * jobs + 1, "\n".join(lines)
    assert sum("test balanced accuracy" in line for line in lines) == jobs
    assert sum(line.startswith("report: ") for line in lines) == 1


def test_the_demo_finds_the_planted_effect(tmp_path):
    table, report = demo_table(tmp_path, "demo")
    assert "effect `planted`" in report
    cropped = table.loc["cropped"]
    assert cropped["p_mcnemar_vs_baseline_holm"] < 0.05
    assert cropped["d_balanced_accuracy_ci_low"] > 0
    assert cropped["balanced_accuracy"] > table.loc["original", "balanced_accuracy"]


def test_the_null_demo_finds_nothing(tmp_path):
    table, report = demo_table(tmp_path, "demo_null")
    assert "effect `none`" in report
    assert not (table["p_mcnemar_vs_baseline_holm"] < 0.05).any()
    assert (table["balanced_accuracy_ci_low"] <= 0.5).all()
    assert (table["balanced_accuracy_ci_high"] >= 0.5).all()
