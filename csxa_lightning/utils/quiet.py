"""Known third-party noise, silenced in this one place (config/resolvers.py applies it on import,
which every entry point does before Hydra composes and Lightning starts). Each pattern is the start
of one exact message, with why it is harmless; anything else still reaches the console.

The logging interval warning ("The number of training batches (5) is smaller than the logging
interval") is not silenced here but avoided: checkpoint.LogIntervalWithinEpoch fits
trainer.log_every_n_steps to the epoch.
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


def silence_known_noise() -> None:
    """Installs the filters; calling it again adds nothing."""
    warnings.filterwarnings("ignore", message=LEAFSPEC_DEPRECATION, category=FutureWarning)
    logger = logging.getLogger(LIGHTNING_INFO_LOGGER)
    if not any(isinstance(f, DropMessages) for f in logger.filters):
        logger.addFilter(DropMessages(LITLOGGER_TIP))
