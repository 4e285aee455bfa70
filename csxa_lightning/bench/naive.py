"""The naive baseline the benchmarks compare against: the input pipeline of most published
code (decode the PNG, preprocess and augment every item, every epoch, in the loader's worker
processes) and float32 training of the same network."""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, Dataset

from csxa_lightning.bench.settings import Settings
from csxa_lightning.data.augment import PaperAugmentation
from csxa_lightning.data.cache import preprocess_file
from csxa_lightning.data.preprocess import Preprocessor
from csxa_lightning.models.classifier import IMAGENET_MEAN, IMAGENET_STD, CSXAClassifier


def naive_training_items(datamodule) -> NaiveTrainingDataset:
    """The datamodule's training films, preprocessed as it does, augmented as the paper does."""
    return NaiveTrainingDataset(
        NaiveDataset(datamodule.frames["train"], datamodule.preprocess, PaperAugmentation())
    )


def naive_loader(items: Dataset, settings: Settings, cuda: bool) -> DataLoader:
    return DataLoader(
        items,
        batch_size=settings.batch_size,
        shuffle=True,
        num_workers=settings.workers,
        pin_memory=cuda,
        persistent_workers=settings.workers > 0,
        drop_last=True,
    )


def naive_model(settings: Settings) -> NaiveClassifier:
    """The benchmark's network as most published code trains it: random weights (as the
    benchmark's own), no channels_last, the classifier's default Adam."""
    return NaiveClassifier(
        arch=settings.model, pretrained="none", channels_last=False, optimizer=None
    )


class NaiveDataset(Dataset):
    """What a loader without the cache does: decode, preprocess and augment every item."""

    def __init__(self, frame, preprocessor: Preprocessor, augment: PaperAugmentation) -> None:
        self.pngs = frame["png_path"].tolist()
        self.jsons = frame["json_path"].tolist()
        self.labels = torch.tensor(frame["label"].to_numpy())
        self.preprocessor, self.augment = preprocessor, augment

    def __len__(self) -> int:
        return len(self.pngs)

    def __getitem__(self, i: int) -> dict:
        films = preprocess_file(self.preprocessor, self.pngs[i], self.jsons[i])
        image = self.augment(films[0])
        return {"image": torch.from_numpy(image), "label": self.labels[i]}


class NaiveTrainingDataset(Dataset):
    """decode -> preprocess -> albumentations -> float32 normalized 3-channel tensor, per item,
    in the loader's worker processes: the input pipeline of most published code."""

    def __init__(self, naive: NaiveDataset) -> None:
        self.naive = naive
        self.mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
        self.std = torch.tensor(IMAGENET_STD).view(3, 1, 1)

    def __len__(self) -> int:
        return len(self.naive)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        item = self.naive[i]
        image = item["image"].float().div(255.0)
        if image.shape[0] == 1:
            image = image.expand(3, -1, -1)
        return {"image": (image - self.mean) / self.std, "label": item["label"]}


class NaiveClassifier(CSXAClassifier):
    """The same network, taking float32 inputs normalized in the loader."""

    def prepare_input(self, images: torch.Tensor) -> torch.Tensor:
        return images
