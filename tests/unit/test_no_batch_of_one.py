"""A training batch never holds a single sample (BatchNorm cannot train on one): a remainder of
one is folded into the batch before it, on both input paths and under DDP; evaluation batches
are left as they are."""

from __future__ import annotations

import pytest

from csxa_lightning.data.batches import EpochBatchSampler
from csxa_lightning.data.sampler import EpochSampler, FoldedBatchSampler, batch_bounds


@pytest.mark.parametrize(
    ("n", "batch_size", "expected"),
    [
        (46, 45, [(0, 46)]),  # the case: 45 + 1 -> one batch of 46
        (10, 3, [(0, 3), (3, 6), (6, 10)]),  # 3 + 3 + 3 + 1 -> the last batch holds 4
        (9, 3, [(0, 3), (3, 6), (6, 9)]),
        (11, 3, [(0, 3), (3, 6), (6, 9), (9, 11)]),  # a remainder of two is kept
        (1, 4, [(0, 1)]),  # a set of one sample is one batch: nothing to fold into
        (0, 4, []),
    ],
)
def test_batch_bounds_fold_a_remainder_of_one(n, batch_size, expected):
    assert batch_bounds(n, batch_size) == expected


def test_the_loader_path_yields_no_batch_of_one_and_every_sample_once_per_epoch():
    batches = FoldedBatchSampler(EpochSampler(46, seed=3), batch_size=15)
    batches.set_epoch(2)
    sizes = [len(b) for b in batches]
    assert sizes == [15, 15, 16] and len(batches) == 3
    keys = [key for batch in batches for key in batch]
    assert sorted(i for _, i in keys) == list(range(46)) and {e for e, _ in keys} == {2}


@pytest.mark.parametrize("world_size", [1, 2, 3])
def test_the_device_path_yields_no_training_batch_of_one_on_any_rank(world_size):
    for n in range(2, 40):
        for rank in range(world_size):
            sampler = EpochBatchSampler(n, 4, seed=0, rank=rank, world_size=world_size)
            sizes = [len(indices) for _, _, indices in sampler]
            assert len(sizes) == len(sampler)
            share = -(-n // world_size)
            assert sum(sizes) == share and (share == 1 or min(sizes) >= 2), (n, rank, sizes)
    # evaluation keeps a last batch of one (BatchNorm uses its running statistics there)
    evaluation = EpochBatchSampler(9, 4, shuffle=False)
    assert [len(i) for _, _, i in evaluation] == [4, 4, 1]
