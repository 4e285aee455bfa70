"""Lightning's checkpoints written whole, beside their target (training/checkpoint_io.py)."""

from __future__ import annotations

import pytest
import torch

from csxa_lightning.training.checkpoint_io import WholeFileCheckpointIO, is_local
from tests.helpers import compose_train_config


def test_a_checkpoint_is_written_whole_and_read_as_data(tmp_path):
    target = tmp_path / "checkpoints" / "last.ckpt"  # the folder does not exist yet
    WholeFileCheckpointIO().save_checkpoint({"epoch": 3, "w": torch.arange(4.0)}, target)
    stored = torch.load(target, weights_only=True)
    assert stored["epoch"] == 3 and stored["w"].tolist() == [0.0, 1.0, 2.0, 3.0]
    assert [p.name for p in target.parent.iterdir()] == ["last.ckpt"]


def test_a_failed_write_keeps_the_previous_checkpoint(tmp_path):
    target = tmp_path / "last.ckpt"
    io = WholeFileCheckpointIO()
    io.save_checkpoint({"epoch": 1}, target)
    with pytest.raises(Exception):  # noqa: B017  (torch's pickling error, whatever its class)
        io.save_checkpoint({"epoch": 2, "unpicklable": lambda: 0}, target)
    assert torch.load(target, weights_only=True) == {"epoch": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]  # no partial file left


def test_only_local_paths_are_written_here():
    assert is_local("/data/run/checkpoints/last.ckpt")
    assert not is_local("memory://run/last.ckpt")  # fsspec's in-memory file system


def test_every_trainer_config_writes_checkpoints_whole(tmp_path):
    for overrides in ([], ["trainer=ddp"], ["trainer=gpu"], ["launcher=slurm"]):
        cfg = compose_train_config(overrides)
        targets = [p["_target_"] for p in cfg.trainer.plugins]
        assert "csxa_lightning.training.checkpoint_io.WholeFileCheckpointIO" in targets, overrides
