"""Data safety and interrupted work: the dataset folder is never written to, a checkpoint cut
off mid-write does not stop a resume, and a sweep started again resumes what was cut short."""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from hydra import compose, initialize_config_dir

from csxa_lightning.config.location import CONFIG_DIR
from csxa_lightning.data.csxa import load_index
from csxa_lightning.results.preview import preview
from csxa_lightning.training.run import train
from tests.helpers import (
    TINY_TRAINING,
    SimulatedKill,
    compose_train_config,
    phantom_command_line,
    run_module,
)

# --- nothing is written under the dataset folder ---------------------------------------------

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
# Audit events (PEP 578) that change the file system; the first argument is the path.
_CHANGING_EVENTS = {
    "os.rename",
    "os.remove",
    "os.mkdir",
    "os.rmdir",
    "os.chmod",
    "os.chown",
    "os.utime",
    "os.truncate",
    "os.link",
    "os.symlink",
    "shutil.move",
    "shutil.copyfile",
    "shutil.rmtree",
}
_watch: dict = {"root": None, "writes": []}


def _audit(event: str, args: tuple) -> None:
    root = _watch["root"]
    if root is None or not args:
        return
    if event == "open":
        path, mode, flags = args
        writes = (mode is not None and any(c in mode for c in "wax+")) or (
            isinstance(flags, int) and flags & _WRITE_FLAGS
        )
    elif event in _CHANGING_EVENTS:
        path, writes = args[0], True
        if event in ("os.rename", "shutil.move", "os.link", "shutil.copyfile", "os.symlink"):
            path = args[1]  # the destination is what changes
    else:
        return
    if writes and isinstance(path, str | bytes | os.PathLike):
        resolved = os.path.realpath(os.fsdecode(path))
        if resolved == root or resolved.startswith(root + os.sep):
            _watch["writes"].append(f"{event} {resolved}")


sys.addaudithook(_audit)  # audit hooks cannot be removed: it only acts while a root is watched


def snapshot(root: Path) -> dict[str, tuple[int, str]]:
    """Every entry under root with its mode and content hash: any write shows up here, even
    one made by C code (OpenCV, NumPy) that the audit hook does not see."""
    entries = {}
    for path in sorted(root.rglob("*")):
        content = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
        entries[str(path.relative_to(root))] = (stat.S_IMODE(path.stat().st_mode), content)
    return entries


@pytest.fixture
def read_only_dataset(phantom_copy):
    """The phantom copy with every file and folder read-only, watched for writes. (Tests run as
    root here, for whom permissions do not stop a write: the audit hook and the snapshot do.)"""
    for path in [phantom_copy, *phantom_copy.rglob("*")]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    before = snapshot(phantom_copy)
    _watch["root"], _watch["writes"] = os.path.realpath(phantom_copy), []
    try:
        yield phantom_copy
    finally:
        _watch["root"] = None
        after = snapshot(phantom_copy)
        for path in [phantom_copy, *phantom_copy.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)  # so that tmp_path can be removed
    assert _watch["writes"] == []
    assert after == before


def test_training_and_preview_never_write_under_the_dataset_folder(read_only_dataset, tmp_path):
    # wide + enhanced reads every PNG and JSON; skip mode writes skipped_files.csv (to the run).
    (tmp_path / "outside").mkdir()
    cfg = compose_train_config(
        TINY_TRAINING
        + [
            "data=csxa",
            f"data.root={read_only_dataset}",
            f"paths.output_dir={tmp_path / 'run'}",
            f"paths.cache_dir={tmp_path / 'cache'}",
            "crop=wide",
            "color=enhanced",
            "data.on_bad_file=skip",
        ]
    )
    metrics = train(cfg)
    assert metrics["n"] > 0 and (tmp_path / "run" / "predictions.csv").exists()
    stem = load_index(read_only_dataset)["stem"].iloc[0]
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        preview_cfg = compose(
            config_name="preview",
            overrides=[
                "data=csxa",
                f"data.root={read_only_dataset}",
                "crop=tight",
                f"cases=[{stem}]",
                f"out={tmp_path / 'preview'}",
                "image_size=32",
            ],
        )
    assert preview(preview_cfg)
    assert _watch["writes"] == []
    # The watch itself works: a write under the folder is seen (and then undone, unwatched).
    root, probe = _watch["root"], Path(_watch["root"]) / "datasets-PNG" / "probe.txt"
    _watch["root"] = None
    probe.parent.chmod(0o755)
    _watch["root"] = root
    probe.write_text("x")
    assert _watch["writes"] == [f"open {probe}"]
    _watch["root"] = None
    probe.unlink()
    probe.parent.chmod(0o555)
    _watch["root"], _watch["writes"] = root, []


# --- a checkpoint cut off while being written --------------------------------------------------


