"""Problems the user can fix end an entry point as one line, `error: ...`, and exit code 1.

Which errors those are (USER_ERRORS), how to find one behind Hydra's instantiation wrapper
(user_error), and the context manager every entry point (train, predict, export) runs in.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from hydra.errors import InstantiationException

from csxa_lightning.backbones import WeightsNotFoundError
from csxa_lightning.data.csxa import CSXAFormatError
from csxa_lightning.data.images import ImageReadError

# Problems the user can fix (data, weights, settings): one clear line, not a traceback.
# ConfigValueError, DatasetProblemsError and the split's errors are ValueErrors.
USER_ERRORS = (CSXAFormatError, ImageReadError, WeightsNotFoundError, ValueError)


def user_error(err: BaseException) -> BaseException | None:
    """The user-fixable error behind err (Hydra wraps errors raised while instantiating)."""
    while err is not None:
        if isinstance(err, USER_ERRORS):
            return err
        if not isinstance(err, InstantiationException):
            return None
        err = err.__cause__
    return None


@contextmanager
def exit_on_user_error(logger: logging.Logger | None = None) -> Iterator[None]:
    """Turn a user-fixable error into `error: <message>` on stderr and exit 1; let bugs raise.

    logger: also log the message there (train does, for its run's log file); predict and
    export have no log file and print the line once."""
    try:
        yield
    except (InstantiationException, *USER_ERRORS) as err:
        cause = user_error(err)
        if cause is None:
            raise
        if logger is not None:
            logger.error("%s", cause)
            # USER_ERRORS includes every ValueError: should one come from a bug, the run's log
            # file still holds where it was raised.
            logger.debug("where the error was raised:", exc_info=cause)
        raise SystemExit(f"error: {cause}") from None
