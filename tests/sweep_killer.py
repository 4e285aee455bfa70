"""A command run in its own process group and SIGKILLed, with every process it started, when a
trigger sees what it waits for in the command's output or files: how a scheduler, the
out-of-memory killer or a lost node ends a job. The kill-and-restart soak uses it
(tests/integration/test_soak.py)."""

from __future__ import annotations

import codecs
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

POLL_SECONDS = 0.005


class OutputCounter:
    """Counts the matches of a pattern in a growing text, each once: tqdm's progress bars
    rewrite their line with \\r, so the text is scanned as a stream, not line by line."""

    def __init__(self, pattern: str, accept: Callable[[re.Match], bool] = lambda m: True):
        self.pattern = re.compile(pattern, re.MULTILINE)
        self.accept = accept
        self.count = 0
        self.scanned = 0  # where the last counted match ended

    def update(self, text: str) -> int:
        for match in self.pattern.finditer(text, self.scanned):
            self.scanned = match.end()
            self.count += bool(self.accept(match))
        return self.count


class NewFiles:
    """Counts the distinct files matching glob patterns under a folder as they appear (each
    name once), and says whether the newest one is still there."""

    def __init__(self, root: Path, *patterns: str):
        self.root, self.patterns = Path(root), patterns
        self.seen: list[Path] = []

    def update(self) -> int:
        for pattern in self.patterns:
            for path in self.root.glob(pattern):
                if path not in self.seen:
                    self.seen.append(path)
        return len(self.seen)

    def newest_exists(self) -> bool:
        return bool(self.seen) and self.seen[-1].exists()


@dataclass
class Trigger:
    """When to kill: `fires(output so far)` is asked every few milliseconds; once it says yes,
    the group is killed `delay` seconds later. `phase` names what the kill interrupts."""

    phase: str
    fires: Callable[[str], bool]
    delay: float = 0.0
    description: str = ""


@dataclass
class Outcome:
    returncode: int
    output: str
    killed: bool
    seconds: float
    at: float | None = None  # seconds from the start to the kill
    notes: dict = field(default_factory=dict)


def run_until(
    command: list[str], cwd: Path, env: dict, trigger: Trigger | None, timeout: float
) -> Outcome:
    """Run command; SIGKILL its process group when the trigger fires, or let it end."""
    start = time.monotonic()
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own group: the kill reaches its workers, not pytest
    )
    chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: chunks.extend(iter(
        lambda: os.read(process.stdout.fileno(), 1 << 16), b""
    )), daemon=True)  # fmt: skip
    reader.start()
    killed_at = None
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")  # chunks split characters
    text, decoded = "", 0
    try:
        while process.poll() is None:
            if time.monotonic() - start > timeout:
                raise TimeoutError(f"{command[:4]}... ran longer than {timeout} s")
            if trigger is not None and killed_at is None:
                arrived = len(chunks)
                text += decoder.decode(b"".join(chunks[decoded:arrived]))
                decoded = arrived
                if trigger.fires(text):
                    time.sleep(trigger.delay)
                    killed_at = time.monotonic() - start
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
                    break
            time.sleep(POLL_SECONDS)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        reader.join(timeout=10)
    return Outcome(
        returncode=process.returncode,
        output=b"".join(chunks).decode(errors="replace"),
        killed=killed_at is not None,
        seconds=time.monotonic() - start,
        at=killed_at,
    )
