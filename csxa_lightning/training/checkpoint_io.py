"""How Lightning writes a checkpoint file: whole or not at all, next to where it goes.

Lightning's TorchCheckpointIO serialises the checkpoint into memory, then writes it through an
fsspec transaction whose temporary file lies in the system's temp folder. Three problems for a
long sweep: the checkpoint is held twice in memory while it is written (1.6 GB more for VGG19
with Adam's moments); a job killed during the write leaves the temporary in /tmp, where nothing
will find it; and where /tmp is another file system (a cluster's local disk) the final move is
a copy, which a kill cuts off halfway into a truncated last.ckpt. This plugin streams torch.save
into `.<name>.<pid>.partial` beside the target and renames it in (whole_files): a kill leaves
the old checkpoint or the new one, and at most a partial file in the run's own checkpoints
folder, which the next job in that folder removes (run_job.RunJob).

Set in conf/trainer/default.yaml (trainer.plugins). Remote paths (s3://, gs://, ...) go
through Lightning's own writer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from lightning.fabric.utilities.cloud_io import get_filesystem
from lightning.pytorch.plugins.io import TorchCheckpointIO

from csxa_lightning.utils.whole_files import written_whole


class WholeFileCheckpointIO(TorchCheckpointIO):
    """TorchCheckpointIO whose local files are written whole (see the module docstring)."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None or not is_local(path):
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        with written_whole(target) as partial:
            torch.save(checkpoint, partial)


def is_local(path: str | Path) -> bool:
    """Whether fsspec reads path as a file on this machine's file system."""
    protocol = get_filesystem(path).protocol
    return "file" in (protocol if isinstance(protocol, tuple | list) else (protocol,))
