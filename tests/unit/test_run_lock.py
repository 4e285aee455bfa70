"""The run folder's lock (runs/lock.py), the resume command an interrupted run prints
(training/run_job.py) and the metrics' refusal of NaN probabilities: the small parts, without
training."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from datetime import datetime, timezone

import numpy as np
import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser

from csxa_lightning.metrics.classification import NonFiniteProbabilityError, metrics_with_intervals
from csxa_lightning.runs.lock import LOCK_FILE, LockHolder, RunLock, is_stale
from csxa_lightning.training.run_job import resume_command
from csxa_lightning.utils.override_quoting import hydra_quoted

NOW = datetime(2026, 1, 2, 8, 0, tzinfo=timezone.utc)


def test_a_second_lock_on_a_folder_names_the_first_holder_and_release_frees_it(tmp_path):
    first, second = RunLock(tmp_path), RunLock(tmp_path)
    assert first.acquire() is None
    holder = second.acquire()
    assert (holder.host, holder.pid) == (socket.gethostname(), os.getpid())
    recorded = json.loads((tmp_path / LOCK_FILE).read_text())
    assert recorded == {"host": socket.gethostname(), "pid": os.getpid(), "started": holder.started}
    second.release()  # not its lock: kept
    assert (tmp_path / LOCK_FILE).exists()
    first.release()
    assert not (tmp_path / LOCK_FILE).exists()
    assert second.acquire() is None


def test_a_lock_of_a_dead_process_on_this_host_is_taken_over(tmp_path):
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    dead = {"host": socket.gethostname(), "pid": process.pid, "started": "2026-01-01T00:00:00"}
    (tmp_path / LOCK_FILE).write_text(json.dumps(dead))
    lock = RunLock(tmp_path)
    assert lock.acquire() is None
    assert json.loads((tmp_path / LOCK_FILE).read_text())["pid"] == os.getpid()
    assert [p.name for p in tmp_path.iterdir()] == [LOCK_FILE]  # nothing left aside


@pytest.mark.parametrize(
    ("holder", "stale"),
    [
        (LockHolder("other", 1, "2026-01-02T07:00:00+00:00"), False),  # 1 h, from elsewhere
        (LockHolder("other", 1, "2025-12-30T07:00:00+00:00"), True),  # 73 h
        (LockHolder("other", 1, "not a time"), True),
        (LockHolder("here", os.getpid(), "2020-01-01T00:00:00+00:00"), False),  # alive, old
    ],
)
def test_staleness_by_process_on_this_host_and_by_age_from_another(holder, stale):
    assert is_stale(holder, "here", NOW, stale_after_hours=48) is stale


@pytest.mark.parametrize(
    "folder",
    [
        "outputs/train/runs/color=none,crop=wide/2026-01-01_08-00-00_4242",
        "/data/it's here/a b/[x]",
        '/odd/"quoted"\\',
        "/tmp/${not_a_variable}/run",
    ],
)
def test_the_resume_override_reads_back_as_the_folder(folder):
    (override,) = OverridesParser.create().parse_overrides(
        [f"hydra.run.dir={hydra_quoted(folder)}"]
    )
    value = override.value()
    assert value.replace("\\${", "${") == folder  # OmegaConf reads \${ as a literal ${


def test_the_resume_command_quotes_for_the_shell():
    command = resume_command("/venv/bin/python", ["crop=wide", "+variant=original"], "a=1,b/c d")
    assert command == (
        "/venv/bin/python -m csxa_lightning.train crop=wide +variant=original "
        "'hydra.run.dir=\"a=1,b/c d\"'"
    )


def test_nan_probabilities_are_refused_not_counted_as_healthy():
    labels = np.array([0, 1, 1, 1])
    with pytest.raises(NonFiniteProbabilityError, match="2 of 4 probabilities are not finite"):
        metrics_with_intervals(labels, np.array([0.1, np.nan, 0.9, np.nan]))
    assert metrics_with_intervals(labels, np.array([0.1, 0.8, 0.9, 0.7]))["accuracy"] == 1.0
