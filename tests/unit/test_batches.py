"""The GPU path's batches: the per-item path's samples in the same order, gathered in one step,
with augmentation draws that are a function of (seed, epoch, batch)."""

from __future__ import annotations

import numpy as np
import torch

from csxa_lightning.data.batches import BatchedDataset, EpochBatchSampler
from csxa_lightning.data.device_augment import DeviceAugmentation
from csxa_lightning.data.sampler import EpochSampler


def test_batches_follow_the_per_item_order_and_keep_the_last_partial_batch():
    batches = EpochBatchSampler(n=23, batch_size=5, seed=4)
    items = EpochSampler(n=23, seed=4)
    for epoch in (0, 3):
        batches.set_epoch(epoch)
        items.set_epoch(epoch)
        keys = list(batches)
        assert [len(k[2]) for k in keys] == [5, 5, 5, 5, 3] and len(batches) == 5
        assert [(e, n) for e, n, _ in keys] == [(epoch, n) for n in range(5)]
        assert np.concatenate([k[2] for k in keys]).tolist() == [i for _, i in items]
    ordered = EpochBatchSampler(n=7, batch_size=3, shuffle=False)
    assert [k[2].tolist() for k in ordered] == [[0, 1, 2], [3, 4, 5], [6]]


def test_a_batch_is_the_gathered_images_labels_and_reproducible_draws():
    images = np.arange(10 * 1 * 4 * 4, dtype=np.uint8).reshape(10, 1, 4, 4)
    labels = np.array([0, 1] * 5)
    dataset = BatchedDataset(images, labels, draw=DeviceAugmentation().draw, seed=9)
    batch = dataset[(2, 1, np.array([7, 0, 3]))]
    np.testing.assert_array_equal(batch["image"].numpy(), images[[7, 0, 3]])
    assert batch["label"].tolist() == [1, 0, 1] and batch["index"].tolist() == [7, 0, 3]
    assert batch["augment"].shape == (
        3,
        5,
    )  # flips, two angles, zoom and batch["augment"].dtype == torch.float32
    again = dataset[(2, 1, np.array([7, 0, 3]))]["augment"]
    torch.testing.assert_close(again, batch["augment"], rtol=0, atol=0)
    other_batch = dataset[(2, 2, np.array([7, 0, 3]))]["augment"]
    other_epoch = dataset[(3, 1, np.array([7, 0, 3]))]["augment"]
    assert not torch.equal(other_batch, batch["augment"])
    assert not torch.equal(other_epoch, batch["augment"])
    assert "augment" not in BatchedDataset(images, labels)[(0, 0, np.array([1]))]


def test_ddp_shards_cover_every_sample_with_equal_counts():
    from csxa_lightning.data.sampler import EpochSampler, ShardSampler, shard

    order = np.arange(11)
    parts = [shard(order, rank, 3) for rank in range(3)]
    assert [len(p) for p in parts] == [4, 4, 4]  # 12 = 11 + one repeat from the start
    assert sorted(np.concatenate(parts).tolist()) == [0, 0, *range(1, 11)]
    # Training: both ranks split the same permutation; together they cover it.
    ranks = [EpochSampler(10, seed=1, rank=r, world_size=2) for r in range(2)]
    for sampler in ranks:
        sampler.set_epoch(4)
    whole = EpochSampler(10, seed=1)
    whole.set_epoch(4)
    covered = sorted(i for sampler in ranks for _, i in sampler)
    assert covered == sorted(i for _, i in whole) and len(ranks[0]) == 5
    assert list(ShardSampler(5, rank=1, world_size=2)) == [1, 3, 0]
    # Batches: distinct batch numbers across ranks (distinct augmentation draws).
    batches = [list(EpochBatchSampler(10, 2, seed=1, rank=r, world_size=2)) for r in range(2)]
    numbers = [number for rank in batches for _, number, _ in rank]
    # 5 samples per rank in batches of 2: 2 + 3 (the remainder of one folded in)
    assert len(numbers) == len(set(numbers)) == 4
