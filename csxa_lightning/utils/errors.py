"""Problems the user can fix end an entry point as one line, `error: ...`, and exit code 1.

UserError is the base of every error a user can fix (a bad config value, a damaged file,
weights not on this machine); a plain ValueError is a bug and keeps its traceback.
user_error finds one behind Hydra's instantiation wrapper, and exit_on_user_error is the
context manager every entry point (train, predict, export) runs in. This module imports
nothing from the package, so that every module can raise these errors.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

from hydra.errors import InstantiationException


class UserError(ValueError):
    """A problem the user can fix (data, weights, settings); the message says how."""


class ConfigValueError(UserError):
    """One or more config values no run could use."""


def user_error(err: BaseException | None) -> UserError | None:
    """The user-fixable error behind err (Hydra wraps errors raised while instantiating)."""
    while err is not None:
        if isinstance(err, UserError):
            return err
        if not isinstance(err, InstantiationException):
            return None
        err = err.__cause__
    return None


# A disk that is full, a quota or a file-size limit (ulimit -f) reached: the machine's state,
# not a bug. torch's checkpoint writer reports it as a RuntimeError without the errno.
NO_SPACE_ERRNOS = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}
TORCH_WRITE_FAILED = "file write failed"


def no_space_message(err: BaseException) -> str | None:
    """The one line for an error that means "no room to write", else None."""
    if isinstance(err, OSError) and err.errno in NO_SPACE_ERRNOS:
        where = f"writing {err.filename}" if err.filename else "writing a file"
        reason = os.strerror(err.errno)
    elif isinstance(err, RuntimeError) and TORCH_WRITE_FAILED in str(err):
        where, reason = "writing a checkpoint", "file write failed"
    else:
        return None
    return (
        f"no room left while {where} ({reason}): free space on that disk, raise the file-size "
        "or quota limit, or point the output (paths.output_dir, paths.cache_dir, out=) at "
        "another disk. Files are written whole, so the old ones are intact; an interrupted run "
        "resumes from its last checkpoint"
    )


def full_error_requested() -> bool:
    """HYDRA_FULL_ERROR=1: the user asked for every traceback, user errors' included."""
    return os.environ.get("HYDRA_FULL_ERROR") == "1"


@contextmanager
def exit_on_user_error(logger: logging.Logger | None = None) -> Iterator[None]:
    """Turn a UserError into `error: <message>` on stderr and exit 1; let bugs raise.

    The line is printed once: logger (train's and preview's, whose run has a log file) gets
    the message and where it was raised at DEBUG, the level only the log file records (the
    console shows INFO and up), so that the console shows the `error:` line alone. With
    HYDRA_FULL_ERROR=1 the error is raised as it is, traceback included."""
    try:
        yield
    except (InstantiationException, UserError, OSError, RuntimeError) as err:
        cause = user_error(err)
        message = str(cause) if cause is not None else no_space_message(err)
        if message is None or full_error_requested():
            raise
        if cause is None:
            message += "."  # no_space_message is one sentence without its full stop
        if logger is not None:
            # The run's log file keeps the error and where it was raised.
            logger.debug("error: %s\nwhere the error was raised:", message, exc_info=cause or err)
        raise SystemExit(f"error: {message}") from None
