"""The landmark task's LightningDataModule (task=landmarks): index -> split -> letterboxed films
and their 23 landmarks in memory -> batches of heatmap targets.

Built from the classifier's `data` config block (conf/data/csxa.yaml), whose every key it
takes; conf/task/landmarks.yaml switches `_target_`, sets preprocess and balance to null (the
model sees the whole film, letterboxed: no crop, color or balancing) and adds image_size,
stride and sigma. The split is drawn by make_split with the classifier's arguments from the
same usable cases (read_case's checks), so a landmark run and a classifier run of one
data.split_seed test on the same films.

Coordinates are data/letterbox.py's: pixel centres at integer coordinates. LabelMe's points are
half a pixel off that (a click on pixel j's centre stores j + 0.5), so `film_points` are the
annotated points minus LABELME_OFFSET. Landmarks of the validation and test films are kept to
score a model; only the training films' landmarks become training targets.
"""

from __future__ import annotations

import logging
import math
import os
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path
from typing import NamedTuple

import lightning as L
import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from csxa_lightning.data.augment import NoAugmentation, seed_worker
from csxa_lightning.data.cache import ON_BAD_FILE, DatasetProblemsError
from csxa_lightning.data.case import MIN_SIZE, read_case
from csxa_lightning.data.csxa import MAX_JOIN_DISAGREEMENT, load_index
from csxa_lightning.data.datamodule import check_settings
from csxa_lightning.data.dicom import window_text
from csxa_lightning.data.films import film_pixel_spacing
from csxa_lightning.data.heatmaps import gaussian_heatmaps, input_to_heatmap
from csxa_lightning.data.images import MAX_PIXELS, to_gray
from csxa_lightning.data.keypoints import KEYPOINT_LABELS
from csxa_lightning.data.landmark_augment import LandmarkAugmentation, NoLandmarkAugmentation
from csxa_lightning.data.letterbox import Letterbox, letterbox_image
from csxa_lightning.data.sampler import EpochSampler, FoldedBatchSampler, ShardSampler, sample_seed
from csxa_lightning.data.split import SPLITS, make_split
from csxa_lightning.utils.errors import ConfigValueError, UserError

log = logging.getLogger(__name__)

# LabelMe's scene coordinates minus this are pixel-centre coordinates (data/letterbox.py).
LABELME_OFFSET = 0.5
# The settings that shape the model's inputs and targets: a resumed run must keep them.
RESUME_KEYS = ("landmark_names", "image_size", "stride", "sigma", "bit_depth", "dicom_window")


