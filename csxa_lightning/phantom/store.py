"""A phantom set generated once into the cache dir and reused by every later run."""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

from filelock import FileLock

from csxa_lightning.phantom.layout import CSXA_HEALTHY_FRACTION, generate_phantom
from csxa_lightning.utils.quiet import CONSOLE

log = logging.getLogger(__name__)

# Bump when the drawing or the layout changes, so that old cached sets are not reused.
PHANTOM_VERSION = 1
COMPLETE_MARKER = ".complete"


def phantom_dir(
    cache_dir: str | Path, n: int, seed: int, healthy_fraction: float, effect: str = "natural"
) -> Path:
    """The set's folder: every setting that changes the files is in its name (a planted and a
    null set of the same size never share one)."""
    name = f"v{PHANTOM_VERSION}-n{n}-seed{seed}-healthy{healthy_fraction:.4f}"
    if effect != "natural":  # the natural sets keep the names they had before effects existed
        name += f"-{effect}"
    return Path(cache_dir).expanduser() / "phantom" / name


def ensure_phantom(
    cache_dir: str | Path,
    n: int = 500,
    seed: int = 0,
    healthy_fraction: float = CSXA_HEALTHY_FRACTION,
    workers: int | None = None,
    effect: str = "natural",
) -> Path:
    """The folder of this phantom set, generating it first if no complete copy exists.

    Generation writes into a private temporary folder that is renamed into place, so a run
    never sees a half-written set; a file lock lets one process generate while the others
    wait (on a shared file system without working locks, both generate and the loser of the
    rename discards its copy).
    """
    target = phantom_dir(cache_dir, n, seed, healthy_fraction, effect)
    if (target / COMPLETE_MARKER).exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # One generator at a time (the processes of a DDP run, sweep jobs): the others wait and
    # then find the set complete.
    with FileLock(str(target) + ".lock"):
        if (target / COMPLETE_MARKER).exists():
            return target
        _generate_into(target, n, seed, healthy_fraction, workers, effect)
    return target


def _generate_into(
    target: Path, n: int, seed: int, healthy_fraction: float, workers: int | None, effect: str
) -> None:
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        log.info(
            "generating phantom CSXA set (%d images, seed %d, effect %s) into %s",
            n,
            seed,
            effect,
            target,
            extra=CONSOLE,  # tens of seconds, once: the console says what is happening
        )
        generate_phantom(
            staging,
            n=n,
            seed=seed,
            healthy_fraction=healthy_fraction,
            workers=workers,
            effect=effect,
        )
        (staging / COMPLETE_MARKER).touch()
        try:
            staging.rename(target)
        except OSError:
            if not (target / COMPLETE_MARKER).exists():
                raise  # not a lost race: a real problem with the cache dir
    finally:
        shutil.rmtree(staging, ignore_errors=True)
