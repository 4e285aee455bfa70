"""A map-style dataset over preprocessed uint8 arrays held in memory."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch.utils.data import Dataset

from csxa_lightning.data.sampler import sample_seed


class ArrayDataset(Dataset):
    """Items are {"image": uint8 array, "label": int64, "index": row in the split frame}.

    Training items are (C, H, W) and pass through `augment`; evaluation items are
    (variants, C, H, W) so that each image is scored once over all its channel orders.
    Images stay uint8 until they reach the device: a quarter of the float32 bytes to copy;
    the LightningModule scales and normalizes them there.
    """

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        augment: Callable[[np.ndarray], np.ndarray] | None = None,
        seed: int = 0,
    ) -> None:
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        self.images = images if images.flags.c_contiguous else np.ascontiguousarray(images)
        self.labels = torch.tensor(np.array(labels), dtype=torch.long)  # copy: pandas is read-only
        self.augment = augment
        self.seed = seed

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, torch.Tensor]:
        """key: an index, or (epoch, index) from EpochSampler, which makes the augmentation
        of this sample a function of (seed, epoch, index) alone."""
        epoch, i = key if isinstance(key, tuple) else (None, key)
        image = self.images[i]
        if self.augment is not None:
            if epoch is not None:
                self.augment.reseed(sample_seed(self.seed, epoch, i))
            image = self.augment(image)
        return {
            "image": torch.from_numpy(np.ascontiguousarray(image)),
            "label": self.labels[i],
            "index": torch.tensor(i),
        }
