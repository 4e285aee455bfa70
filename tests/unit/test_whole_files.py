"""Files written whole or not at all (utils/whole_files.py), and the leftovers of killed writers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from csxa_lightning.utils.processes import pid_alive
from csxa_lightning.utils.whole_files import (
    leftovers,
    partial_path,
    partial_writer,
    remove_leftovers,
    write_text_whole,
    written_whole,
)


def test_a_whole_write_replaces_the_file_and_leaves_no_partial(tmp_path):
    target = tmp_path / "metrics.json"
    target.write_text("old")
    write_text_whole(target, '{"accuracy": 0.9}\n')
    assert target.read_text() == '{"accuracy": 0.9}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]


def test_a_write_that_fails_leaves_the_old_file_and_no_partial(tmp_path):
    target = tmp_path / "report.md"
    target.write_text("the old report")
    with pytest.raises(RuntimeError, match="disk full"), written_whole(target) as partial:
        partial.write_text("half of the new rep")
        raise RuntimeError("disk full")
    assert target.read_text() == "the old report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md"]


def test_the_partial_name_says_which_file_and_which_process(tmp_path):
    partial = partial_path(tmp_path / "epoch003.ckpt", pid=4242)
    assert partial == tmp_path / ".epoch003.ckpt.4242.partial"
    assert partial_writer(partial) == ("epoch003.ckpt", 4242)
    assert partial_writer(tmp_path / "epoch003.ckpt") is None
    assert partial_writer(tmp_path / ".hidden.partial") is None  # no writer id


# A writer SIGKILLed halfway: what a scheduler's kill or the OOM killer leaves.
KILLED_WRITER = """
import os, signal, sys
from csxa_lightning.utils.whole_files import written_whole
with written_whole(sys.argv[1]) as partial:
    partial.write_text('{"accura')
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_killed_writer_leaves_the_old_file_and_a_partial_that_is_removed(tmp_path):
    target = tmp_path / "metrics.json"
    target.write_text('{"accuracy": 0.5}\n')
    killed = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(target)])
    assert killed.returncode == -signal.SIGKILL
    assert target.read_text() == '{"accuracy": 0.5}\n'  # never half of the new one
    (left,) = leftovers(tmp_path)
    name, pid = partial_writer(left)
    assert name == "metrics.json" and pid != os.getpid() and not pid_alive(pid)
    assert left.read_text() == '{"accura'
    # A live writer's partial (this process's) is left alone.
    mine = partial_path(tmp_path / "report.md")
    mine.write_text("being written")
    assert remove_leftovers(tmp_path) == [left]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["metrics.json", mine.name])
