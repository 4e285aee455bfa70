"""data.use_distributed_sampler follows trainer.use_distributed_sampler (no reach into
Lightning's private state); several processes with Lightning's wrapper are refused."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from hydra.utils import instantiate

from csxa_lightning.utils.errors import ConfigValueError
from tests.helpers import TINY_TRAINING, compose_train_config


@pytest.mark.parametrize(("trainer", "expected"), [("cpu", True), ("ddp", False)])
def test_the_datamodule_reads_the_trainers_setting(trainer, expected):
    cfg = compose_train_config([*TINY_TRAINING, f"trainer={trainer}"])
    assert cfg.trainer.use_distributed_sampler is expected
    assert instantiate(cfg.data).use_distributed_sampler is expected


def test_several_processes_with_lightnings_sampler_wrapper_are_refused():
    cfg = compose_train_config([*TINY_TRAINING, "trainer=ddp"])
    datamodule = instantiate(cfg.data)
    datamodule.trainer = SimpleNamespace(world_size=2, global_rank=1)
    assert datamodule._rank_and_world_size() == (1, 2)
    datamodule.use_distributed_sampler = True
    with pytest.raises(ConfigValueError, match="trainer.use_distributed_sampler=true with"):
        datamodule._rank_and_world_size()