class LandmarkDataModule(L.LightningDataModule):
    """Serves the CSXA folder root to the landmark model (see the module docstring).

    After setup(): ``index`` (the usable cases, with each film's width, height and pixel_mm),
    ``skipped`` (stem, problem), ``split_frame`` (case_id, stem, label, split), and per split:
    ``frames`` (its rows of the index, in dataset order), ``images`` (uint8 (N, S, S)),
    ``input_points`` (float64 (N, 23, 2), input pixels), ``film_points`` (the same in film
    pixels), ``letterboxes`` (one Letterbox per film) and ``datasets`` (non-empty splits).

    Batches (dicts of tensors): image uint8 (B, 1, S, S); heatmaps float32 (B, 23, S/stride,
    S/stride); visible bool (B, 23); points float32 (B, 23, 2), input pixels, NaN where not
    annotated; index int64 (B,), the row in frames[split]. Training batches are augmented and
    shuffled, their order and draws a function of (seed, epoch, sample) as the classifier's.
    """

    def __init__(
        self,
        preprocess=None,
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
        image_size: int = 256,
        sigma: float = 2.0,
        stride: int = 4,
    ) -> None:
        super().__init__()
        check_settings(root, augment_on)
        check_landmark_settings(preprocess, balance, augment_on, on_bad_file)
        self.image_size, self.stride, self.sigma = check_heatmap_settings(image_size, stride, sigma)
        self.augment = landmark_augmentation(augment)
        self.root, self.cache_dir = root, cache_dir  # cache_dir: unused, films are read anew
        self.phantom = dict(phantom) if phantom is not None else None  # a record only
        self.split_seed, self.stratify = split_seed, stratify
        self.test_fraction, self.val_fraction = test_fraction, val_fraction
        self.folds, self.fold = folds, fold
        self.seed = seed
        self.batch_size, self.num_workers, self.pin_memory = batch_size, num_workers, pin_memory
        self.preprocess_workers = preprocess_workers or os.cpu_count() or 1
        self.on_bad_file, self.augment_on = on_bad_file, augment_on
        self.bit_depth, self.dicom_window = bit_depth, window_text(dicom_window)
        self.min_size, self.max_pixels = min_size, max_pixels
        self.max_join_disagreement = max_join_disagreement
        self.use_distributed_sampler = use_distributed_sampler
        self.landmark_names: tuple[str, ...] = KEYPOINT_LABELS
        self.skipped = pd.DataFrame(columns=["stem", "problem"])
        self.index: pd.DataFrame | None = None
        self.split_frame: pd.DataFrame | None = None
        self.frames: dict[str, pd.DataFrame] = {}
        self.images: dict[str, np.ndarray] = {}
        self.input_points: dict[str, np.ndarray] = {}
        self.film_points: dict[str, np.ndarray] = {}
        self.letterboxes: dict[str, list[Letterbox]] = {}
        self.datasets: dict[str, LandmarkDataset] = {}

    def dataset_root(self) -> Path:
        return Path(self.root).expanduser()

    @property
    def num_landmarks(self) -> int:
        return len(self.landmark_names)

    @property
    def heatmap_size(self) -> int:
        return self.image_size // self.stride

    @property
    def has_validation(self) -> bool:
        return "val" in self.datasets

    def setup(self, stage: str | None = None) -> None:
        if self.index is not None:
            return  # fit, validate and test share one preparation
        films = self._usable_films()
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
        self.augment.reseed(self.seed)  # item by item outside a loader: from the seed too
        for split in SPLITS:
            ids = self.split_frame.loc[self.split_frame["split"] == split, "case_id"]
            self._keep_split(split, in_index.loc[ids].to_numpy(), films)
        kind = "stratified" if self.stratify or self.folds else "plain random"
        sizes = ", ".join(f"{len(frame)} {split}" for split, frame in self.frames.items())
        log.info(
            "%s split (seed %d): %s films, letterboxed to %d px, heatmaps %d px (sigma %g)",
            kind, self.split_seed, sizes, self.image_size, self.heatmap_size, self.sigma,
        )  # fmt: skip

    def _usable_films(self) -> list[LetterboxedFilm]:
        """Sets ``index`` (the usable cases) and ``skipped``; returns the letterboxed film of
        every usable case, in index order. Unusable ones go the way data.on_bad_file says."""
        full_index = load_index(self.dataset_root(), self.max_join_disagreement)
        listed = full_index.attrs.get("bad_files", {})  # two files differing only in case
        settings = FilmSettings(
            self.image_size, self.bit_depth, self.dicom_window, self.min_size, self.max_pixels
        )
        results = read_films(full_index, settings, self.preprocess_workers)
        problems = {
            stem: result
            for stem, result in zip(full_index["stem"], results, strict=True)
            if isinstance(result, str)
        }
        unusable = {**listed, **problems}
        if unusable and self.on_bad_file == "stop":
            raise DatasetProblemsError(list(unusable.values()))
        self.skipped = pd.DataFrame({"stem": list(unusable), "problem": list(unusable.values())})
        if len(self.skipped):
            stems = self.skipped["stem"].tolist()
            log.warning(
                "left out %d unusable case(s) (data.on_bad_file=skip): %s%s",
                len(stems), ", ".join(stems[:10]), " ..." if len(stems) > 10 else "",
            )  # fmt: skip
        usable = ~full_index["stem"].isin(list(problems)).to_numpy()
        films = [result for result, ok in zip(results, usable, strict=True) if ok]
        index = full_index[usable].reset_index(drop=True)
        index["width"] = [film.letterbox.width for film in films]
        index["height"] = [film.letterbox.height for film in films]
        # The sheet's pixel size; a DICOM film's own where the sheet has none.
        spacing = np.array([film.spacing_mm for film in films], dtype=np.float64)
        index["pixel_mm"] = index["pixel_mm"].fillna(pd.Series(spacing)).astype(np.float64)
        self.index = index
        return films

    def _keep_split(self, split: str, rows: np.ndarray, films: list[LetterboxedFilm]) -> None:
        """The split's frame, arrays and letterboxes; a dataset when it holds a film. Only the
        training set's landmarks become targets, augmented."""
        n, size, k = len(rows), self.image_size, self.num_landmarks
        self.frames[split] = self.index.iloc[rows].reset_index(drop=True)
        self.letterboxes[split] = [films[row].letterbox for row in rows]
        images = np.empty((n, size, size), dtype=np.uint8)
        film_points, input_points = np.empty((n, k, 2)), np.empty((n, k, 2))
        for j, row in enumerate(rows):
            images[j], film_points[j] = films[row].image, films[row].points
            input_points[j] = films[row].letterbox.to_input(films[row].points)
        self.images[split], self.film_points[split] = images, film_points
        self.input_points[split] = input_points
        if n:
            augment = self.augment if split == "train" else None
            self.datasets[split] = LandmarkDataset(
                images, input_points, self.stride, self.sigma, augment, self.seed
            )

    def state_dict(self) -> dict:
        """Kept in every checkpoint (plain values: a checkpoint is data): how films become the
        model's inputs and targets, and which landmark each output channel is."""
        return {
            "image_size": self.image_size,
            "stride": self.stride,
            "sigma": self.sigma,
            "bit_depth": self.bit_depth,
            "dicom_window": self.dicom_window,
            "min_size": self.min_size,
            "max_pixels": self.max_pixels,
            "landmark_names": list(self.landmark_names),
        }

    def load_state_dict(self, state_dict: dict) -> None:
        """Resuming: the checkpoint's model learnt these landmarks from inputs and targets made
        as it says; continuing it on other ones would mix two experiments."""
        mine = self.state_dict()
        for key in RESUME_KEYS:
            saved = state_dict.get(key)
            if key == "landmark_names" and saved is not None:
                saved = list(saved)
            if saved is not None and saved != mine[key]:
                raise UserError(
                    f"the checkpoint being resumed was trained with data.{key}={saved!r}, this "
                    f"run is configured with {mine[key]!r}; resume with the original setting, "
                    "or start over with force=true"
                )

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        if split not in self.datasets:
            raise RuntimeError(f"the {split} split is empty; call setup() or check the fractions")
        dataset = self.datasets[split]
        rank, world = rank_and_world_size(self.trainer, self.use_distributed_sampler)
        # Shuffled order and augmentations from (seed, epoch): a resumed run repeats them.
        # Training batches never hold a single sample (FoldedBatchSampler).
        if shuffle:
            sampler = EpochSampler(len(dataset), self.seed, rank, world)
            batching = {"batch_sampler": FoldedBatchSampler(sampler, self.batch_size)}
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

    def train_dataloader(self) -> DataLoader:
        # trainer.overfit_batches: the same first batches every epoch, in order (as the
        # classifier's datamodule; Lightning's switch does not reach our samplers).
        overfit = self.trainer is not None and self.trainer.overfit_batches > 0
        return self._loader("train", shuffle=not overfit)

    def val_dataloader(self) -> DataLoader | list:
        return self._loader("val", shuffle=False) if self.has_validation else []

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)


