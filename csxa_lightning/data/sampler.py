"""Training order and augmentation draws as pure functions of (seed, epoch, sample).

A run resumed from its last checkpoint must see the same batches and the same augmentations as
one that never stopped. The default shuffling draws from the global torch generator, whose
state a checkpoint does not hold, and a per-worker augmentation stream depends on how many
samples each worker has served. So the sampler draws each epoch's permutation from
(seed, epoch) and hands the dataset (epoch, index) keys; the dataset seeds the augmentation of
each sample from (seed, epoch, index). Lightning calls set_epoch() before every epoch.

Under DDP the samplers shard the same order themselves (trainer=ddp sets
use_distributed_sampler=false): Lightning's wrapper around a custom sampler would not pass
set_epoch() on, and every epoch would repeat the first one's order and augmentations.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from torch.utils.data import Sampler


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """A well-mixed 32-bit seed for one sample in one epoch."""
    return int(np.random.SeedSequence([seed, epoch, index]).generate_state(1)[0])


def shard(order: np.ndarray, rank: int, world_size: int) -> np.ndarray:
    """This rank's share of `order` under DDP: every rank gets the same count (collectives stay
    in step), the end padded with samples from the start, as torch's DistributedSampler does.
    Evaluation removes the repeats by sample index (CSXAClassifier.on_test_epoch_end)."""
    if world_size == 1:
        return order
    if not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} outside 0..{world_size - 1}")
    total = -(-len(order) // world_size) * world_size
    padded = np.resize(order, total)  # repeats from the start
    return padded[rank::world_size]


def batch_bounds(n: int, batch_size: int) -> list[tuple[int, int]]:
    """(start, stop) of consecutive training batches over n samples. A last batch of a single
    sample is folded into the batch before it (which then holds batch_size + 1): BatchNorm
    cannot normalize one sample in training mode, and folding, unlike dropping, keeps every
    sample in every epoch."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if n == 0:
        return []
    stops = [*range(batch_size, n, batch_size), n]
    if len(stops) > 1 and stops[-1] - stops[-2] == 1:
        stops.pop(-2)
    return list(zip([0, *stops[:-1]], stops, strict=True))


class FoldedBatchSampler(Sampler[list]):
    """Training batches of a sampler's keys, cut by batch_bounds (never a batch of one);
    set_epoch reaches the wrapped sampler, whose order is a function of (seed, epoch)."""

    def __init__(self, sampler: Sampler, batch_size: int) -> None:
        self.sampler, self.batch_size = sampler, batch_size

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)

    def __len__(self) -> int:
        return len(batch_bounds(len(self.sampler), self.batch_size))

    def __iter__(self) -> Iterator[list]:
        keys = list(self.sampler)
        for start, stop in batch_bounds(len(keys), self.batch_size):
            yield keys[start:stop]


class EpochSampler(Sampler[tuple[int, int]]):
    """Yields (epoch, index) over a permutation of range(n) drawn from (seed, epoch), or this
    rank's share of it under DDP (the permutation is the same on every rank)."""

    def __init__(self, n: int, seed: int, rank: int = 0, world_size: int = 1) -> None:
        self.n, self.seed, self.epoch = n, seed, 0
        self.rank, self.world_size = rank, world_size

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return -(-self.n // self.world_size)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        order = np.random.default_rng([self.seed, self.epoch]).permutation(self.n)
        mine = shard(order, self.rank, self.world_size)
        return ((self.epoch, int(i)) for i in mine)


class ShardSampler(Sampler[int]):
    """Evaluation order: range(n), or this rank's share of it under DDP."""

    def __init__(self, n: int, rank: int = 0, world_size: int = 1) -> None:
        self.n, self.rank, self.world_size = n, rank, world_size

    def __len__(self) -> int:
        return -(-self.n // self.world_size)

    def __iter__(self) -> Iterator[int]:
        return iter(shard(np.arange(self.n), self.rank, self.world_size).tolist())
