"""One job per run folder: the lock file a training job holds while it works in its folder.

    run.lock   JSON {host, pid, started}: the job that trains this folder now; removed when
               the job ends (finished, failed or interrupted)

Why a lock file made with an atomic create (os.open with O_CREAT | O_EXCL) and not the
`filelock` package the phantom uses: filelock's locks are advisory fcntl/flock locks, which on
NFS and other shared file systems of clusters are not reliably seen by other hosts (and a
SLURM requeue starts the second copy on another node). An exclusive create is atomic on local
file systems and on NFSv3 and later, and the file says who holds it. The price: a job that dies
without running its `finally` (SIGKILL, a lost node) leaves its lock behind. A lock is taken
over as stale when its process is gone (same host: os.kill(pid, 0)) or, held from another
host, whose processes this one cannot see, when it is older than run_lock.stale_after_hours.

Only one process of a run takes the lock: rank 0 of a DDP run (train decides), the others
follow it.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from csxa_lightning.utils.errors import UserError
from csxa_lightning.utils.processes import pid_alive

LOCK_FILE = "run.lock"
# A lock held from another host counts as stale after this long (run_lock.stale_after_hours).
DEFAULT_STALE_AFTER_HOURS = 48.0


class RunLockedError(UserError):
    """Another live job trains this run folder; this job leaves it alone."""


@dataclass(frozen=True)
class LockHolder:
    host: str
    pid: int
    started: str  # ISO 8601, UTC

    @classmethod
    def this_process(cls) -> LockHolder:
        started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        return cls(socket.gethostname(), os.getpid(), started)

    def describe(self) -> str:
        return f"host {self.host}, pid {self.pid}, since {self.started}"

    def age_hours(self, now: datetime) -> float:
        try:
            started = datetime.fromisoformat(self.started)
        except ValueError:
            return float("inf")  # unreadable start: as old as can be
        if started.tzinfo is None:
            started = started.replace(tzinfo=timezone.utc)
        return (now - started).total_seconds() / 3600


def read_holder(path: Path) -> LockHolder | None:
    """The holder a lock file names; None when there is no lock. A lock file that cannot be
    read (cut off, edited) is held by an unknown process since its modification time."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    try:
        data = json.loads(text)
        return LockHolder(str(data["host"]), int(data["pid"]), str(data["started"]))
    except (ValueError, KeyError, TypeError):
        try:
            mtime = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
        except FileNotFoundError:
            return None
        return LockHolder("unknown", -1, mtime.isoformat(timespec="seconds"))


class RunLock:
    """The lock of one run folder: acquire() creates run.lock or names the live holder;
    release() removes it if this process holds it."""

    def __init__(self, folder: Path, stale_after_hours: float = DEFAULT_STALE_AFTER_HOURS):
        self.path = Path(folder) / LOCK_FILE
        self.stale_after_hours = float(stale_after_hours)
        self.held: LockHolder | None = None

    def acquire(self) -> LockHolder | None:
        """Take the lock: None when this process holds it now, else the live job that does.
        A stale lock (see is_stale) is taken over, with a line in the log saying whose."""
        me = LockHolder.this_process()
        for _ in range(3):  # a lock removed or taken over between the steps: try again
            if self.create(me):
                self.held = me
                return None
            holder = read_holder(self.path)
            if holder is None:
                continue  # released meanwhile
            if not is_stale(holder, me.host, datetime.now(timezone.utc), self.stale_after_hours):
                return holder
            self.take_over(holder)
        holder = read_holder(self.path)
        return holder or me

    def create(self, me: LockHolder) -> bool:
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(asdict(me)) + "\n")
        return True

    def take_over(self, stale: LockHolder) -> None:
        """Remove a stale lock -- only the one that was read: it is first renamed to a name of
        this process's own (atomic), and put back if another job replaced it meanwhile."""
        aside = self.path.with_name(f"{LOCK_FILE}.stale-{socket.gethostname()}-{os.getpid()}")
        try:
            self.path.rename(aside)
        except FileNotFoundError:
            return
        if read_holder(aside) != stale:
            # Another job's fresh lock: give it back, unless a third job has made one.
            with contextlib.suppress(FileExistsError):
                os.link(aside, self.path)
        aside.unlink(missing_ok=True)

    def release(self) -> None:
        if self.held is not None and read_holder(self.path) == self.held:
            self.path.unlink(missing_ok=True)
        self.held = None


def is_stale(holder: LockHolder, host: str, now: datetime, stale_after_hours: float) -> bool:
    """A lock whose job is gone: on this host, its process no longer runs; from another host
    (whose processes cannot be seen from here), older than stale_after_hours."""
    if holder.host == host:
        return not pid_alive(holder.pid)
    return holder.age_hours(now) > stale_after_hours


def locked_message(folder: Path, holder: LockHolder, stale_after_hours: float) -> str:
    """The one line of a job that finds its run folder held by another."""
    return (
        f"{folder}: another job is training this run ({holder.describe()}); not training it "
        f"twice. Wait for that job; if it is dead, delete {folder / LOCK_FILE} (a lock of a "
        f"dead process on the same host, or one older than run_lock.stale_after_hours="
        f"{stale_after_hours:g} from another host, is taken over by itself)."
    )
