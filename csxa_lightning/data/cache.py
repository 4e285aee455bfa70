"""The preprocessed cache: model inputs of every image of a dataset, built once per
(dataset, preprocessing config) and reused by every later run.

An entry is one .npy array (N, variants, channels, S, S) uint8 in index order, plus a .json
manifest naming its stems and config and holding the size and CRC-32 of the .npy file. The key
is a SHA-256 of the preprocessing config and of each input file's name, size and modification
time, so editing, replacing or adding a file makes a new entry. Entries are written to a
temporary file and renamed into place (a reader never sees half an entry), under a file lock so
that concurrent sweep jobs build an entry once while the others wait and then reuse it.

Every use of an entry first verifies it, under the lock (what is checked: cache_entry.py). A
damaged entry is reported with a WARNING naming the file and the problem, deleted and rebuilt;
it is never used.

Order of the writes: the .npy is renamed into place first and the manifest last, so the
manifest is the commit record. Its checksum is computed from the finished .npy before the
rename, so a manifest in place always describes complete data. A crash between the two renames
leaves data without a manifest, which is reported as "manifest missing" and rebuilt; a damaged
entry is deleted in the reverse order (manifest first), so an interrupted deletion leaves the
same, detectable, state. Nothing is fsynced: should a power cut lose data that a manifest
describes, the checksum catches it at the next run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from itertools import repeat
from pathlib import Path

import numpy as np
import pandas as pd
from filelock import FileLock
from tqdm.auto import tqdm

from csxa_lightning.data.annotations import read_keypoints
from csxa_lightning.data.cache_entry import (
    CASE_CHECKS,
    entry_problem,
    file_checksum,
    read_npy_header,
)
from csxa_lightning.data.case import MIN_SIZE, read_case
from csxa_lightning.data.films import read_film
from csxa_lightning.data.images import MAX_PIXELS, UnusableFilmError
from csxa_lightning.data.preprocess import Preprocessor
from csxa_lightning.utils.errors import ConfigValueError, UserError
from csxa_lightning.utils.quiet import CONSOLE
from csxa_lightning.utils.whole_files import write_text_whole, written_whole

log = logging.getLogger(__name__)

CACHE_FORMAT = 1  # bump when the layout of an entry changes


class CachedArray:
    """A cache entry on disk, read row by row with pread: reading never maps the file, so the
    process holds only the rows asked for, written where the caller wants them (e.g. the
    front of a preallocated, balanced training array)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        shape, fortran_order, dtype, self.offset = read_npy_header(self.path)
        if fortran_order or dtype != np.uint8:
            raise RuntimeError(f"{self.path}: not a cache entry (delete it to rebuild)")
        self.shape: tuple[int, ...] = tuple(shape)
        self.unusable: dict[str, str] = {}  # stem -> problem, from the manifest
        self.depths: dict[int, int] = {}  # bit depth -> usable films, from the manifest
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
    try:
        stat = os.stat(path)
    except FileNotFoundError:  # a dangling symbolic link: the build reports it as a bad file
        stat = os.lstat(path)
    return [os.path.basename(path), stat.st_size, stat.st_mtime_ns]


def fingerprint(
    index: pd.DataFrame,
    preprocessor: Preprocessor,
    min_size: int = MIN_SIZE,
    max_pixels: int = MAX_PIXELS,
) -> str:
    """SHA-256 of the preprocessing config, of the checks' settings (they decide the entry's
    list of unusable files) and of every input file's name, size and mtime."""
    digest = hashlib.sha256()
    settings = {"format": CACHE_FORMAT, **preprocessor.config(), "min_size": min_size}
    if max_pixels != MAX_PIXELS:  # only a changed limit makes another entry
        settings["max_pixels"] = max_pixels
    digest.update(json.dumps(settings, sort_keys=True).encode())
    for png, annotation in zip(index["png_path"], index["json_path"], strict=True):
        digest.update(json.dumps([file_signature(png), file_signature(annotation)]).encode())
    return digest.hexdigest()


def preprocess_file(
    preprocessor: Preprocessor,
    png_path: str,
    json_path: str,
    min_size: int = 1,
    max_pixels: int = MAX_PIXELS,
) -> np.ndarray:
    """The model input of one case; the one function training, prediction and preview share.
    min_size, max_pixels: the film sizes accepted (prediction: those its model trained with)."""
    keypoints = read_keypoints(json_path) if preprocessor.needs_keypoints else None
    image, _ = read_film(png_path, preprocessor.bit_depth, max_pixels, preprocessor.dicom_window)
    height, width = image.shape[:2]
    if min(height, width) < min_size:
        raise UnusableFilmError(
            f"{png_path}: the film is {width}x{height} pixels, smaller than the {min_size} a "
            "side its model was trained to accept (data.min_size); not a usable radiograph"
        )
    return preprocessor(image, keypoints)