class LandmarkDataset(Dataset):
    """Items of letterboxed films (uint8 (N, S, S)) and their landmarks in input pixels
    ((N, K, 2), NaN where not annotated), as the batch dicts of LandmarkDataModule; augment:
    a LandmarkAugmentation (training) or None. The arrays are used, not copied."""

    def __init__(
        self,
        images: np.ndarray,
        points: np.ndarray,
        stride: int,
        sigma: float,
        augment: LandmarkAugmentation | NoLandmarkAugmentation | None = None,
        seed: int = 0,
    ) -> None:
        if (
            images.ndim != 3
            or images.dtype != np.uint8
            or points.ndim != 3
            or (points.shape[0] != len(images) or points.shape[2] != 2)
        ):
            raise ValueError(
                f"images {images.dtype} {images.shape} and points {points.shape}: expected "
                "uint8 (N, S, S) and (N, K, 2)"
            )
        self.images, self.points = images, points
        self.stride, self.sigma = stride, sigma
        self.augment, self.seed = augment, seed

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, torch.Tensor]:
        """key: an index, or (epoch, index) from EpochSampler, which makes the augmentation
        of this sample a function of (seed, epoch, index) alone."""
        epoch, i = key if isinstance(key, tuple) else (None, key)
        image, points = self.images[i], self.points[i]
        if self.augment is not None:
            if epoch is not None:
                self.augment.reseed(sample_seed(self.seed, epoch, i))
            image, points = self.augment(image, points)
        return landmark_sample(image, points, i, self.stride, self.sigma)


