"""Each training epoch's other random draws as a function of (seed, epoch, rank).

The order of the samples and their augmentation are already functions of (seed, epoch, sample)
(data/sampler.py). What is left draws from the global generators of the training process:
dropout (VGG19's classifier, EfficientNet, ViT), stochastic depth (ConvNeXt, Swin), anything a
user's model adds. A checkpoint does not hold those generators' state, so a run resumed at
epoch k would draw from the state seed_everything left at the start, not from the state k
epochs of training left, and end differently from the run that never stopped. SeedEachEpoch
reseeds torch (CPU and CUDA), numpy's and Python's global generators when each training epoch
starts, so a resumed run ends as the uninterrupted one does (tests/integration/test_resume.py,
and the kill-and-restart soak).

The rank is part of the seed: under DDP each process draws its own dropout masks, as it draws
its own share of the samples.
"""

from __future__ import annotations

import random

import lightning as L
import numpy as np
import torch


def epoch_seed(seed: int, epoch: int, rank: int = 0) -> int:
    """A well-mixed 32-bit seed for one epoch of one process."""
    return int(np.random.SeedSequence([seed, epoch, rank]).generate_state(1)[0])


class SeedEachEpoch(L.Callback):
    """Reseeds the global generators from epoch_seed(seed, epoch, rank) at each training
    epoch's start (see the module docstring)."""

    def __init__(self, seed: int | None) -> None:
        # seed=null: seed_everything drew a random seed, and a resume cannot repeat it anyway
        self.seed = None if seed is None else int(seed)

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.seed is None:
            return
        seed = epoch_seed(self.seed, trainer.current_epoch, trainer.global_rank)
        torch.manual_seed(seed)  # also every CUDA device's generator
        np.random.seed(seed)
        random.seed(seed)
