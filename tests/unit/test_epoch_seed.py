"""Each epoch's dropout and other global draws as a function of (seed, epoch, rank)."""

from __future__ import annotations

from types import SimpleNamespace

import torch

from csxa_lightning.training.epoch_seed import SeedEachEpoch, epoch_seed


def dropout_mask_at(epoch: int, rank: int = 0, draws_before: int = 0) -> torch.Tensor:
    """The dropout mask of epoch `epoch`'s first step, after `draws_before` earlier draws
    (the earlier epochs of a run that never stopped; none in a run resumed at `epoch`)."""
    torch.manual_seed(7)
    torch.rand(draws_before)
    trainer = SimpleNamespace(current_epoch=epoch, global_rank=rank)
    SeedEachEpoch(seed=42).on_train_epoch_start(trainer, None)
    return torch.nn.functional.dropout(torch.ones(64), p=0.5, training=True)


def test_a_resumed_epoch_draws_the_dropout_of_the_uninterrupted_one():
    uninterrupted = dropout_mask_at(epoch=3, draws_before=12345)
    resumed = dropout_mask_at(epoch=3, draws_before=0)
    assert torch.equal(uninterrupted, resumed)


def test_epochs_and_processes_draw_differently():
    masks = [dropout_mask_at(2), dropout_mask_at(3), dropout_mask_at(3, rank=1)]
    assert not torch.equal(masks[0], masks[1]) and not torch.equal(masks[1], masks[2])
    assert len({epoch_seed(42, e, r) for e in range(100) for r in range(4)}) == 400
