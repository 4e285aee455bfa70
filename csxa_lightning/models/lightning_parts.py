"""What the package's LightningModules share (the classifier and the landmark model): their
optimizer and learning-rate schedule built from the config's factories, and the test outputs of
every DDP rank gathered with each test film kept once."""

from __future__ import annotations

from collections.abc import Callable

import lightning as L
import torch


def optimizers(
    params,
    optimizer_factory: Callable[..., torch.optim.Optimizer],
    scheduler_factory: Callable[..., torch.optim.lr_scheduler.LRScheduler] | None,
):
    """configure_optimizers' value: the optimizer, and its scheduler stepped every epoch."""
    optimizer = optimizer_factory(params=params)
    if scheduler_factory is None:
        return optimizer
    scheduler = scheduler_factory(optimizer=optimizer)
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}


def gathered_once(
    module: L.LightningModule, outputs: list[tuple[torch.Tensor, torch.Tensor]]
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Under DDP each rank tested its shard, padded to equal length with repeats: every rank's
    (film index, values) gathered, each test film once, by index. One process: as given."""
    if module.trainer.world_size == 1 or not outputs:
        return outputs
    index = torch.cat([i for i, _ in outputs]).to(module.device)
    values = torch.cat([v for _, v in outputs]).to(module.device)
    all_index = module.all_gather(index).flatten().cpu()
    all_values = module.all_gather(values).flatten(0, 1).cpu()
    order = torch.argsort(all_index, stable=True)
    keep = torch.ones(len(order), dtype=torch.bool)
    keep[1:] = all_index[order][1:] != all_index[order][:-1]  # the first of each repeat
    return [(all_index[order][keep], all_values[order][keep])]
