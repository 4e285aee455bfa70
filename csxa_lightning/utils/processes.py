"""Whether a process still runs: how a run lock and a half-written file find a dead owner.

Imports nothing from the package, so the data side, the checkpoints and the results can all
ask it.
"""

from __future__ import annotations

import os


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this host (signal 0 checks without sending)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True
