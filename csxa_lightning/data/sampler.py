"""Training order and augmentation draws as pure functions of (seed, epoch, sample).

A run resumed from its last checkpoint must see the same batches and the same augmentations as
one that never stopped. The default shuffling draws from the global torch generator, whose
state a checkpoint does not hold, and a per-worker augmentation stream depends on how many
samples each worker has served. So the sampler draws each epoch's permutation from
(seed, epoch) and hands the dataset (epoch, index) keys; the dataset seeds the augmentation of
each sample from (seed, epoch, index). Lightning calls set_epoch() before every epoch.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from torch.utils.data import Sampler


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """A well-mixed 32-bit seed for one sample in one epoch."""
    return int(np.random.SeedSequence([seed, epoch, index]).generate_state(1)[0])


class EpochSampler(Sampler[tuple[int, int]]):
    """Yields (epoch, index) over a permutation of range(n) drawn from (seed, epoch)."""

    def __init__(self, n: int, seed: int) -> None:
        self.n, self.seed, self.epoch = n, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[tuple[int, int]]:
        order = np.random.default_rng([self.seed, self.epoch]).permutation(self.n)
        return ((self.epoch, int(i)) for i in order)
