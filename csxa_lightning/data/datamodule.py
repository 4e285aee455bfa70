"""The LightningDataModule: index -> split -> preprocessed arrays -> loaders."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd
from torch.utils.data import DataLoader

from csxa_lightning.data.csxa import CSXA_SOURCE, load_index, read_keypoints
from csxa_lightning.data.dataset import ArrayDataset
from csxa_lightning.data.images import read_image
from csxa_lightning.data.split import SPLITS, make_split
from csxa_lightning.phantom.store import ensure_phantom

log = logging.getLogger(__name__)

# ImageNet statistics; the pretrained backbones were trained on inputs normalized by them.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

Preprocess = Callable[..., np.ndarray]


def preprocess_rows(frame: pd.DataFrame, preprocess: Preprocess, workers: int) -> np.ndarray:
    """(N, C, H, W) uint8 model inputs of every row; threads, since OpenCV releases the GIL."""
    needs_keypoints = getattr(preprocess, "needs_keypoints", True)

    def one(row: tuple[str, str]) -> np.ndarray:
        png_path, json_path = row
        keypoints = read_keypoints(json_path) if needs_keypoints else None
        return preprocess(read_image(png_path), keypoints)

    rows = list(zip(frame["png_path"], frame["json_path"], strict=True))
    with ThreadPoolExecutor(max(1, workers)) as pool:
        arrays = list(pool.map(one, rows))
    return np.stack(arrays) if arrays else np.empty((0, 1, 1, 1), dtype=np.uint8)


class CSXADataModule(L.LightningDataModule):
    """Serves the real CSXA (root=...) or the phantom set (phantom={n, seed, healthy_fraction}).

    After setup(): ``index`` (all usable images), ``split_frame`` (case_id, stem, label, split),
    ``frames[split]`` (rows of each split, in dataset order) and one ArrayDataset per split.
    """

    def __init__(
        self,
        preprocess: Preprocess,
        root: str | None = None,
        phantom: dict | None = None,
        cache_dir: str = "~/.cache/csxa_lightning",
        split_seed: int = 42,
        test_fraction: float = 0.25,
        val_fraction: float = 0.1,
        batch_size: int = 32,
        num_workers: int = 0,
        pin_memory: bool = False,
        preprocess_workers: int | None = None,
    ) -> None:
        super().__init__()
        if root is None and phantom is None:
            raise ValueError(
                f"data=csxa needs the dataset folder: data.root=/path/to/CSXA (or set CSXA_ROOT). "
                f"{CSXA_SOURCE} Without it, data=phantom trains on the built-in synthetic set."
            )
        if root is not None and phantom is not None:
            raise ValueError(
                f"data.root={root!r} and data.phantom are both set; use data=csxa for a folder "
                "or data=phantom for the synthetic set"
            )
        self.preprocess = preprocess
        self.root = root
        self.phantom = dict(phantom) if phantom is not None else None
        self.cache_dir = cache_dir
        self.split_seed = split_seed
        self.test_fraction = test_fraction
        self.val_fraction = val_fraction
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.preprocess_workers = preprocess_workers or os.cpu_count() or 1
        self.index: pd.DataFrame | None = None
        self.split_frame: pd.DataFrame | None = None
        self.frames: dict[str, pd.DataFrame] = {}
        self.datasets: dict[str, ArrayDataset] = {}

    def dataset_root(self) -> Path:
        if self.root is not None:
            return Path(self.root).expanduser()
        return ensure_phantom(self.cache_dir, **self.phantom)

    def setup(self, stage: str | None = None) -> None:
        if self.index is not None:
            return  # fit, validate and test share one preprocessing pass
        self.index = load_index(self.dataset_root())
        self.split_frame = make_split(
            self.index, self.split_seed, self.test_fraction, self.val_fraction
        )
        by_case = self.index.set_index("case_id")
        for split in SPLITS:
            ids = self.split_frame.loc[self.split_frame["split"] == split, "case_id"]
            frame = by_case.loc[ids].reset_index()
            self.frames[split] = frame
            if frame.empty:
                continue
            images = preprocess_rows(frame, self.preprocess, self.preprocess_workers)
            self.datasets[split] = ArrayDataset(images, frame["label"].to_numpy())
        counts = {s: len(f) for s, f in self.frames.items()}
        log.info("split (seed %d): %s", self.split_seed, counts)

    @property
    def has_validation(self) -> bool:
        return "val" in self.datasets

    @property
    def normalization(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """Per-channel (mean, std) applied to inputs scaled to [0, 1]."""
        return IMAGENET_MEAN, IMAGENET_STD

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        if split not in self.datasets:
            raise RuntimeError(f"the {split} split is empty; call setup() or check the fractions")
        return DataLoader(
            self.datasets[split],
            batch_size=self.batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader | list:
        return self._loader("val", shuffle=False) if self.has_validation else []

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)
