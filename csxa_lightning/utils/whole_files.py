"""Files written whole or not at all, and the leftovers of writers that died.

A job can stop at any instruction: SIGKILL from the scheduler or the out-of-memory killer, a
lost node. A file written in place is then left half-written, and a half metrics.json reads as
a finished run that cannot be read. So every file a run, a checkpoint or a report writes goes
through `written_whole`: it is written under a temporary name in the same folder (same file
system, so the rename is atomic) and renamed over the target only once complete. A reader sees
the old file or the new one, never part of one. (This guards against a killed process; after a
power cut the file system's own journal decides, which is why nothing here calls fsync.)

The temporary's name, `.<name>.<pid>.partial`, says which file it was for and which process
wrote it, so `remove_leftovers` can delete those of dead writers and leave alone a live
writer's (another job's report, another rank's file) -- on this host: a writer on another host
is alive as far as this one can tell. The preprocessed cache names its partial entries the same
way (data/cache.py) and removes them under its own lock.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from csxa_lightning.utils.processes import pid_alive

PARTIAL_SUFFIX = ".partial"
_PARTIAL = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.partial$")


def partial_path(target: str | Path, pid: int | None = None) -> Path:
    """Where `target` is written before it is renamed into place."""
    target = Path(target)
    return target.with_name(f".{target.name}.{os.getpid() if pid is None else pid}.partial")


def partial_writer(path: str | Path) -> tuple[str, int] | None:
    """(target name, writer pid) of a partial file's name; None for any other file."""
    match = _PARTIAL.match(Path(path).name)
    return (match["name"], int(match["pid"])) if match else None


@contextmanager
def written_whole(target: str | Path) -> Iterator[Path]:
    """`with written_whole(path) as tmp: <write tmp>` -- path then holds all of it. An
    exception inside the block removes tmp and leaves path as it was."""
    target = Path(target)
    tmp = partial_path(target)
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_whole(target: str | Path, text: str) -> Path:
    with written_whole(target) as tmp:
        tmp.write_text(text)
    return Path(target)


def write_bytes_whole(target: str | Path, data: bytes) -> Path:
    with written_whole(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def leftovers(folder: str | Path) -> list[Path]:
    """The partial files in `folder` (not below it) whose writer is dead."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.iterdir()):
        writer = partial_writer(path)
        if writer is not None and path.is_file() and not pid_alive(writer[1]):
            found.append(path)
    return found


def remove_leftovers(*folders: str | Path) -> list[Path]:
    """Delete the dead writers' partial files in these folders; returns what was deleted."""
    removed = []
    for folder in folders:
        for path in leftovers(folder):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed
