"""Every run records what produced it, and the report says when the runs of a sweep were made in
different environments (their comparisons are then confounded)."""

from __future__ import annotations

import importlib.metadata
import platform

import cv2

from csxa_lightning.results.document import build_report
from csxa_lightning.runs.environment import differences, run_environment
from tests.helpers import git_head
from tests.unit.test_report import fake_run

ONE = {
    "python": "3.11.7",
    "torch": "2.14.1",
    "opencv": "5.0.0",
    "accelerator": "NVIDIA H200",
    "cuda": "13.0",
    "commit": "8865aac",
}


def test_the_record_names_the_installed_versions_the_device_and_the_commit():
    env = run_environment("cpu")
    assert env["python"] == platform.python_version()
    for name in ("torch", "torchvision", "lightning", "albumentations", "numpy", "scikit-learn",
                 "imbalanced-learn", "statsmodels"):  # fmt: skip
        assert env[name] == importlib.metadata.version(name), name
    assert env["opencv"] == cv2.__version__
    assert (env["accelerator"], env["cuda"], env["cudnn"]) == ("cpu", None, None)
    assert env["csxa-lightning"] == importlib.metadata.version("csxa-lightning")
    assert (env["commit"] or "").split("+")[0] == git_head()
    assert all(v is None or isinstance(v, str) for v in env.values())  # JSON as it is


def test_differences_name_each_differing_key_with_the_runs_of_each_value():
    other = {**ONE, "opencv": "5.1.0", "accelerator": "cpu", "cuda": None}
    found = differences({"a": ONE, "b": dict(ONE), "c": other, "old": {}})
    assert found == {
        "python": {"3.11.7": ["a", "b", "c"], "not recorded": ["old"]},
        "torch": {"2.14.1": ["a", "b", "c"], "not recorded": ["old"]},
        "opencv": {"5.0.0": ["a", "b"], "5.1.0": ["c"], "not recorded": ["old"]},
        "accelerator": {"NVIDIA H200": ["a", "b"], "cpu": ["c"], "not recorded": ["old"]},
        "cuda": {"13.0": ["a", "b"], "None": ["c"], "not recorded": ["old"]},
        "commit": {"8865aac": ["a", "b", "c"], "not recorded": ["old"]},
    }
    assert differences({"a": ONE, "b": dict(ONE)}) == {}


def sweep_with(tmp_path, environments):
    root = tmp_path / "sweep"
    for number, (env, crop) in enumerate(zip(environments, ("none", "wide"), strict=True)):
        fake_run(root, f"run{number}", "resnet50", crop, "none", 4, 2,
                 recorded={"environment": env})  # fmt: skip
    return build_report(root)["md"].read_text()


def test_the_report_warns_when_two_runs_were_trained_with_different_opencv(tmp_path):
    report = sweep_with(tmp_path, [ONE, {**ONE, "opencv": "5.1.0"}])
    warning = next(line for line in report.splitlines() if line.startswith("**Warning"))
    assert "not made in one environment" in warning
    assert "opencv: 5.0.0 (Original (ResNet50), seed 42); 5.1.0 (Wide cropped, seed 42)" in warning
    assert "torch:" not in warning and "python:" not in warning  # only what differs
    software = report.split("## Software")[1]
    assert "| torch | 2.14.1 |" in software  # shared, listed once
    assert "| run | opencv |" in software
    assert "| Wide cropped, seed 42 | 5.1.0 |" in software


def test_the_report_lists_one_environment_when_the_runs_agree(tmp_path):
    report = sweep_with(tmp_path, [ONE, dict(ONE)])
    assert "**Warning" not in report
    software = report.split("## Software")[1]
    assert "What trained the runs (metrics.json, all runs)" in software
    assert "| accelerator | NVIDIA H200 |" in software and "| opencv | 5.0.0 |" in software
    assert "This report was built with Python " + platform.python_version() in software