class DatasetProblemsError(UserError):
    """Files that cannot be used, all of them, each with its problem and what to do."""

    def __init__(self, problems: list[str]) -> None:
        shown = problems[:MAX_PROBLEMS_SHOWN]
        more = len(problems) - len(shown)
        if len(problems) == 1:  # one line: the file and its problem come first
            message = (
                f"{problems[0]} Nothing was trained: fix the file, or pass "
                "data.on_bad_file=skip to leave it out (listed in the run folder)."
            )
        else:
            message = (
                f"{len(problems)} files of the dataset cannot be used; nothing was trained. Fix "
                "them, or pass data.on_bad_file=skip to leave them out (listed in the run "
                "folder):\n  " + "\n  ".join(shown) + (f"\n  ... and {more} more" if more else "")
            )
        super().__init__(message)
        self.problems = problems


MAX_PROBLEMS_SHOWN = 50
ON_BAD_FILE = ("stop", "skip")


def _preprocess_or_problem(
    preprocessor: Preprocessor,
    png_path: str,
    json_path: str,
    min_size: int = MIN_SIZE,
    max_pixels: int = MAX_PIXELS,
) -> tuple[np.ndarray, int] | str:
    """The model input and the film's bit depth, or the message of the error that prevents it
    (one file's problem).

    Every case passes read_case's checks first, whatever the crop: which cases are unusable is
    then a property of the dataset, the same for every variant, and data.on_bad_file=skip gives
    every variant of a sweep the same split. They run here, in the (parallel) build that
    decodes each film anyway, rather than in the index: the index would have to decode the
    films a second time (a truncated PNG shows only when decoded) and parse 1.4 GB of JSON at
    every run start, where an entry's list is computed once and kept in its manifest."""
    try:
        case = read_case(
            png_path,
            json_path,
            preprocessor.bit_depth,
            min_size,
            max_pixels,
            preprocessor.dicom_window,
        )
        # The same call as preprocess_file's: an entry holds exactly what it computes.
        keypoints = case.keypoints if preprocessor.needs_keypoints else None
        return preprocessor(case.image, keypoints), case.depth
    except ValueError as err:  # CSXAFormatError, ImageReadError and bad geometry are ValueErrors
        message = str(err)
        named = png_path in message or json_path in message
        return message if named else f"{png_path} (landmarks {json_path}): {message}"


def log_depths(depths: dict[int, int], bit_depth: str | int) -> None:
    """The films per bit depth at INFO; a WARNING when they mix depths: a 12-bit film next to
    8-bit ones is mapped by its own depth (auto), which is right only if both were exported
    from the same kind of original."""
    counts = ", ".join(f"{depth}-bit {n}" for depth, n in sorted(depths.items()))
    log.info("films by bit depth (data.bit_depth=%s): %s", bit_depth, counts or "none usable")
    if len(depths) > 1:
        log.warning(
            "the films mix bit depths (%s): each 16-bit film is mapped to 8 bits by %s, so the "
            "grey levels of films of different depths are comparable only if they were "
            "exported alike. Check where the films of the rarer depth come from, or pass "
            "data.bit_depth=N to map every 16-bit film from N bits.",
            counts,
            "its own depth (data.bit_depth=auto)"
            if bit_depth == "auto"
            else f"data.bit_depth={bit_depth}",
        )


def entry_shape(n: int, preprocessor: Preprocessor) -> tuple[int, int, int, int, int]:
    size = preprocessor.image_size
    return (n, len(preprocessor.variants), preprocessor.channels, size, size)