@dataclass(frozen=True)
class FilmSettings:
    """How a film becomes a model input (sent to the reading processes)."""

    size: int
    bit_depth: str | int
    dicom_window: str
    min_size: int
    max_pixels: int


class LetterboxedFilm(NamedTuple):
    image: np.ndarray  # uint8 (size, size)
    letterbox: Letterbox
    points: np.ndarray  # float64 (K, 2), film pixels (pixel centres), NaN where missing
    spacing_mm: float  # a DICOM film's isotropic pixel spacing; NaN for a PNG


def landmark_sample(
    image: np.ndarray, points: np.ndarray, index: int, stride: int, sigma: float
) -> dict[str, torch.Tensor]:
    """One batch item. A landmark is visible (counted by the loss) when annotated and its
    Gaussian's centre lies on the heatmap; an invisible one's map is all zero."""
    side = image.shape[0] // stride
    in_map = input_to_heatmap(points, stride)
    maps, annotated = gaussian_heatmaps(in_map, side, side, sigma)
    # The heatmap spans [-0.5, side - 0.5] as the input spans [-0.5, S - 0.5]; NaN is outside.
    inside = ((in_map >= -0.5) & (in_map <= side - 0.5)).all(axis=1)
    visible = annotated & inside
    maps[~visible] = 0.0
    return {
        "image": torch.from_numpy(np.ascontiguousarray(image, dtype=np.uint8)[None]),
        "heatmaps": torch.from_numpy(maps),
        "visible": torch.from_numpy(visible),
        "points": torch.from_numpy(np.asarray(points, dtype=np.float32)),
        "index": torch.tensor(index, dtype=torch.int64),
    }


