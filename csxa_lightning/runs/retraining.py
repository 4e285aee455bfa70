"""force=true on a finished run: the finished run stays whole until its replacement has finished.

The new run trains in STAGING_DIR inside the run folder (its own checkpoints, logs, split and
metrics). Only when it has finished does `swap_in` put its files in place of the old ones. A
failure, a Ctrl-C or a kill before that leaves the finished run as it was; the next start in
the folder removes what the staging left (`recover`).

The swap is a handful of renames on one file system. It writes a manifest of the names it will
move, moves the old outputs into REPLACED_DIR, then the new ones in (metrics.json last), then
drops the staging folder and last REPLACED_DIR. A kill inside it is undone by `recover`, under
the folder's run lock, at the next start: while the staging folder exists the swap had not
finished, and the old outputs go back (the manifest says which names were the old run's); once
it is gone the new run is complete, and only REPLACED_DIR is left to delete.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from csxa_lightning.runs.folder import METRICS_FILE, RUN_OUTPUTS, STAGING_DIR
from csxa_lightning.utils.whole_files import write_text_whole

REPLACED_DIR = ".replaced"  # the old outputs, during the swap
MANIFEST_FILE = ".swap.json"  # in REPLACED_DIR: what the swap moves


def start_staging(folder: Path) -> Path:
    """An empty staging folder inside folder (an earlier attempt's files removed)."""
    staging = folder / STAGING_DIR
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    return staging


def discard_staging(folder: Path) -> None:
    shutil.rmtree(folder / STAGING_DIR, ignore_errors=True)


def swapped_names(staging: Path) -> list[str]:
    """What the swap replaces: every training output (an old file the new run did not write,
    such as skipped_files.csv, goes too) and whatever the new run wrote, metrics.json last so
    that the folder reads as finished only once the rest is in place."""
    names = dict.fromkeys([*RUN_OUTPUTS, *sorted(p.name for p in staging.iterdir())])
    names.pop(METRICS_FILE, None)
    return [*names, METRICS_FILE]


def swap_in(staging: Path, folder: Path) -> None:
    """folder's outputs replaced by staging's (module docstring); staging is removed. The
    manifest, written before anything moves, tells `recover` which names the old run had."""
    replaced = folder / REPLACED_DIR
    shutil.rmtree(replaced, ignore_errors=True)
    replaced.mkdir()
    names = swapped_names(staging)
    old = [name for name in names if os.path.lexists(folder / name)]
    write_text_whole(replaced / MANIFEST_FILE, json.dumps({"names": names, "old": old}))
    for name in old:
        os.replace(folder / name, replaced / name)
    for name in names:
        if os.path.lexists(staging / name):
            os.replace(staging / name, folder / name)
    shutil.rmtree(staging)  # from here on the new run is the folder's
    shutil.rmtree(replaced)


def remove_path(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif os.path.lexists(path):
        path.unlink()


def put_back(folder: Path) -> None:
    """Undo a swap killed before it finished: each old output back in place, each new one
    moved in so far removed (the manifest says which names the old run had)."""
    replaced = folder / REPLACED_DIR
    manifest = replaced / MANIFEST_FILE
    if not manifest.is_file():  # killed before the manifest: nothing had moved
        return
    swap = json.loads(manifest.read_text())
    for name in swap["names"]:
        if name in swap["old"] and not os.path.lexists(replaced / name):
            continue  # not moved out yet: still the old run's
        remove_path(folder / name)  # the new run's, if it got there
        if name in swap["old"]:
            os.replace(replaced / name, folder / name)


def recover(folder: Path) -> list[str]:
    """Undo what a killed retraining left in folder (module docstring); the sentences to log."""
    staging, replaced = folder / STAGING_DIR, folder / REPLACED_DIR
    said = []
    if replaced.is_dir() and staging.is_dir():  # killed during the swap: the old run goes back
        put_back(folder)
        said.append(f"{folder}: a retraining was killed while replacing the finished run; "
                    "the finished run's files were put back")  # fmt: skip
    if staging.is_dir():
        discard_staging(folder)
        said.append(f"{folder}: removed {STAGING_DIR}/, left by a retraining (force=true) "
                    "that did not finish; the finished run is unchanged")  # fmt: skip
    if replaced.is_dir():  # killed after the new run was in place
        shutil.rmtree(replaced)
    return said
