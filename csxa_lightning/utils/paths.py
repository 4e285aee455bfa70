"""Paths every layer needs: the default cache folder, and whether a folder takes files."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def default_cache_dir() -> str:
    """Where phantom sets and cached model inputs go unless paths.cache_dir says otherwise:
    $CSXA_CACHE_DIR, else $XDG_CACHE_HOME/csxa_lightning, else ~/.cache/csxa_lightning (the XDG
    base directory convention). The one definition: conf/paths/default.yaml and the benchmarks
    both use it."""
    if os.environ.get("CSXA_CACHE_DIR"):
        return os.environ["CSXA_CACHE_DIR"]
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return str(base / "csxa_lightning")


def writable_folder(folder: Path) -> str | None:
    """Why files cannot be created in folder (its nearest existing ancestor, since missing
    folders would be created), or None when they can. Permissions, read-only mounts and /proc
    answer only by trying: a probe file is created and removed at once."""
    existing = next((f for f in (folder, *folder.parents) if f.exists()), Path("/"))
    if not existing.is_dir():
        return f"{existing} is a file, not a folder"
    try:
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".csxa-probe-"):
            pass
    except OSError as err:
        return f"cannot create files in {existing} ({err.strerror or err})"
    return None