def test_a_truncated_last_checkpoint_restarts_the_run_with_a_warning(
    phantom_run_overrides, tmp_path, caplog
):
    out = tmp_path / "run"  # the fixture's: a tiny two-epoch run on the session's phantom
    overrides = [*phantom_run_overrides, "trainer.max_epochs=2"]
    kill = ["+callbacks.kill._target_=tests.helpers.KillAtEpochStart", "+callbacks.kill.epoch=1"]
    with pytest.raises(SimulatedKill):
        train(compose_train_config(overrides + kill))
    last = out / "checkpoints" / "last.ckpt"
    data = last.read_bytes()
    last.write_bytes(data[: len(data) // 2])  # what a kill during a cross-device move leaves

    with caplog.at_level(logging.WARNING, logger="csxa_lightning.train"):
        metrics = train(compose_train_config(overrides))
    warning = next(r.getMessage() for r in caplog.records if "cannot be read" in r.getMessage())
    assert warning.startswith(f"{last} cannot be read (")
    assert f"Starting the run over; the file is kept as {last}.damaged" in warning
    assert (out / "checkpoints" / "last.ckpt.damaged").stat().st_size == len(data) // 2
    assert metrics["epochs"] == 2 and (out / "metrics.json").exists()


# --- a job killed after metrics.json: the next start finishes its checkpoints ------------------


def test_a_run_killed_after_its_metrics_is_tidied_up_when_started_again(
    phantom_run_overrides, tmp_path, monkeypatch
):
    out = tmp_path / "run"  # the fixture's
    overrides = [*phantom_run_overrides, "trainer.max_epochs=2", "data.val_fraction=0"]
    # The kill lands after metrics.json, before the checkpoints were finished: last.ckpt and the
    # optimizer state are still there, and so is a half-written file of the dead job.
    with monkeypatch.context() as m:
        m.setattr(
            "csxa_lightning.training.model_checkpoint.RunModelCheckpoint.finish",
            lambda self, tested: None,
        )
        first = train(compose_train_config(overrides))
    folder = out / "checkpoints"
    assert sorted(p.name for p in folder.iterdir()) == ["epoch001.ckpt", "last.ckpt"]
    (folder / ".epoch001.ckpt.999999999.partial").write_bytes(b"PK\x03\x04 half")

    again = train(compose_train_config(overrides))  # what the restarted sweep does
    assert again == first  # skipped as finished, not trained again
    assert sorted(p.name for p in folder.iterdir()) == ["epoch001.ckpt"]
    kept = torch.load(folder / "epoch001.ckpt", map_location="cpu", weights_only=True)
    assert "optimizer_states" not in kept and "state_dict" in kept


# --- a sweep started again resumes the run that was cut short ----------------------------------

# The test-only callbacks must not change the run folders' names, or the second start would
# not find the first one's runs: they join Hydra's excluded keys.
EXCLUDED = (
    "[data.root,model.weights_path,paths.log_dir,paths.cache_dir,force,sweep_name,"
    "callbacks.kill._target_,callbacks.kill.epoch,callbacks.record._target_,"
    "callbacks.record.path]"
)


def run_sweep(phantom, tmp_path, *extra):
    command = [
        "--multirun",
        "experiment=table1",
        "+variant=original,cropped",
        *phantom_command_line(phantom.root, tmp_path / "cache"),
        "trainer.max_epochs=2",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
        f"hydra.job.config.override_dirname.exclude_keys={EXCLUDED}",
        *extra,
    ]
    return run_module("csxa_lightning.train", *command, cwd=tmp_path)


@pytest.mark.slow  # a subprocess run of tens of seconds: make test-all
def test_a_restarted_sweep_resumes_the_run_that_was_killed(phantom, tmp_path):
    sweep = tmp_path / "sweep"
    # Every job of the first start is killed when its second epoch begins.
    first = run_sweep(
        phantom,
        tmp_path,
        "+callbacks.kill._target_=tests.helpers.KillAtEpochStart",
        "+callbacks.kill.epoch=1",
    )
    assert first.returncode != 0 and "simulated kill at the start of epoch 1" in first.stderr
    runs = sorted(p for p in sweep.iterdir() if (p / "checkpoints" / "last.ckpt").exists())
    # Hydra's basic launcher runs every job of the sweep before it reports the failures.
    assert len(runs) == 2 and not any((p / "metrics.json").exists() for p in runs)
    assert not (sweep / "report.md").exists()

    batches = tmp_path / "batches.txt"
    second = run_sweep(
        phantom,
        tmp_path,
        "+callbacks.record._target_=tests.helpers.RecordBatches",
        f"+callbacks.record.path={batches}",
    )
    assert second.returncode == 0, second.stderr[-3000:]
    finished = sorted(p for p in sweep.iterdir() if (p / "metrics.json").exists())
    assert finished == runs  # the same folders, now finished
    for run in runs:
        assert f"resuming the interrupted run in {run}" in second.stdout + second.stderr
    # Both resumed runs trained only the epoch that was left.
    assert set(batches.read_text().split()) == {"1"}
    assert (sweep / "report.md").exists()
    table = pd.read_csv(sweep / "report.csv")
    assert sorted(table["variant"]) == ["Cropped (ResNet18)", "Original (ResNet18)"]
