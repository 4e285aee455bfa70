"""How a rate is timed: images per second over the steps after a warm-up, with the device
synchronized at both ends, for a Lightning fit (timed_fit) and for a loader alone
(loader_images_per_second); and the peak GPU memory beside them."""

from __future__ import annotations

import time
from collections.abc import Callable

import lightning as L
import torch
from torch.utils.data import DataLoader

from csxa_lightning.bench.settings import Settings

# A loader alone is fast: time more batches than training steps, after its worker processes
# have all delivered a first batch.
LOADER_BATCHES = 50


def timed_fit(
    window: Settings, precision: str, benchmark: bool, model: L.LightningModule, **fit_kwargs
) -> float:
    """Images per second of `model`'s training steps over `window` (trainer.fit's arguments
    in fit_kwargs: a datamodule or train_dataloaders)."""
    timer = Throughput(window.warmup, window.steps)
    trainer_for(window, precision, benchmark, timer).fit(model, **fit_kwargs)
    return timer.images_per_second


def loader_images_per_second(
    loader: DataLoader,
    settings: Settings,
    device: torch.device,
    on_device: Callable[[dict], object] = lambda batch: batch,
) -> float:
    """Batches to the device (and through `on_device`), no model; cycles the loader."""
    warmup = max(settings.warmup, 2 * max(loader.num_workers, 1))
    seen, start, batches = 0, None, 0
    while True:
        for batch in loader:
            batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
            on_device(batch)
            batches += 1
            if batches == warmup:
                synchronize(device)
                start = time.perf_counter()
            elif batches > warmup:
                seen += len(batch["label"])
                if batches == warmup + LOADER_BATCHES:
                    synchronize(device)
                    return seen / (time.perf_counter() - start)


def trainer_for(window: Settings, precision: str, benchmark: bool, timer: Throughput):
    """A trainer that runs the window's steps and nothing else: no validation, logging,
    checkpoints or progress bar, whose costs would be timed with the steps."""
    return L.Trainer(
        accelerator="auto",
        devices=1,
        precision=precision,
        benchmark=benchmark,
        max_steps=window.warmup + window.steps,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[timer],
    )


class Throughput(L.Callback):
    """Images per second over the training steps after `warmup` steps."""

    def __init__(self, warmup: int, steps: int) -> None:
        self.warmup, self.steps = warmup, steps
        self.start = self.end = None
        self.images = 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        step = trainer.global_step  # already counts this step
        if step == self.warmup:
            synchronize(pl_module.device)
            self.start = time.perf_counter()
        elif step > self.warmup:
            self.images += len(batch["label"])
            if step == self.warmup + self.steps:
                synchronize(pl_module.device)
                self.end = time.perf_counter()
                trainer.should_stop = True

    @property
    def images_per_second(self) -> float:
        if self.end is None:
            raise RuntimeError("the run ended before the timed steps were done")
        return self.images / (self.end - self.start)


def synchronize(device: torch.device) -> None:
    """Waits for the device's queued work: CUDA runs asynchronously, so a clock read without it
    would time the queueing, not the work."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reset_peak_memory() -> None:
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()


def peak_memory_gib() -> float | None:
    """torch.cuda.max_memory_allocated since the last reset, in GiB (None without CUDA)."""
    if not torch.cuda.is_available():
        return None
    return round(torch.cuda.max_memory_allocated() / 2**30, 2)
