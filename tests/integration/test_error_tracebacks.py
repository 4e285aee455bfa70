"""A bug inside train keeps its traceback (no `error:` line), and HYDRA_FULL_ERROR=1 shows the
traceback of a user error too: the command line, in a subprocess."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import TINY_TRAINING, run_module


def run_train(tmp_path: Path, *overrides: str, full_error: bool = False):
    return run_module(
        "csxa_lightning.train",
        *TINY_TRAINING,
        f"paths.log_dir={tmp_path}",
        f"paths.cache_dir={tmp_path / 'cache'}",
        *overrides,
        cwd=tmp_path,
        timeout=300,
        full_error=full_error,
    )


@pytest.mark.slow  # a subprocess run of tens of seconds: make test-all
def test_a_bug_inside_train_shows_its_traceback_not_an_error_line(tmp_path):
    result = run_train(tmp_path, "+callbacks.bug._target_=tests.helpers.BugAtFitStart")
    output = result.stderr + result.stdout
    assert result.returncode != 0
    assert "Traceback" in output
    assert "ValueError: simulated bug: a plain ValueError is not a UserError" in output
    assert not any(line.startswith("error: ") for line in result.stderr.splitlines())


def test_hydra_full_error_shows_the_traceback_of_a_user_error(tmp_path):
    result = run_train(tmp_path, "data.test_fraction=1.5", full_error=True)
    output = result.stderr + result.stdout
    assert result.returncode != 0
    assert "Traceback" in output
    assert "ConfigValueError: impossible config value data.test_fraction=1.5" in output
    assert not any(line.startswith("error: ") for line in result.stderr.splitlines())
