"""The LightningDataModule: index -> split -> cached model inputs -> balance -> loaders."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import replace
from pathlib import Path

import cv2
import lightning as L
import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from csxa_lightning.data.augment import NoAugmentation, seed_worker
from csxa_lightning.data.balance import NoBalancing
from csxa_lightning.data.batches import BatchedDataset, EpochBatchSampler
from csxa_lightning.data.cache import CachedArray, DatasetProblemsError, cached_inputs
from csxa_lightning.data.case import MIN_SIZE
from csxa_lightning.data.csxa import MAX_JOIN_DISAGREEMENT, load_index
from csxa_lightning.data.dataset import ArrayDataset
from csxa_lightning.data.device_augment import DeviceAugmentation
from csxa_lightning.data.dicom import window_text
from csxa_lightning.data.format_error import CSXA_SOURCE
from csxa_lightning.data.images import MAX_PIXELS
from csxa_lightning.data.landmark_source import ANNOTATED, LandmarkSource, with_landmark_source
from csxa_lightning.data.normalization import channel_stats
from csxa_lightning.data.preprocess import Preprocessor
from csxa_lightning.data.sampler import EpochSampler, FoldedBatchSampler, ShardSampler
from csxa_lightning.data.split import SPLITS, make_split
from csxa_lightning.utils.errors import ConfigValueError, UserError
from csxa_lightning.utils.paths import default_cache_dir
from csxa_lightning.utils.whole_files import write_text_whole

log = logging.getLogger(__name__)

AUGMENT_ON = ("auto", "loader", "device")


class CSXADataModule(L.LightningDataModule):
    """Serves the CSXA folder root: the real set, or the phantom set's (data=phantom).

    After setup(): ``index`` (all usable images), ``split_frame`` (case_id, stem, label, split),
    ``frames[split]`` (rows of each split, in dataset order), one ArrayDataset per split,
    ``normalization`` (per-channel mean/std of the real training images) and ``class_weights``.

    Training samples are single channel orders (color=enhanced with orders=both gives two
    samples per film, like the paper's two files); evaluation items carry every order of a
    film, and the model averages their probabilities, so each image is scored exactly once.

    Two input pipelines serve the same samples in the same order (``augment_on``):
    ``loader`` -- one item at a time, augmented with albumentations in the loader (workers);
    ``device`` -- whole batches gathered from (pinned) memory, augmented batched on the device
    after the transfer (DeviceAugmentation, the same distribution). ``auto`` picks ``device``
    when training on CUDA, where per-image Python work would starve the GPU.
    """

    def __init__(
        self,
        preprocess: Preprocessor,
        balance=None,
        augment=None,
        root: str | None = None,
        phantom: dict | None = None,
        cache_dir: str | None = None,
        split_seed: int = 42,
        test_fraction: float = 0.25,
        val_fraction: float = 0.1,
        folds: int = 0,
        fold: int = 0,
        stratify: bool = True,
        seed: int = 42,
        batch_size: int = 32,
        num_workers: int = 0,
        pin_memory: bool = False,
        preprocess_workers: int | None = None,
        on_bad_file: str = "stop",
        augment_on: str = "auto",
        use_distributed_sampler: bool = True,
        bit_depth: str | int = "auto",
        dicom_window: str | list = "first",
        min_size: int = MIN_SIZE,
        max_pixels: int = MAX_PIXELS,
        max_join_disagreement: float = MAX_JOIN_DISAGREEMENT,
    ) -> None:
        super().__init__()
        check_settings(root, augment_on)
        # bit_depth and dicom_window change pixels: the preprocessor (cache key, spec) holds them
        window = window_text(dicom_window)
        self.preprocess = replace(preprocess, bit_depth=bit_depth, dicom_window=window)
        self.min_size, self.max_pixels = min_size, max_pixels
        self.max_join_disagreement = max_join_disagreement
        self.balance = balance if balance is not None else NoBalancing()
        self.augment = augment if augment is not None else NoAugmentation()
        self.root = root
        self.landmark_source: LandmarkSource | None = None  # None: the annotated landmarks
        # data=phantom: the settings the folder `root` was generated with (conf/data/phantom.yaml
        # builds root from them); a record only, the datamodule reads the folder.
        self.phantom = dict(phantom) if phantom is not None else None
        self.cache_dir = cache_dir or default_cache_dir()  # None: the usual place
        self.split_seed = split_seed
        self.test_fraction = test_fraction
        self.val_fraction = val_fraction
        self.folds, self.fold = folds, fold
        self.stratify = stratify
        self.seed = seed
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.preprocess_workers = preprocess_workers or os.cpu_count() or 1
        self.on_bad_file = on_bad_file
        self.augment_on = augment_on
        # trainer.use_distributed_sampler, passed in by the config (Lightning keeps it private)
        self.use_distributed_sampler = use_distributed_sampler
        self._clear_prepared()

    def _clear_prepared(self) -> None:
        """What setup() prepares, none of it yet."""
        self.device_augment: DeviceAugmentation | None = None
        self.skipped = pd.DataFrame(columns=["stem", "problem"])
        self.index: pd.DataFrame | None = None
        self.split_frame: pd.DataFrame | None = None
        self.frames: dict[str, pd.DataFrame] = {}
        self.datasets: dict[str, ArrayDataset] = {}
        self.normalization: tuple[tuple[float, ...], tuple[float, ...]] | None = None
        self.class_weights: list[float] | None = None
        self.balance_counts: dict[str, int] = {}

    def dataset_root(self) -> Path:
        return Path(self.root).expanduser()

    @property
    def batches_on_device(self) -> bool:
        """True for the GPU path: whole batches, augmented on the device."""
        if self.augment_on != "auto":
            return self.augment_on == "device"
        trainer = self.trainer
        if trainer is not None:
            return trainer.strategy.root_device.type == "cuda"
        return torch.cuda.is_available()

    def setup(self, stage: str | None = None) -> None:
        if self.index is not None:
            return  # fit, validate and test share one preparation
        inputs, usable = self._usable_cases()
        self.split_frame = make_split(
            self.index,
            self.split_seed,
            self.test_fraction,
            self.val_fraction,
            folds=self.folds,
            fold=self.fold,
            stratify=self.stratify,
        )
        in_index = pd.Series(np.arange(len(self.index)), index=self.index["case_id"])
        in_entry = pd.Series(np.flatnonzero(usable), index=self.index["case_id"])
        for split in SPLITS:
            ids = self.split_frame.loc[self.split_frame["split"] == split, "case_id"]
            self.frames[split] = self.index.iloc[in_index.loc[ids]].reset_index(drop=True)
            rows = in_entry.loc[ids].to_numpy()  # rows of the cache entry
            if len(rows) == 0:
                continue
            labels = self.frames[split]["label"].to_numpy()
            if split == "train":
                self._setup_train(inputs, rows, labels)
            elif self.batches_on_device:
                self.datasets[split] = BatchedDataset(
                    inputs.read(rows), labels, pin_memory=torch.cuda.is_available()
                )
            else:
                self.datasets[split] = ArrayDataset(inputs.read(rows), labels)
        log.info("%s", self.split_summary())

    def split_summary(self) -> str:
        """One sentence: the split's kind and sizes, and the training samples after balancing
        (which class the synthetic films joined)."""
        kind = "stratified" if self.stratify or self.folds else "plain random"
        sizes = ", ".join(f"{len(f)} {s}" for s, f in self.frames.items())
        counts = self.balance_counts
        if not counts:
            return f"{kind} split (seed {self.split_seed}): {sizes} films"
        synthetic = [
            f"{counts[f'synthetic_{name}']} of the {name} ones synthetic"
            for name in ("healthy", "diseased")
            if counts[f"synthetic_{name}"]
        ]
        return (
            f"{kind} split (seed {self.split_seed}): {sizes} films; "
            f"{counts['healthy'] + counts['diseased']} training samples after "
            f"{getattr(self.balance, 'label', type(self.balance).__name__)} "
            f"({counts['healthy']} healthy, {counts['diseased']} diseased"
            + (f"; {' and '.join(synthetic)}" if synthetic else "")
            + ")"
        )

    def _usable_cases(self) -> tuple[CachedArray, np.ndarray]:
        """Sets ``index`` (the usable cases) and ``skipped``; returns the cache entry of every
        listed case and which of its rows are usable."""
        full_index = load_index(self.dataset_root(), self.max_join_disagreement)
        if self.preprocess.needs_keypoints:  # landmarks=predicted: the model's LabelMe files
            full_index = with_landmark_source(full_index, self.landmark_source)
        # Cases the listing already found unusable (two files differing only in case) are not
        # in the index; the cache build finds the rest. Both go the way data.on_bad_file says.
        listed = full_index.attrs.get("bad_files", {})
        inputs = cached_inputs(
            full_index,
            self.preprocess,
            self.cache_dir,
            self.preprocess_workers,
            on_bad_file="skip" if listed else self.on_bad_file,
            min_size=self.min_size,
            max_pixels=self.max_pixels,
        )
        unusable = {**listed, **inputs.unusable}
        if unusable and self.on_bad_file == "stop":
            raise DatasetProblemsError(list(unusable.values()))
        # data.on_bad_file=skip: unusable files leave the index before the split is drawn. Every
        # case was checked alike whatever the crop (case.read_case), so every variant of a sweep
        # leaves out the same cases and draws the same split.
        usable = ~full_index["stem"].isin(list(inputs.unusable)).to_numpy()
        self.skipped = pd.DataFrame({"stem": list(unusable), "problem": list(unusable.values())})
        if len(self.skipped):
            stems = self.skipped["stem"].tolist()
            log.warning(
                "left out %d unusable case(s) (data.on_bad_file=skip), the same for every "
                "variant: %s%s",
                len(stems),
                ", ".join(stems[:10]),
                " ..." if len(stems) > 10 else "",
            )
        self.index = full_index[usable].reset_index(drop=True)
        return inputs, usable

    def _setup_train(self, inputs: CachedArray, rows: np.ndarray, labels: np.ndarray) -> None:
        """Balance whole films (all channel orders together, so a synthetic film's orders agree),
        then make each order its own training sample. The balanced array is allocated once and
        the originals are read from the cache straight into its front (memory: one copy)."""
        n, sample_shape = len(rows), inputs.shape[1:]
        films = np.empty((n + self.balance.n_new(labels), *sample_shape), dtype=np.uint8)
        inputs.read(rows, out=films[:n])
        variants = sample_shape[0]
        self.normalization = channel_stats(films[:n].reshape(-1, *sample_shape[1:]))
        balanced = self.balance.resample(films[:n], labels, seed=self.seed, out=films)
        self.class_weights = self.balance.class_weights(labels)
        self.balance_counts = {
            "healthy": int((balanced.labels == 0).sum()) * variants,
            "diseased": int((balanced.labels == 1).sum()) * variants,
            "synthetic_healthy": int((balanced.labels[balanced.synthetic] == 0).sum()) * variants,
            "synthetic_diseased": int((balanced.labels[balanced.synthetic] == 1).sum()) * variants,
        }
        samples = balanced.images.reshape(-1, *sample_shape[1:])
        sample_labels = np.repeat(balanced.labels, variants)
        if not self.batches_on_device:
            self.datasets["train"] = ArrayDataset(
                samples, sample_labels, augment=self.augment, seed=self.seed
            )
            return
        device_version = getattr(self.augment, "device_version", None)
        if device_version is None:
            raise ConfigValueError(
                "data.augment_on=device needs an augmentation that names its device version "
                f"(device_version(): augment=paper, augment=none); {type(self.augment).__name__} "
                "has none; use data.augment_on=loader for it"
            )
        self.device_augment = device_version()  # None: nothing to augment
        self.datasets["train"] = BatchedDataset(
            samples,
            sample_labels,
            draw=self.device_augment.draw if self.device_augment is not None else None,
            seed=self.seed,
            pin_memory=torch.cuda.is_available(),
        )

    def state_dict(self) -> dict:
        """Kept in every checkpoint (Lightning stores it under this class's name): how films
        become model inputs, so that prediction and export need only the .ckpt. The
        normalization lives in the model's buffers; OpenCV's version is noted because its
        resize and equalization define the pixels; min_size is the smallest film training
        accepted, and max_pixels the largest, which predict and evaluate then hold every film
        to."""
        return {
            "preprocess": self.preprocess.spec(),
            "opencv": cv2.__version__,
            "min_size": self.min_size,
            "max_pixels": self.max_pixels,
            "landmarks": self.landmarks_state(),
        }

    def landmarks_state(self) -> dict:
        """Where the crops' landmarks came from: annotated, or a landmark model (its identity
        and checkpoint path); annotated for a crop that needs none."""
        if self.landmark_source is None or not self.preprocess.needs_keypoints:
            return dict(ANNOTATED)
        return self.landmark_source.state()

    def load_state_dict(self, state_dict: dict) -> None:
        """Resuming from a checkpoint: its model was trained on inputs preprocessed as the
        checkpoint says; continuing it on other inputs would mix two experiments."""
        saved = state_dict.get("preprocess")
        if saved is not None:
            # Rebuilt, so that a spec written before a field existed (bit_depth) reads as that
            # field's default, which is what that checkpoint's inputs were made with.
            saved = Preprocessor.from_spec(saved).spec()
        landmarks = state_dict.get("landmarks", ANNOTATED)
        if landmarks.get("identity") != self.landmarks_state().get("identity"):
            raise UserError(
                f"the checkpoint being resumed cropped to landmarks from {landmarks}, this run "
                f"from {self.landmarks_state()}; resume with the same landmarks= and "
                "landmarks.ckpt=, or start over with force=true"
            )
        if saved is not None and saved != self.preprocess.spec():
            raise UserError(
                f"the checkpoint being resumed was trained with preprocessing {saved}, this run "
                f"is configured with {self.preprocess.spec()}; resume with the original crop, "
                "color and image_size, or start over with force=true"
            )

    @property
    def has_validation(self) -> bool:
        return "val" in self.datasets

    def save_normalization(self, path: str | Path) -> None:
        mean, std = self.normalization
        write_text_whole(
            path,
            json.dumps(
                {
                    "mean": list(mean),
                    "std": list(std),
                    "computed_on": "training images (no synthetic)",
                    "scale": "pixel / 255",
                },
                indent=2,
            )
            + "\n",
        )

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        if split not in self.datasets:
            raise RuntimeError(f"the {split} split is empty; call setup() or check the fractions")
        dataset = self.datasets[split]
        rank, world = self._rank_and_world_size()
        if isinstance(dataset, BatchedDataset):
            # One gather per batch from memory: loader processes would only add copies.
            sampler = EpochBatchSampler(
                len(dataset), self.batch_size, self.seed, shuffle, rank, world
            )
            return DataLoader(dataset, batch_size=None, sampler=sampler, num_workers=0)
        # Shuffled order and augmentations from (seed, epoch): a resumed run repeats them.
        # Training batches never hold a single sample (FoldedBatchSampler).
        if shuffle:
            batches = FoldedBatchSampler(EpochSampler(len(dataset), self.seed, rank, world),
                                         self.batch_size)  # fmt: skip
            batching = {"batch_sampler": batches}
        else:
            sampler = ShardSampler(len(dataset), rank, world) if world > 1 else None
            batching = {"batch_size": self.batch_size, "sampler": sampler}
        return DataLoader(
            dataset,
            **batching,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.num_workers > 0,
            worker_init_fn=seed_worker,
        )

    def _rank_and_world_size(self) -> tuple[int, int]:
        """Under DDP our samplers shard themselves (trainer=ddp: use_distributed_sampler=false)."""
        trainer = self.trainer
        if trainer is None or trainer.world_size == 1:
            return 0, 1
        if self.use_distributed_sampler:
            raise ConfigValueError(
                "trainer.use_distributed_sampler=true with several processes: Lightning's "
                "wrapper would freeze the epoch order and augmentation. Use trainer=ddp (it "
                "sets use_distributed_sampler=false; csxa_lightning's samplers shard the data)."
            )
        return trainer.global_rank, trainer.world_size

    def on_after_batch_transfer(self, batch: dict, dataloader_idx: int) -> dict:
        """GPU path: the training batch is on the device now; augment it there."""
        if "augment" in batch:
            batch["image"] = self.device_augment(batch["image"], batch.pop("augment"))
        return batch

    def train_dataloader(self) -> DataLoader:
        # trainer.overfit_batches (+debug=overfit): the same first batches every epoch, in
        # order; Lightning's own switch to a sequential sampler does not reach our samplers.
        overfit = self.trainer is not None and self.trainer.overfit_batches > 0
        return self._loader("train", shuffle=not overfit)

    def val_dataloader(self) -> DataLoader | list:
        return self._loader("val", shuffle=False) if self.has_validation else []

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)


def check_settings(root: str | None, augment_on: str) -> None:
    """The settings the datamodule cannot start without: a dataset folder, and a known place
    to augment on."""
    if root is None:
        raise ConfigValueError(
            f"data=csxa needs the dataset folder: data.root=/path/to/CSXA (or set CSXA_ROOT). "
            f"{CSXA_SOURCE} Without it, data=phantom trains on the built-in synthetic set."
        )
    if augment_on not in AUGMENT_ON:
        raise ConfigValueError(
            f"data.augment_on={augment_on!r}: must be one of {', '.join(AUGMENT_ON)}"
        )
