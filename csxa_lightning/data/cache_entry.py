"""One entry of the preprocessed cache on disk (see cache.py): the checksum and the .npy header
that describe it, and the checks that it is intact and belongs to the index and preprocessor
asking for it.

Every use of an entry first verifies it, under the lock: manifest present and readable, its
fingerprint and stems those of the index, the file size that of the manifest, the shape in the
.npy header that of the index and the preprocessor, and the CRC-32 of the whole file that of the
manifest. A damaged entry (disk error, truncated copy, crash between the two renames, a file
edited by hand) is reported by cache.cached_inputs with a WARNING naming the file and the
problem, deleted and rebuilt; it is never used.
"""

from __future__ import annotations

import json
import logging
import os
import time
import zlib
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

# Which checks decided an entry's list of unusable files. 2: every case is checked as every
# variant needs it (film, landmarks, landmark box), whatever the crop (case.read_case), so all
# variants of a dataset leave out the same cases. An entry listed by other checks (1: only what
# its crop read) is rebuilt in place, like one without checksum, not orphaned under a new key.
# 3: also the film's size against its annotation's, a minimum film size, and the films' bit
# depths (16-bit films mapped by their real depth, counted in the manifest).
# 4: also blank and near-constant films, films over data.max_pixels (from the PNG header), and
# a landmark given twice far apart (films.read_film, annotations.read_annotation).
CASE_CHECKS = 4
# Not bumped for the checksum: an entry of the previous version (a manifest without checksum) is
# reported as damaged and rebuilt in place, rather than left behind under an orphaned key.

# The checksum guards against accidental damage (bit rot, truncation, torn writes), not against
# an adversary, and every run start reads the whole entry (300 MB - 1.5 GB) through it, so the
# fastest is chosen. Measured on 1.5 GiB read from the page cache (Python 3.11, zlib 1.2.13,
# 2-core VM): zlib.crc32 3.0-3.3 GiB/s (0.49 s), hashlib.blake2b 0.88 GiB/s (1.7 s; md5 0.72,
# sha256 1.1 GB/s in memory); the read alone 8 GiB/s. blake2b would be the bottleneck even from
# disk (cold read with crc32: 1.45 GiB/s); crc32 is not, and with the size check it misses a
# random corruption with probability 2**-32.
CHECKSUM = "crc32"
_CHECKSUM_CHUNK = 1 << 20  # 1 MiB: fits in L2, measured fastest (3.3 GiB/s against 3.0 at 8 MiB)


def file_checksum(path: str | Path) -> str:
    """The file's checksum as "crc32:<8 hex digits>", streamed in 1 MiB chunks through one
    buffer (never the whole file in memory)."""
    crc = 0
    buffer = bytearray(_CHECKSUM_CHUNK)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as f:
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)  # larger read-ahead
        while n := f.readinto(buffer):
            crc = zlib.crc32(view[:n], crc)
    return f"{CHECKSUM}:{crc:08x}"


def read_npy_header(path: str | Path) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """(shape, fortran_order, dtype, data offset) of a .npy file; ValueError if unreadable."""
    with open(path, "rb") as f:
        major, _ = np.lib.format.read_magic(f)
        read_header = (
            np.lib.format.read_array_header_1_0
            if major == 1
            else np.lib.format.read_array_header_2_0
        )
        shape, fortran_order, dtype = read_header(f)
        return tuple(shape), fortran_order, dtype, f.tell()


def entry_problem(
    target: Path, manifest: Path, key: str, stems: list[str], shape: tuple[int, ...]
) -> tuple[str | None, dict]:
    """(None, manifest) if the entry is intact and belongs to this key, these stems (the
    index's) and this array shape (the preprocessor's), else (what is wrong, {}). Cheap checks
    first; the checksum reads the whole file."""
    if not manifest.exists():
        return "manifest missing (the build was interrupted, or the manifest deleted)", {}
    if not target.exists():
        return "data file missing (only its manifest is there)", {}
    problem, doc = _manifest_problem(manifest, key, stems)
    if problem is None:
        problem = _data_problem(target, doc["size"], doc["checksum"], shape)
    return (None, doc) if problem is None else (problem, {})


def _manifest_problem(manifest: Path, key: str, stems: list[str]) -> tuple[str | None, dict]:
    """(None, manifest) if the manifest is readable, complete and names this key and these
    stems, else (what is wrong, {})."""
    try:
        doc = json.loads(manifest.read_text())
    except (OSError, ValueError) as err:
        return f"manifest unreadable ({err})", {}
    if not isinstance(doc, dict):
        return "manifest unreadable (not a JSON object)", {}
    expected_checksum, expected_size = doc.get("checksum"), doc.get("size")
    if not isinstance(expected_checksum, str) or not isinstance(expected_size, int):
        return "manifest has no checksum and size (written by an older version)", {}
    if not expected_checksum.startswith(f"{CHECKSUM}:"):
        return f"manifest checksum {expected_checksum!r} is not a {CHECKSUM}", {}
    if doc.get("checks") != CASE_CHECKS:
        return (
            f"its list of unusable files was made by checks version {doc.get('checks', 1)}, "
            f"not {CASE_CHECKS} (the checks of every film changed since; see CASE_CHECKS)"
        ), {}
    if doc.get("fingerprint") != key:
        return f"manifest fingerprint {doc.get('fingerprint')!r} is not the entry's key", {}
    listed = doc.get("stems")
    if listed != stems:
        if not isinstance(listed, list):
            return "manifest has no list of stems", {}
        first = next(
            (i for i, (a, b) in enumerate(zip(listed, stems, strict=False)) if a != b),
            min(len(listed), len(stems)),
        )
        return (
            f"stems differ from the index's: {len(listed)} in the manifest, {len(stems)} in the "
            f"index, first difference at row {first}"
        ), {}
    return None, doc


def _data_problem(
    target: Path, expected_size: int, expected_checksum: str, expected_shape: tuple[int, ...]
) -> str | None:
    """None if the .npy file has the size, header and checksum its manifest states, else what
    is wrong. The checksum last: it reads the whole file."""
    size = target.stat().st_size
    if size < expected_size:
        return f"truncated: {size} of {expected_size} bytes"
    if size > expected_size:
        return f"size {size} bytes, the manifest says {expected_size}"
    try:
        shape, fortran_order, dtype, offset = read_npy_header(target)
    except (OSError, ValueError) as err:
        return f"unreadable .npy header ({err})"
    if fortran_order or dtype != np.uint8:
        return f"not a C-ordered uint8 array (dtype {dtype}, fortran_order {fortran_order})"
    if shape != expected_shape:
        return f"shape {shape} in the .npy header, expected {expected_shape}"
    if offset + int(np.prod(shape)) != size:
        return f"the header describes {offset + int(np.prod(shape))} bytes, the file has {size}"
    start = time.perf_counter()
    checksum = file_checksum(target)
    if checksum != expected_checksum:
        return f"checksum mismatch: {checksum} computed, {expected_checksum} in the manifest"
    log.debug("verified %s (%d bytes) in %.2f s", target, size, time.perf_counter() - start)
    return None
