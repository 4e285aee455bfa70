"""A run whose loss becomes NaN or infinite stops, with one line saying where and why.

Without this, a diverged run trains on to the end: its test probabilities are NaN, NaN >= 0.5
is false, every film counts as healthy, and metrics.json shows a plausible number. Lightning's
own options do not say where (Trainer(detect_anomaly) is slow and prints autograd traces;
EarlyStopping(check_finite) only watches its monitored metric, and stops quietly).

StopOnNonFiniteLoss (conf/callbacks/default.yaml) collects the training losses on the device
and looks at them every check_every_n_steps steps and at each epoch's end: one wait for the GPU
per check, not per step. The first non-finite one names its epoch and step. The validation
loss is checked after each validation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import lightning as L
import torch

from csxa_lightning.utils.errors import UserError


class NonFiniteLossError(UserError):
    """The training or validation loss became NaN or infinite: the run diverged."""


class StopOnNonFiniteLoss(L.Callback):
    def __init__(self, check_every_n_steps: int = 10) -> None:
        self.check_every_n_steps = max(1, int(check_every_n_steps))
        self.pending: list[tuple[int, int, torch.Tensor]] = []  # (epoch, step, loss)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        loss = outputs.get("loss") if isinstance(outputs, Mapping) else outputs
        if not isinstance(loss, torch.Tensor):
            return
        self.pending.append((trainer.current_epoch, trainer.global_step, loss.detach()))
        if len(self.pending) >= self.check_every_n_steps:
            self.check_pending(trainer)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.check_pending(trainer)

    def on_validation_start(self, trainer, pl_module) -> None:
        self.check_pending(trainer)  # the epoch's training losses come first

    def on_validation_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking:
            return
        loss = trainer.callback_metrics.get("val/loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise NonFiniteLossError(
                non_finite_message(
                    "validation", float(loss), trainer.current_epoch, trainer.global_step, trainer
                )
            )

    def check_pending(self, trainer) -> None:
        pending, self.pending = self.pending, []
        if not pending:
            return
        losses = torch.stack([loss.float().reshape(()) for _, _, loss in pending])
        finite = torch.isfinite(losses)
        if bool(finite.all()):
            return
        first = int((~finite).nonzero()[0])
        epoch, step, _ = pending[first]
        raise NonFiniteLossError(
            non_finite_message("training", float(losses[first]), epoch, step, trainer)
        )


def non_finite_message(which: str, value: float, epoch: int, step: int, trainer) -> str:
    """One line: which loss, where, and the likely causes with the settings to change."""
    precision = str(getattr(trainer, "precision", "32-true"))
    causes = "a learning rate too high (lower model.optimizer.lr)"
    if precision not in ("32-true", "32", "64-true", "64"):
        causes += (
            f", or reduced precision overflowing (trainer.precision={precision}; try "
            "trainer.precision=32-true)"
        )
    else:
        causes += ", or inputs or weights that are not finite (trainer.precision=32-true already)"
    return (
        f"the {which} loss is {value} at epoch {epoch}, step {step}: the run diverged, and "
        f"was stopped (nothing tested). Likely causes: {causes}."
    )
