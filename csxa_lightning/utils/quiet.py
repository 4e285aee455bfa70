"""Known third-party noise, silenced in this one place: every command calls
silence_known_noise() at its start, before Hydra composes and Lightning starts. Each pattern is
the start of one exact message, with why it is harmless; anything else still reaches the console.

The logging interval warning ("The number of training batches (5) is smaller than the logging
interval") is not silenced here but avoided: training/log_interval.py's LogIntervalWithinEpoch
fits trainer.log_every_n_steps to the epoch.
"""

from __future__ import annotations

import logging
import warnings

# Lightning 2.6 advertises its cloud logger at every Trainer construction (logger_connector,
# rank_zero_info). Informational only; the configured loggers (logger=...) are unaffected.
LITLOGGER_TIP = "💡 Tip: For seamless cloud logging"
# Logged through lightning_utilities' rank_zero_info, which Lightning points at this logger.
LIGHTNING_INFO_LOGGER = "lightning.pytorch.utilities.rank_zero"
# torch >= 2.9 deprecates LeafSpec; Lightning's own utilities/_pytree.py still builds one when
# it flattens the outputs of a step. A FutureWarning about Lightning's code, not ours: results
# are unchanged, and the fix belongs to Lightning.
LEAFSPEC_DEPRECATION = r"`isinstance\(treespec, LeafSpec\)` is deprecated"


class DropMessages(logging.Filter):
    """Drops log records whose message starts with one of `prefixes`."""

    def __init__(self, *prefixes: str) -> None:
        super().__init__()
        self.prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.prefixes)


# `log.info(..., extra=CONSOLE)`: an INFO line a user should see as it happens (a long step
# starting, a run resuming); every other INFO line goes to the run's log file only.
CONSOLE = {"console": True}


class ConsoleLines(logging.Filter):
    """The training console's filter (conf/hydra/default.yaml): warnings and errors from
    anyone, and the INFO lines marked CONSOLE. Lightning's model summary, its device lines,
    the data pipeline's details and the like stay in the run's log file."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or bool(getattr(record, "console", False))


# Libraries that print through a handler of their own: `lightning` and torchmetrics add a
# StreamHandler to their loggers whenever they are imported, and Lightning's subpackages when
# imported before logging is configured (stopping them from propagating), so their lines bypass
# the run's log file and the console's filter. train imports them once Hydra has configured
# logging (its `--help` answers without them), then routes them.
OWN_HANDLER_LOGGERS = ("lightning", "lightning.pytorch", "lightning.fabric", "torchmetrics")


def route_library_logs() -> None:
    """Send those libraries' lines through the configured handlers (Hydra's: the run's log file,
    and the console's filter). Called once logging is configured: at the start of a run."""
    for name in OWN_HANDLER_LOGGERS:
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            if type(handler) is logging.StreamHandler:
                logger.removeHandler(handler)
        logger.propagate = True


def silence_known_noise() -> None:
    """Installs the filters; calling it again adds nothing."""
    warnings.filterwarnings("ignore", message=LEAFSPEC_DEPRECATION, category=FutureWarning)
    logger = logging.getLogger(LIGHTNING_INFO_LOGGER)
    if not any(isinstance(f, DropMessages) for f in logger.filters):
        logger.addFilter(DropMessages(LITLOGGER_TIP))
    # OpenCV's C++ warnings ("[ WARN:0@3.8] ... PNG input buffer is incomplete") come before the
    # package's own line about the same film, which says what to do: errors only.
    import cv2

    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
