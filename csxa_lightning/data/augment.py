"""The paper's training-time augmentation, applied to the training split only.

Per sample: horizontal flip (p = 0.5), vertical flip (p = 0.5), then a rotation by an angle
from U(-20, 20) degrees followed by a second rotation by U(-60, 60) degrees. The two rotations
are applied one after the other (two resamplings, as the paper's two Keras RandomRotation
layers do), so the total angle has a trapezoidal distribution on [-80, 80], flat on [-40, 40].

Randomness: albumentations' ``Compose(seed=s)`` hands *every* transform its own
``random.Random(s)``, so all transforms replay the same stream: both flips always agree and the
second angle is always 3x the first (checked on albumentations 2.0.8). We therefore never seed
through ``Compose(seed=...)``; ``reseed`` installs one shared generator with
``Compose.set_random_state``, so the draws are independent and the pipeline is still
deterministic.
"""

from __future__ import annotations

import copy
import math
import random

import albumentations as A
import cv2
import numpy as np
import torch
from torch.utils.data import get_worker_info

# Keras RandomRotation (the paper's layers) defaults to fill_mode="reflect",
# i.e. (d c b a | a b c d | d c b a), which is OpenCV's BORDER_REFLECT (not REFLECT_101).
BORDER_MODES: dict[str, int] = {
    "reflect": cv2.BORDER_REFLECT,
    "constant": cv2.BORDER_CONSTANT,  # filled with 0
    "replicate": cv2.BORDER_REPLICATE,
}

_PROBE = np.zeros((2, 2, 1), dtype=np.uint8)  # tiny image: sample_angles only needs the draws


def _check_probability(name: str, value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1], got {value}")
    return float(value)


def _check_range(name: str, value: float) -> float:
    if not (math.isfinite(value) and value >= 0.0):
        raise ValueError(f"{name} is a half-width in degrees and must be >= 0, got {value}")
    return float(value)


def _rotation_angle(matrix: np.ndarray) -> float:
    """Angle in degrees of an albumentations rotation matrix, whose 2x2 block is
    [[cos, sin], [-sin, cos]] (counter-clockwise on screen for a positive angle)."""
    return math.degrees(math.atan2(-matrix[1, 0], matrix[0, 0]))


class PaperAugmentation:
    """Flips then two sequential rotations; see the module docstring.

    ``__call__`` takes and returns uint8 (C, H, W), the layout the dataset stores; the
    albumentations pipeline works on (H, W, C) internally. Interpolation is bilinear.
    """

    def __init__(
        self,
        hflip_p: float = 0.5,
        vflip_p: float = 0.5,
        first_rotation: float = 20.0,
        second_rotation: float = 60.0,
        border_mode: str = "reflect",
    ) -> None:
        if border_mode not in BORDER_MODES:
            raise ValueError(
                f"border_mode must be one of {sorted(BORDER_MODES)}, got {border_mode!r}"
            )
        self.hflip_p = _check_probability("hflip_p", hflip_p)
        self.vflip_p = _check_probability("vflip_p", vflip_p)
        self.first_rotation = _check_range("first_rotation", first_rotation)
        self.second_rotation = _check_range("second_rotation", second_rotation)
        self.border_mode = border_mode
        self.pipeline = A.Compose(
            [
                A.HorizontalFlip(p=self.hflip_p),
                A.VerticalFlip(p=self.vflip_p),
                self._rotate(self.first_rotation),
                self._rotate(self.second_rotation),
            ]
        )
        # Follows the global torch seed until the datamodule (reseed) or a worker (seed_worker)
        # replaces it; either way one shared generator, never Compose(seed=...).
        self.reseed(torch.initial_seed())

    def _rotate(self, limit: float) -> A.Rotate:
        return A.Rotate(
            limit=limit,  # a float gives U(-limit, limit)
            interpolation=cv2.INTER_LINEAR,
            border_mode=BORDER_MODES[self.border_mode],
            fill=0,
            crop_border=False,  # keep the input size
            p=1.0,
        )

    def reseed(self, seed: int) -> None:
        """Make the stream of draws deterministic from here on (seed >= 0)."""
        if seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        # One generator shared by all transforms: independent draws (see the module docstring).
        self.pipeline.set_random_state(np.random.default_rng(seed), random.Random(seed))

    def __call__(self, image: np.ndarray) -> np.ndarray:
        if image.ndim != 3 or image.dtype != np.uint8:
            raise ValueError(
                f"expected a uint8 (C, H, W) image, got {image.dtype} of shape {image.shape}"
            )
        hwc = np.ascontiguousarray(image.transpose(1, 2, 0))
        out = self.pipeline(image=hwc)["image"]
        chw = np.ascontiguousarray(out.transpose(2, 0, 1))
        # albumentations returns its input untouched when nothing applies (identity warp); never
        # hand back a view of the caller's (possibly read-only, memory-mapped) array.
        return chw.copy() if np.may_share_memory(chw, image) else chw

    def sample_angles(self, n: int) -> np.ndarray:
        """(n, 2) first and second rotation angles in degrees: exactly those the next n calls
        would apply. Runs a copy of the real pipeline (same generator state, so this one's stream
        does not advance) on a tiny image and reads each Rotate's applied matrix back."""
        probe = copy.deepcopy(self.pipeline)  # deepcopy keeps the generator shared inside it
        probe.save_applied_params = True
        angles = np.empty((n, 2), dtype=np.float64)
        for i in range(n):
            applied = probe(image=_PROBE)["applied_transforms"]
            matrices = [params["matrix"] for name, params in applied if name == "Rotate"]
            angles[i] = [_rotation_angle(m) for m in matrices]
        return angles


class NoAugmentation:
    """augment=none: every image passes unchanged."""

    def __call__(self, image: np.ndarray) -> np.ndarray:
        return image

    def reseed(self, seed: int) -> None:
        """Nothing random to seed."""


def _find_augment(dataset: object) -> object | None:
    """The dataset's ``augment``, looking through wrappers such as Subset (``.dataset``)."""
    while dataset is not None:
        augment = getattr(dataset, "augment", None)
        if augment is not None:
            return augment
        dataset = getattr(dataset, "dataset", None)
    return None


def seed_worker(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``.

    Each worker gets a copy of the dataset, augmentation generator state included, so without
    this every worker would replay the same draws (duplicate augmentations in a batch), and
    with non-persistent workers every epoch would replay those of the first. In a worker,
    torch.initial_seed() is base_seed + worker_id, with base_seed drawn from the global torch
    generator (or the loader's) each time an iterator starts: different per worker and per
    epoch, reproducible under torch.manual_seed / seed_everything. numpy and random are seeded
    from it too, for any other code in the worker that draws from the global generators.
    """
    seed = torch.initial_seed()
    random.seed(seed)
    np.random.seed(seed % 2**32)  # the legacy global generator takes 32-bit seeds
    info = get_worker_info()
    augment = _find_augment(info.dataset) if info is not None else None
    if augment is not None and hasattr(augment, "reseed"):
        augment.reseed(seed)
