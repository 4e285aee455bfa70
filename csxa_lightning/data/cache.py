"""The preprocessed cache: model inputs of every image of a dataset, built once per
(dataset, preprocessing config) and reused by every later run.

An entry is one .npy array (N, variants, channels, S, S) uint8 in index order, plus a .json
manifest naming its stems and config. The key is a SHA-256 of the preprocessing config and
of each input file's name, size and modification time, so editing, replacing or adding a file
makes a new entry. Entries are written to a temporary file and renamed into place (a reader
never sees half an entry), under a file lock so that concurrent sweep jobs build an entry once
while the others wait and then reuse it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from itertools import repeat
from pathlib import Path

import numpy as np
import pandas as pd
from filelock import FileLock
from tqdm.auto import tqdm

from csxa_lightning.data.csxa import read_keypoints
from csxa_lightning.data.images import read_image
from csxa_lightning.data.preprocess import Preprocessor

log = logging.getLogger(__name__)

CACHE_FORMAT = 1  # bump when the layout of an entry changes


class CachedArray:
    """A cache entry on disk, read row by row with pread: reading never maps the file, so the
    process holds only the rows asked for, written where the caller wants them (e.g. the
    front of a preallocated, balanced training array)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        with open(self.path, "rb") as f:
            major, _ = np.lib.format.read_magic(f)
            read_header = (
                np.lib.format.read_array_header_1_0
                if major == 1
                else np.lib.format.read_array_header_2_0
            )
            shape, fortran_order, dtype = read_header(f)
            self.offset = f.tell()
        if fortran_order or dtype != np.uint8:
            raise RuntimeError(f"{self.path}: not a cache entry (delete it to rebuild)")
        self.shape: tuple[int, ...] = tuple(shape)
        self.unusable: dict[str, str] = {}  # stem -> problem, from the manifest
        self.row_bytes = int(np.prod(self.shape[1:]))

    def __len__(self) -> int:
        return self.shape[0]

    def read(self, rows: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Rows `rows` (in that order) as (len(rows), *shape[1:]) uint8, into `out` if given."""
        rows = np.asarray(rows, dtype=np.int64)
        if out is None:
            out = np.empty((len(rows), *self.shape[1:]), dtype=np.uint8)
        if out.shape != (len(rows), *self.shape[1:]) or not out.flags.c_contiguous:
            raise ValueError(f"out must be a C-contiguous {(len(rows), *self.shape[1:])} array")
        flat = out.reshape(len(rows), self.row_bytes)
        with open(self.path, "rb") as f:
            for i in np.argsort(rows, kind="stable"):  # ascending offsets: sequential reads
                got = os.preadv(f.fileno(), [flat[i]], self.offset + int(rows[i]) * self.row_bytes)
                if got != self.row_bytes:
                    raise RuntimeError(f"{self.path}: truncated entry; delete it to rebuild")
        return out


def file_signature(path: str) -> list:
    stat = os.stat(path)
    return [os.path.basename(path), stat.st_size, stat.st_mtime_ns]


def fingerprint(index: pd.DataFrame, preprocessor: Preprocessor) -> str:
    """SHA-256 of the preprocessing config and of every input file's name, size and mtime."""
    digest = hashlib.sha256()
    digest.update(
        json.dumps({"format": CACHE_FORMAT, **preprocessor.config()}, sort_keys=True).encode()
    )
    for png, annotation in zip(index["png_path"], index["json_path"], strict=True):
        digest.update(json.dumps([file_signature(png), file_signature(annotation)]).encode())
    return digest.hexdigest()


def preprocess_file(preprocessor: Preprocessor, png_path: str, json_path: str) -> np.ndarray:
    """The model input of one case; the one function training, prediction and preview share."""
    keypoints = read_keypoints(json_path) if preprocessor.needs_keypoints else None
    return preprocessor(read_image(png_path), keypoints)


class DatasetProblemsError(ValueError):
    """Files that cannot be used, all of them, each with its problem and what to do."""

    def __init__(self, problems: list[str]) -> None:
        shown = problems[:MAX_PROBLEMS_SHOWN]
        more = len(problems) - len(shown)
        super().__init__(
            f"{len(problems)} file(s) of the dataset cannot be used; nothing was trained. Fix "
            "them, or pass data.on_bad_file=skip to leave them out (listed in the run folder):\n  "
            + "\n  ".join(shown)
            + (f"\n  ... and {more} more" if more else "")
        )
        self.problems = problems


MAX_PROBLEMS_SHOWN = 50
ON_BAD_FILE = ("stop", "skip")


def _preprocess_or_problem(
    preprocessor: Preprocessor, png_path: str, json_path: str
) -> np.ndarray | str:
    """The model input, or the message of the error that prevents it (one file's problem)."""
    try:
        return preprocess_file(preprocessor, png_path, json_path)
    except ValueError as err:  # CSXAFormatError, ImageReadError and bad geometry are ValueErrors
        message = str(err)
        named = png_path in message or json_path in message
        return message if named else f"{png_path} (landmarks {json_path}): {message}"


def _build(
    index: pd.DataFrame, preprocessor: Preprocessor, target: Path, workers: int
) -> dict[str, str]:
    """Write the entry; returns {stem: problem} of the files that could not be used (their
    rows stay zero), so that one pass finds every problem of a damaged dataset."""
    n = len(index)
    shape = (
        n,
        len(preprocessor.variants),
        preprocessor.channels,
        preprocessor.image_size,
        preprocessor.image_size,
    )
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    # Written straight into a memory-mapped file: the set is never held twice in memory.
    out = np.lib.format.open_memmap(partial, mode="w+", dtype=np.uint8, shape=shape)
    pngs, jsons = index["png_path"].tolist(), index["json_path"].tolist()
    progress = tqdm(total=n, desc=f"preprocessing {preprocessor.label}", unit="img", disable=None)
    try:
        with ExitStack() as stack:
            if workers <= 1:
                results = map(_preprocess_or_problem, repeat(preprocessor), pngs, jsons)
            else:
                pool = stack.enter_context(ProcessPoolExecutor(workers))
                chunk = max(1, min(32, n // (4 * workers)))
                results = pool.map(
                    _preprocess_or_problem, repeat(preprocessor), pngs, jsons, chunksize=chunk
                )
            problems = {}
            for i, array in enumerate(results):
                if isinstance(array, str):
                    problems[index["stem"].iloc[i]] = array
                else:
                    out[i] = array
                progress.update()
        out.flush()
        del out
        os.replace(partial, target)  # atomic on one file system
        return problems
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        progress.close()


def cached_inputs(
    index: pd.DataFrame,
    preprocessor: Preprocessor,
    cache_dir: str | Path,
    workers: int | None = None,
    on_bad_file: str = "stop",
) -> CachedArray:
    """(N, variants, channels, S, S) uint8 model inputs of every index row, from the cache
    (built now if missing); read the rows you need with .read(rows).

    Files that cannot be used are all listed in one DatasetProblemsError (on_bad_file="stop",
    the default), or returned in ``.unusable`` ({stem: problem}; their rows are zero) for the
    caller to drop (on_bad_file="skip"). The list is kept in the manifest, so a cached entry
    reports the same problems without rebuilding."""
    if on_bad_file not in ON_BAD_FILE:
        raise ValueError(f"data.on_bad_file={on_bad_file!r}; choose one of {ON_BAD_FILE}")
    key = fingerprint(index, preprocessor)
    folder = Path(cache_dir).expanduser() / "inputs"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{key[:24]}.npy"
    manifest = target.with_suffix(".json")
    with FileLock(str(target) + ".lock"):
        # The manifest is written last: an entry without one was interrupted; build it again.
        if target.exists() and manifest.exists():
            log.info("preprocessed cache hit: %s (%s)", target, preprocessor.label)
        else:
            log.info(
                "building preprocessed cache %s (%s, %d images)",
                target,
                preprocessor.label,
                len(index),
            )
            unusable = _build(index, preprocessor, target, workers or os.cpu_count() or 1)
            tmp = manifest.with_name(f".{manifest.name}.{os.getpid()}")
            tmp.write_text(
                json.dumps(
                    {
                        "fingerprint": key,
                        "unusable": unusable,
                        "config": preprocessor.config(),
                        "stems": index["stem"].tolist(),
                    },
                    indent=1,
                )
            )
            os.replace(tmp, manifest)
    arrays = CachedArray(target)
    arrays.unusable = json.loads(manifest.read_text()).get("unusable", {})
    if arrays.unusable and on_bad_file == "stop":
        raise DatasetProblemsError(list(arrays.unusable.values()))
    if len(arrays) != len(index):
        raise RuntimeError(
            f"cache entry {target} holds {arrays.shape[0]} images, the index {len(index)}; "
            "delete the file to rebuild it"
        )
    return arrays
