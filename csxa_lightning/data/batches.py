"""Whole batches gathered from memory in one step: the input pipeline of the GPU path.

The per-item path (ArrayDataset + albumentations in loader processes) spends Python time on
every image; on a GPU that caps training well below what the network can do. Here a batch is
one `index_select` from the uint8 inputs (pinned host memory when CUDA is present, so the copy
to the device is asynchronous), and its augmentation parameters are drawn in the same step;
flips, rotations and normalization then run batched on the device
(CSXADataModule.on_after_batch_transfer, CSXAClassifier.prepare_input).

Order and draws are functions of (seed, epoch, batch number) alone, as in the per-item path,
so a resumed run repeats them. The permutation is EpochSampler's: the same samples in the same
order as the per-item path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from csxa_lightning.data.sampler import batch_bounds, shard

BatchKey = tuple[int, int, np.ndarray]  # (epoch, batch number, sample indices)


class EpochBatchSampler(Sampler[BatchKey]):
    """Yields (epoch, batch number, indices): consecutive slices of a permutation drawn from
    (seed, epoch) when shuffling (EpochSampler's), of range(n) otherwise; under DDP, of this
    rank's share of it."""

    def __init__(
        self,
        n: int,
        batch_size: int,
        seed: int = 0,
        shuffle: bool = True,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.n, self.batch_size, self.seed, self.shuffle = n, batch_size, seed, shuffle
        self.rank, self.world_size = rank, world_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def bounds(self, count: int) -> list[tuple[int, int]]:
        """Training (shuffled) batches never hold a single sample (batch_bounds folds it into
        the batch before); evaluation keeps a last batch of one: BatchNorm is frozen there."""
        if self.shuffle:
            return batch_bounds(count, self.batch_size)
        return [(s, min(s + self.batch_size, count)) for s in range(0, count, self.batch_size)]

    def __len__(self) -> int:
        return len(self.bounds(-(-self.n // self.world_size)))

    def __iter__(self) -> Iterator[BatchKey]:
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(self.n)
        else:
            order = np.arange(self.n)
        order = shard(order, self.rank, self.world_size)
        for number, (start, stop) in enumerate(self.bounds(len(order))):
            # Batch numbers are unique across ranks: their augmentation draws differ.
            yield (self.epoch, number * self.world_size + self.rank, order[start:stop])


class BatchedDataset(Dataset):
    """Items are whole batches: {"image": uint8 (B, ...), "label", "index", and "augment"
    (B, 5) per-sample parameters (data.augment's columns) when ``draw`` is given}. Use with
    ``batch_size=None`` and an EpochBatchSampler as the loader's sampler."""

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        draw: Callable[[np.random.Generator, int], np.ndarray] | None = None,
        seed: int = 0,
        pin_memory: bool = False,
    ) -> None:
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        images = torch.from_numpy(np.ascontiguousarray(images))
        # Pinned once, here: every batch gathered from it lands in pinned memory too.
        self.images = images.pin_memory() if pin_memory else images
        self.pin_memory = pin_memory
        self.labels = torch.tensor(np.array(labels), dtype=torch.long)
        self.draw, self.seed = draw, seed

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, key: BatchKey) -> dict[str, torch.Tensor]:
        epoch, number, indices = key
        index = torch.as_tensor(np.asarray(indices), dtype=torch.long)
        shape = (len(index), *self.images.shape[1:])
        images = torch.empty(shape, dtype=torch.uint8, pin_memory=self.pin_memory)
        torch.index_select(self.images, 0, index, out=images)
        batch = {"image": images, "label": self.labels[index], "index": index}
        if self.draw is not None:
            rng = np.random.default_rng([self.seed, epoch, number])
            batch["augment"] = torch.from_numpy(self.draw(rng, len(index)))
        if self.pin_memory:
            # Every tensor of the batch, not only the images: a copy to the GPU from pageable
            # memory synchronizes the stream first: the CPU would wait for the GPU every step
            # instead of queueing the next one.
            for key in ("label", "index", "augment"):
                if key in batch:
                    batch[key] = batch[key].pin_memory()
        return batch