def _build(
    index: pd.DataFrame,
    preprocessor: Preprocessor,
    target: Path,
    workers: int,
    min_size: int,
    max_pixels: int = MAX_PIXELS,
) -> tuple[dict[str, str], dict[str, int], str, int]:
    """Write the entry's .npy; returns {stem: problem} of the files that could not be used
    (their rows stay zero), so that one pass finds every problem of a damaged dataset, the
    number of usable films per bit depth ({"8": n, ...}), and the checksum and size of the
    file, computed once it is written and before it is renamed in."""
    n = len(index)
    shape = entry_shape(n, preprocessor)
    pngs, jsons = index["png_path"].tolist(), index["json_path"].tolist()
    progress = tqdm(total=n, desc=f"preprocessing {preprocessor.label}", unit="img", disable=None)
    try:
        # Renamed in only once complete (whole_files); a failure or a kill leaves no entry.
        with written_whole(target) as partial:
            # Written straight into a memory-mapped file: the set is never held twice in memory.
            out = np.lib.format.open_memmap(partial, mode="w+", dtype=np.uint8, shape=shape)
            # One call per film: (preprocessor, png, json, min_size, max_pixels).
            calls = (repeat(preprocessor), pngs, jsons, repeat(min_size), repeat(max_pixels))
            with ExitStack() as stack:
                if workers <= 1:
                    results = map(_preprocess_or_problem, *calls)
                else:
                    pool = stack.enter_context(ProcessPoolExecutor(workers))
                    chunk = max(1, min(32, n // (4 * workers)))
                    results = pool.map(_preprocess_or_problem, *calls, chunksize=chunk)
                problems, depths = {}, Counter()
                for i, result in enumerate(results):
                    if isinstance(result, str):
                        problems[index["stem"].iloc[i]] = result
                    else:
                        out[i], depth = result
                        depths[str(depth)] += 1
                    progress.update()
            out.flush()
            del out
            checksum, size = file_checksum(partial), partial.stat().st_size
        return problems, dict(sorted(depths.items(), key=lambda kv: int(kv[0]))), checksum, size
    finally:
        progress.close()


def cached_inputs(
    index: pd.DataFrame,
    preprocessor: Preprocessor,
    cache_dir: str | Path,
    workers: int | None = None,
    on_bad_file: str = "stop",
    min_size: int = MIN_SIZE,
    max_pixels: int = MAX_PIXELS,
) -> CachedArray:
    """(N, variants, channels, S, S) uint8 model inputs of every index row, from the cache
    (built now if missing); read the rows you need with .read(rows).

    Files that cannot be used are all listed in one DatasetProblemsError (on_bad_file="stop",
    the default), or returned in ``.unusable`` ({stem: problem}; their rows are zero) for the
    caller to drop (on_bad_file="skip"). The list is kept in the manifest, so a cached entry
    reports the same problems without rebuilding; so is the number of usable films per bit
    depth (``.depths``), logged at INFO, and at WARNING when the set mixes depths.
    min_size: films with a shorter side are unusable (data.min_size); max_pixels: films with
    more pixels are (data.max_pixels)."""
    if on_bad_file not in ON_BAD_FILE:
        raise ConfigValueError(f"data.on_bad_file={on_bad_file!r}; choose one of {ON_BAD_FILE}")
    key = fingerprint(index, preprocessor, min_size, max_pixels)
    folder = Path(cache_dir).expanduser() / "inputs"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{key[:24]}.npy"
    manifest = target.with_suffix(".json")
    with FileLock(str(target) + ".lock"):
        _remove_leftovers(folder, target, manifest)
        doc = _intact_manifest(target, manifest, key, index, preprocessor)
        if doc is None:
            log.info(
                "building preprocessed cache %s (%s, %d images)",
                target,
                preprocessor.label,
                len(index),
                extra=CONSOLE,  # the longest step before training: the console says so
            )
            built = _build(
                index, preprocessor, target, workers or os.cpu_count() or 1, min_size, max_pixels
            )
            doc = _manifest(key, built, index, preprocessor, min_size, max_pixels)
            write_text_whole(manifest, json.dumps(doc, indent=1))  # last: the commit record
        arrays = CachedArray(target)
    arrays.unusable = doc.get("unusable", {})
    arrays.depths = {int(depth): n for depth, n in doc.get("depths", {}).items()}
    log_depths(arrays.depths, preprocessor.bit_depth)
    if arrays.unusable and on_bad_file == "stop":
        raise DatasetProblemsError(list(arrays.unusable.values()))
    if len(arrays) != len(index):
        raise RuntimeError(
            f"cache entry {target} holds {arrays.shape[0]} images, the index {len(index)}; "
            "delete the file to rebuild it"
        )
    return arrays


def _remove_leftovers(folder: Path, target: Path, manifest: Path) -> None:
    """Under the entry's lock nobody else writes it: temporary files of it are left over from
    a crashed build."""
    for stale in [
        *folder.glob(f".{target.name}.*.partial"),
        *folder.glob(f".{manifest.name}.*"),
    ]:
        log.info("removing %s, left over from an interrupted build", stale)
        stale.unlink(missing_ok=True)


def _intact_manifest(
    target: Path, manifest: Path, key: str, index: pd.DataFrame, preprocessor: Preprocessor
) -> dict | None:
    """The manifest of an intact entry (a cache hit); None when there is none to use, a
    damaged entry reported with a WARNING and deleted (to be rebuilt)."""
    if not target.exists() and not manifest.exists():
        return None
    stems, shape = index["stem"].tolist(), entry_shape(len(index), preprocessor)
    problem, doc = entry_problem(target, manifest, key, stems, shape)
    if problem is None:
        log.info("preprocessed cache hit: %s (%s)", target, preprocessor.label)
        return doc
    log.warning(
        "preprocessed cache entry %s is damaged: %s; deleting it and its manifest "
        "%s, and rebuilding it",
        target,
        problem,
        manifest.name,
    )
    manifest.unlink(missing_ok=True)  # manifest first: data alone is never trusted
    target.unlink(missing_ok=True)
    return None


def _manifest(
    key: str,
    built: tuple[dict[str, str], dict[str, int], str, int],
    index: pd.DataFrame,
    preprocessor: Preprocessor,
    min_size: int,
    max_pixels: int,
) -> dict:
    """The manifest of an entry _build has just written (built: what it returned)."""
    unusable, depths, checksum, size = built
    return {
        "fingerprint": key,
        "checksum": checksum,
        "size": size,
        "checks": CASE_CHECKS,
        "unusable": unusable,
        "depths": depths,
        "min_size": min_size,
        "max_pixels": max_pixels,
        "config": preprocessor.config(),
        "stems": index["stem"].tolist(),
    }
