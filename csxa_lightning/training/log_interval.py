"""Training curves logged at least once per epoch, however few batches an epoch has.

Lightning logs training metrics every trainer.log_every_n_steps (10) steps; an epoch with fewer
batches would log no training point at all, and Lightning warns so ("The number of training
batches (5) is smaller than the logging interval") on every run of a small set (make demo, the
phantom). LogIntervalWithinEpoch lowers the interval to the epoch's batch count once it is known.
"""

from __future__ import annotations

import logging

import lightning as L

log = logging.getLogger(__name__)


class LogIntervalWithinEpoch(L.Callback):
    """At setup (before Lightning counts the batches and warns), trainer.log_every_n_steps
    becomes min(configured, training batches per epoch on this process, after
    limit_train_batches / overfit_batches)."""

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if stage != "fit" or trainer.datamodule is None:
            return
        batches = limited_batches(len(trainer.datamodule.train_dataloader()),
                                  trainer.limit_train_batches)  # fmt: skip
        interval = log_interval(trainer.log_every_n_steps, batches)
        if interval != trainer.log_every_n_steps:
            log.debug("log_every_n_steps %d -> %d (%d training batches per epoch)",
                      trainer.log_every_n_steps, interval, batches)  # fmt: skip
            trainer.log_every_n_steps = interval


def limited_batches(batches: int, limit: int | float | None) -> int:
    """Batches per epoch after Lightning's limit_train_batches (an int: that many at most; a
    float: that fraction)."""
    if limit is None:
        return batches
    if isinstance(limit, int):
        return min(batches, limit)
    return int(batches * limit)


def log_interval(configured: int, batches: int) -> int:
    """The configured interval, or the batch count when an epoch is shorter (at least 1)."""
    return max(1, min(configured, batches))