def read_films(
    index: pd.DataFrame, settings: FilmSettings, workers: int
) -> list[LetterboxedFilm | str]:
    """The letterboxed film, or the problem that prevents it, of every index row, in order;
    read in `workers` processes."""
    calls = (index["png_path"].tolist(), index["json_path"].tolist(), repeat(settings))
    progress = tqdm(total=len(index), desc="letterboxing films", unit="img", disable=None)
    read: list[LetterboxedFilm | str] = []
    with ExitStack() as stack:
        stack.callback(progress.close)
        if workers <= 1 or len(index) < 2:
            results = map(read_landmark_film, *calls)
        else:
            pool = stack.enter_context(ProcessPoolExecutor(workers))
            chunk = max(1, min(32, len(index) // (4 * workers)))
            results = pool.map(read_landmark_film, *calls, chunksize=chunk)
        for result in results:
            read.append(result)
            progress.update()
    return read


def read_landmark_film(
    png_path: str, json_path: str, settings: FilmSettings
) -> LetterboxedFilm | str:
    """One case letterboxed, or the message of the error that makes it unusable. read_case's
    checks (those the classifier's cache applies) decide which cases are usable, so that
    data.on_bad_file=skip leaves out the cases a classifier run leaves out, and both draw one
    split."""
    try:
        case = read_case(
            png_path,
            json_path,
            settings.bit_depth,
            settings.min_size,
            settings.max_pixels,
            settings.dicom_window,
        )
        image, letterbox = letterbox_image(to_gray(case.image), settings.size)
        spacing = film_pixel_spacing(png_path)
    except ValueError as err:  # CSXAFormatError, ImageReadError, DicomReadError, geometry
        message = str(err)
        named = png_path in message or json_path in message
        return message if named else f"{png_path} (landmarks {json_path}): {message}"
    isotropic = spacing is not None and math.isclose(spacing[0], spacing[1], rel_tol=1e-6)
    points = keypoint_array(case.keypoints) - LABELME_OFFSET
    return LetterboxedFilm(image, letterbox, points, spacing[0] if isotropic else math.nan)


def keypoint_array(keypoints: dict[str, tuple[float, float]]) -> np.ndarray:
    """float64 (23, 2) in KEYPOINT_LABELS order, NaN for a landmark not given."""
    missing = (math.nan, math.nan)
    return np.array([keypoints.get(label, missing) for label in KEYPOINT_LABELS], np.float64)


def landmark_augmentation(augment: object) -> LandmarkAugmentation | NoLandmarkAugmentation:
    """data.augment as the landmark task uses it: None or augment=none pass films unchanged;
    an augmentation that moves pixels but not points (augment=paper) is refused."""
    if augment is None or isinstance(augment, NoAugmentation | NoLandmarkAugmentation):
        return NoLandmarkAugmentation()
    if isinstance(augment, LandmarkAugmentation):
        return augment
    raise ConfigValueError(
        f"data.augment is a {type(augment).__name__}, which moves the pixels but not the "
        "landmarks; task=landmarks needs augment=landmarks (LandmarkAugmentation) or augment=none"
    )


def check_landmark_settings(preprocess, balance, augment_on: str, on_bad_file: str) -> None:
    """The classifier's settings the landmark datamodule cannot use, refused one per line."""
    for key, value in (("preprocess", preprocess), ("balance", balance)):
        if value is not None:
            raise ConfigValueError(
                f"data.{key}={type(value).__name__}: crop, color and balance do not apply to a "
                "landmark model (it sees the whole letterboxed film); set data.preprocess and "
                "data.balance to null (conf/task/landmarks.yaml does)"
            )
    if augment_on == "device":
        raise ConfigValueError(
            "data.augment_on=device: the landmark model has no device augmentation (its "
            "points move with the pixels in the loader); use data.augment_on=loader"
        )
    if on_bad_file not in ON_BAD_FILE:
        raise ConfigValueError(f"data.on_bad_file={on_bad_file!r}; choose one of {ON_BAD_FILE}")


def check_heatmap_settings(image_size, stride, sigma) -> tuple[int, int, float]:
    """(image_size, stride, sigma): whole pixels, the input a whole number of heatmap pixels,
    and a Gaussian of some width."""
    for key, value in (("image_size", image_size), ("stride", stride)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigValueError(f"data.{key}={value!r}: must be a whole number of pixels >= 1")
    if image_size % stride:
        raise ConfigValueError(
            f"data.image_size={image_size} is not a multiple of data.stride={stride}: the "
            "heatmap must cover the input whole; use a multiple of 32 (e.g. 256)"
        )
    if isinstance(sigma, bool) or not isinstance(sigma, int | float) or not 0 < sigma < math.inf:
        raise ConfigValueError(
            f"data.sigma={sigma!r}: the Gaussian's standard deviation in heatmap pixels must "
            "be a number > 0 (Simple Baselines: 2)"
        )
    return image_size, stride, float(sigma)


def rank_and_world_size(
    trainer: L.Trainer | None, use_distributed_sampler: bool
) -> tuple[int, int]:
    """Under DDP our samplers shard themselves (trainer=ddp: use_distributed_sampler=false),
    as the classifier's datamodule does; Lightning's wrapper is refused."""
    if trainer is None or trainer.world_size == 1:
        return 0, 1
    if use_distributed_sampler:
        raise ConfigValueError(
            "trainer.use_distributed_sampler=true with several processes: Lightning's wrapper "
            "would freeze the epoch order and augmentation. Use trainer=ddp (it sets "
            "use_distributed_sampler=false; csxa_lightning's samplers shard the data)."
        )
    return trainer.global_rank, trainer.world_size
