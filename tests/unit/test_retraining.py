"""force=true on a finished run: the swap of the new run's files for the old ones, and what a
kill at any point of that swap leaves after the next start (recover)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from csxa_lightning.runs import retraining
from csxa_lightning.runs.retraining import recover, start_staging, swap_in

OLD = {
    "metrics.json": '{"seed": 42}',
    "predictions.csv": "stem,p\nold,0.1\n",
    "skipped_files.csv": "path,reason\n",  # the new run skips nothing: it must go
    "checkpoints/epoch004.ckpt": "old weights",
    "logs/metrics.csv": "epoch\n0\n",
    "train.log": "the log of every start",  # not a run output: stays
    ".hydra/config.yaml": "seed: 42\n",  # swapped only when the new run brings one
}
NEW = {
    "metrics.json": '{"seed": 7}',
    "predictions.csv": "stem,p\nnew,0.9\n",
    "checkpoints/epoch002.ckpt": "new weights",
    "logs/metrics.csv": "epoch\n0\n1\n",
    "tensorboard/events": "a logger the old run did not have",
    ".hydra/config.yaml": "seed: 7\n",
}


def write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)


def contents(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): p.read_text() for p in folder.rglob("*") if p.is_file()}


def finished_run_and_staging(tmp_path: Path) -> tuple[Path, Path]:
    folder = tmp_path / "run"
    write(folder, OLD)
    staging = start_staging(folder)
    write(staging, NEW)
    return folder, staging


def test_the_swap_puts_the_new_run_in_place_and_keeps_the_log(tmp_path):
    folder, staging = finished_run_and_staging(tmp_path)
    swap_in(staging, folder)
    assert contents(folder) == {**NEW, "train.log": OLD["train.log"]}
    assert recover(folder) == []  # nothing left to undo


def test_a_new_run_without_a_config_keeps_the_folders_config(tmp_path):
    folder, staging = finished_run_and_staging(tmp_path)
    (staging / ".hydra" / "config.yaml").unlink()
    (staging / ".hydra").rmdir()
    swap_in(staging, folder)
    assert contents(folder)[".hydra/config.yaml"] == OLD[".hydra/config.yaml"]


def count_renames(tmp_path: Path) -> int:
    folder, staging = finished_run_and_staging(tmp_path / "counted")
    calls = []
    real = os.replace
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(retraining.os, "replace", lambda *a: (calls.append(a), real(*a)))
        swap_in(staging, folder)
    return len(calls)


class Killed(BaseException):
    pass


def test_a_kill_at_any_rename_of_the_swap_leaves_the_finished_run_after_the_next_start(
    tmp_path, monkeypatch
):
    renames = count_renames(tmp_path)
    assert renames >= 2 * len(NEW)  # old ones out, new ones in (and the manifest)
    real = os.replace
    for kill_at in range(renames):
        folder, staging = finished_run_and_staging(tmp_path / f"kill{kill_at}")
        done = []

        def dying(*args, kill_at=kill_at, done=done):
            if len(done) == kill_at:
                raise Killed
            done.append(args)
            real(*args)

        monkeypatch.setattr(retraining.os, "replace", dying)
        with pytest.raises(Killed):
            swap_in(staging, folder)
        monkeypatch.setattr(retraining.os, "replace", real)
        said = recover(folder)
        assert contents(folder) == OLD, f"killed at rename {kill_at}"
        assert sorted(p.name for p in folder.iterdir()) == sorted(
            {name.split("/")[0] for name in OLD}
        )
        assert any("unchanged" in s for s in said)


def test_a_kill_after_the_new_run_is_in_place_keeps_the_new_run(tmp_path, monkeypatch):
    folder, staging = finished_run_and_staging(tmp_path)
    real_rmtree = retraining.shutil.rmtree

    def dying(path, *args, **kwargs):
        if Path(path).name == retraining.REPLACED_DIR and not staging.exists():
            raise Killed  # the last step: the new run is in place
        real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr(retraining.shutil, "rmtree", dying)
    with pytest.raises(Killed):
        swap_in(staging, folder)
    monkeypatch.setattr(retraining.shutil, "rmtree", real_rmtree)
    assert recover(folder) == []
    assert contents(folder) == {**NEW, "train.log": OLD["train.log"]}


def test_a_staging_folder_a_killed_retraining_left_goes_at_the_next_start(tmp_path):
    folder, _ = finished_run_and_staging(tmp_path)
    said = recover(folder)
    assert contents(folder) == OLD
    assert said == [
        f"{folder}: removed .retraining/, left by a retraining (force=true) that did not "
        "finish; the finished run is unchanged"
    ]
