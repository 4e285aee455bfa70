"""A map-style dataset over preprocessed uint8 arrays held in memory."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset


class ArrayDataset(Dataset):
    """Items are {"image": uint8 (C, H, W), "label": int64, "index": row in the split frame}.

    Images stay uint8 until they reach the device: a quarter of the float32 bytes to copy;
    the LightningModule scales and normalizes them there.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray) -> None:
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        self.images = torch.from_numpy(np.ascontiguousarray(images))
        self.labels = torch.tensor(
            np.array(labels), dtype=torch.long
        )  # copy: pandas arrays are read-only

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"image": self.images[i], "label": self.labels[i], "index": torch.tensor(i)}
