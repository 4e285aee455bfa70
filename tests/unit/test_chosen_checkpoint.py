"""ckpt=FILE or run=DIR (inference/chosen_checkpoint.py): a finished run folder gives the
checkpoint its metrics.json names, found in the folder even after it moved; every mistake is
one line naming the fix."""

from __future__ import annotations

import json
import shutil

import pytest
from omegaconf import OmegaConf

from csxa_lightning.inference.chosen_checkpoint import RunFolderError, chosen_checkpoint
from csxa_lightning.utils.errors import ConfigValueError
from tests.helpers import run_module


def options(ckpt=None, run=None):
    return OmegaConf.create({"ckpt": None if ckpt is None else str(ckpt), "run": run and str(run)})


def finished_run(folder, tested: str | None = "epoch003.ckpt"):
    """A run folder as train leaves it: its checkpoints and metrics.json naming the tested one."""
    (folder / "checkpoints").mkdir(parents=True)
    for name in ("epoch003.ckpt", "last.ckpt"):
        (folder / "checkpoints" / name).write_bytes(b"weights")
    named = None if tested is None else str(folder / "checkpoints" / tested)
    (folder / "metrics.json").write_text(json.dumps({"checkpoint": named, "auroc": 0.5}))
    return folder


def test_ckpt_is_taken_as_given(tmp_path):
    assert chosen_checkpoint(options(ckpt=tmp_path / "a.ckpt")) == tmp_path / "a.ckpt"


def test_run_gives_the_tested_checkpoint_even_after_the_folder_moved(tmp_path):
    run = finished_run(tmp_path / "+variant=cropped,crop=tight" / "2026-01-02_08-00-00_1")
    assert chosen_checkpoint(options(run=run)) == run / "checkpoints" / "epoch003.ckpt"
    moved = tmp_path / "moved"
    shutil.move(run, moved)
    assert chosen_checkpoint(options(run=moved)) == moved / "checkpoints" / "epoch003.ckpt"


def test_a_run_that_tested_its_last_epoch_gives_last_ckpt(tmp_path):
    run = finished_run(tmp_path / "run", tested=None)
    assert chosen_checkpoint(options(run=run)) == run / "checkpoints" / "last.ckpt"


@pytest.mark.parametrize(
    ("given", "error", "message"),
    [
        ({}, ConfigValueError, r"ckpt= or run= is required: .*e\.g\. run=outputs/train/runs/"),
        ({"ckpt": "a.ckpt", "run": "r"}, ConfigValueError, r"ckpt=a\.ckpt and run=r both given"),
        ({"run": "nowhere"}, RunFolderError, r"run=nowhere: no such folder\. Give a training run"),
    ],
)
def test_mistakes_name_the_fix(given, error, message):
    with pytest.raises(error, match=message):
        chosen_checkpoint(options(**given))


def test_a_folder_without_metrics_json_names_the_fix(tmp_path):
    with pytest.raises(RunFolderError) as caught:
        chosen_checkpoint(options(run=tmp_path))
    assert str(caught.value) == (
        f"run={tmp_path}: no metrics.json there, so no tested checkpoint: give a finished "
        "training run's folder (the one holding metrics.json), or a checkpoint with "
        f"ckpt=FILE, e.g. ckpt={tmp_path / 'checkpoints' / 'last.ckpt'}"
    )


def test_a_tested_checkpoint_that_is_gone_names_where_it_was_looked_for(tmp_path):
    run = finished_run(tmp_path / "run")
    (run / "checkpoints" / "epoch003.ckpt").unlink()
    with pytest.raises(RunFolderError, match=r"its tested checkpoint is not there \(.*epoch003"):
        chosen_checkpoint(options(run=run))


@pytest.mark.parametrize(  # seconds each (torch): one in the fast tests
    "command",
    ["predict", *(pytest.param(c, marks=pytest.mark.slow) for c in ("evaluate", "export"))],
)
def test_the_command_line_says_it_in_one_line(command, tmp_path):
    result = run_module(
        f"csxa_lightning.{command}", f"run={tmp_path}", "ckpt=a.ckpt", cwd=tmp_path, timeout=300
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: ckpt=a.ckpt and run={tmp_path} both given: give one. run=DIR uses the "
        "checkpoint its metrics.json names; ckpt=FILE any other checkpoint"
    ]
