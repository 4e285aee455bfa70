"""Every command ends a problem the user can fix the same way: one `error: ...` line on stderr,
printed once, exit code 1, no traceback -- the argparse commands (report, phantom) and preview
as much as train (tests/unit/test_config_checks.py) and predict/export."""

from __future__ import annotations

import shutil

import pytest

from tests.helpers import run_module


def assert_one_error_line(result, start: str, text: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-2000:]
    assert "Traceback" not in output
    assert result.stderr.strip().splitlines()[-1].startswith(start)
    assert output.count(text) == 1, output[-2000:]


def test_report_without_runs(tmp_path):
    result = run_module("csxa_lightning.report", str(tmp_path / "nowhere"), cwd=tmp_path)
    assert_one_error_line(
        result, f"error: {tmp_path / 'nowhere'}: no finished run folders", "no finished run"
    )


def test_report_of_a_damaged_run_folder_names_it(tiny_run, tmp_path):
    sweep = tmp_path / "sweep"
    shutil.copytree(tiny_run.folder, sweep / "crop=tight")
    (sweep / "crop=tight" / "predictions.csv").write_text("not,a,prediction\n1,2,3\n")
    result = run_module("csxa_lightning.report", str(sweep), "--cam-examples=0", cwd=tmp_path)
    assert_one_error_line(
        result, f"error: {sweep / 'crop=tight'}: cannot read this run", "cannot read this run"
    )


def test_phantom_into_a_folder_that_is_not_empty(tmp_path):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "keep.txt").write_text("mine")
    result = run_module(
        "csxa_lightning.phantom", "--out", str(tmp_path / "p"), "--n", "5", cwd=tmp_path
    )
    assert_one_error_line(result, f"error: {tmp_path / 'p'} is not empty", "is not empty")


@pytest.mark.slow  # a subprocess run of tens of seconds: make test-all
@pytest.mark.parametrize(("case", "shown"), [("9999999", "9999999"), ("IMG_1", "'IMG_1'")])
def test_preview_of_a_case_the_dataset_does_not_hold(phantom, tmp_path, case, shown):
    result = run_module(
        "csxa_lightning.preview",
        "data=csxa",
        f"data.root={phantom.root}",
        f"paths.cache_dir={tmp_path / 'cache'}",
        f"cases=[{case}]",
        f"out={tmp_path / 'preview'}",
        cwd=tmp_path,
    )
    assert_one_error_line(
        result, f"error: cases: {shown} is neither a stem nor a case id", "is neither a stem"
    )
