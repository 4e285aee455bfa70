"""Training-time augmentation of the landmark model: the film and its landmarks move together.

Per sample: a horizontal flip (p = hflip_p), then one affine warp (rotation U(-rotation,
rotation) degrees, one zoom factor U(scale) for both axes, a shift U(-translate, translate) of
the side along each axis, about the image centre), then brightness and contrast. albumentations
moves the points with the pixels (KeypointParams); checked on albumentations 2.0.8 against the
centroids of blobs drawn at the points (tests/unit/test_landmark_augment.py):

- coordinates are pixel centres at integer coordinates (data/letterbox.py): HorizontalFlip maps
  x to W - 1 - x, exactly as it mirrors the columns, and Affine moves points with the very
  matrix it hands cv2.warpAffine;
- points are kept in order and in number with remove_invisible=False, including those pushed
  outside the image (their heatmap target is then just empty, or partial near the edge);
- NaN passes through both kernels as NaN, but a missing landmark is carried beside the points
  as a mask instead (the kernels get a finite stand-in), so it stays NaN whatever a kernel does
  with NaN in another release;
- the border is constant (fill 0, the letterbox's padding): with a reflecting border Affine
  adds mirrored copies of every point, and the point count would change.

Randomness as PaperAugmentation (augment.py): never Compose(seed=...), which gives every
transform the same stream; ``reseed`` installs one shared generator, and seed_worker reseeds it
per DataLoader worker.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import albumentations as A
import cv2
import numpy as np
import torch

from csxa_lightning.data.device_augment import (
    INTERPOLATIONS,
    check_choice,
    check_probability,
    check_range,
)
from csxa_lightning.data.images import not_gray_uint8
from csxa_lightning.utils.errors import ConfigValueError

# Why a flip does not swap "left" and "right" landmarks, as pose estimation does. There,
# "left wrist" names the body's own side, which a mirror exchanges: a mirrored left hand looks
# like a right hand. CSXA's "left" and "right" are not the patient's sides: on a lateral film
# the patient faces image-left, so "C3 top left" is the anterior (front) top corner of C3's
# body and "C3 top right" the posterior one. A mirrored film is a patient facing right: the
# anterior corner is still the anterior corner, now on the image's right. The name follows the
# anatomy, so point k stays point k and only its x is mirrored. Swapping would name the
# posterior corner anterior and teach the network to confuse the front of a vertebral body
# with its back.


@dataclass(eq=False)
class LandmarkAugmentation:
    """Flip, affine warp and brightness / contrast of a uint8 (S, S) input and its (K, 2)
    landmarks; see the module docstring. Fields are config values (Hydra ``_target_``)."""

    rotation: float = 30.0  # degrees, half-width of U(-rotation, rotation)
    scale: tuple[float, float] = (0.75, 1.25)  # zoom factor range, one factor for both axes
    translate: float = 0.05  # shift, fraction of the side, U(-t, t) along x and along y
    brightness: float = 0.2  # brightness_limit: +- this fraction of 255
    contrast: float = 0.2  # contrast_limit: gain 1 +- this
    # Off by default: every CSXA film faces left, so a flip shows the network a film it will
    # never be tested on. Simple Baselines flips at 0.5, but for people, who face both ways.
    hflip_p: float = 0.0
    interpolation: str = "bilinear"  # nearest | bilinear

    def __post_init__(self) -> None:
        self.rotation = check_range("rotation", self.rotation)
        self.scale = check_zoom(self.scale)
        self.translate = check_fraction("translate", self.translate, below=0.5)
        self.brightness = check_fraction("brightness", self.brightness, below=1.0)
        self.contrast = check_fraction("contrast", self.contrast, below=1.0)
        self.hflip_p = check_probability("hflip_p", self.hflip_p)
        self.interpolation = check_choice("interpolation", self.interpolation, INTERPOLATIONS)
        self.pipeline = A.Compose(
            self.transforms(),
            # No label_fields (nor label_mapping, which later releases add to swap left /
            # right names on a flip): point k stays point k (the comment above the class).
            keypoint_params=A.KeypointParams(format="xy", remove_invisible=False),
        )
        # Follows the global torch seed until the datamodule or a worker (seed_worker)
        # reseeds it, as PaperAugmentation does.
        self.reseed(torch.initial_seed())

    def transforms(self) -> list[A.BasicTransform]:
        # A flip keeps each landmark's name (index): see the comment above the class.
        steps: list[A.BasicTransform] = [A.HorizontalFlip(p=self.hflip_p)]
        steps.append(
            A.Affine(
                rotate=(-self.rotation, self.rotation),
                scale=self.scale,
                keep_ratio=True,  # films differ in magnification, not in aspect ratio
                translate_percent=(-self.translate, self.translate),
                fit_output=False,
                interpolation=INTERPOLATIONS[self.interpolation],
                border_mode=cv2.BORDER_CONSTANT,  # not reflect: see the module docstring
                fill=0,
                p=1.0,
            )
        )
        if self.brightness or self.contrast:
            steps.append(
                A.RandomBrightnessContrast(
                    brightness_limit=self.brightness, contrast_limit=self.contrast, p=1.0
                )
            )
        return steps

    def reseed(self, seed: int) -> None:
        """Make the stream of draws deterministic from here on (seed >= 0)."""
        if seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        self.pipeline.set_random_state(np.random.default_rng(seed), random.Random(seed))

    def __call__(self, image: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(image uint8 (S, S), points float64 (K, 2)): the augmented input and its landmarks,
        in the same order, NaN rows (missing landmarks) still NaN."""
        xy, visible = check_sample(image, points)
        out = self.pipeline(image=image, keypoints=np.where(visible[:, None], xy, 0.0))
        moved = np.asarray(out["keypoints"], dtype=np.float64).reshape(-1, 2)
        if moved.shape != xy.shape:  # guards the "no point dropped or added" promise
            raise RuntimeError(
                f"albumentations returned {moved.shape[0]} points for {xy.shape[0]}; a "
                "transform removed or copied points (a reflecting border or "
                "remove_invisible=True); keep the constant border"
            )
        moved[~visible] = np.nan
        augmented = out["image"]
        # albumentations returns its input untouched when nothing applies; never hand back a
        # view of the caller's (possibly read-only, memory-mapped) array.
        if np.may_share_memory(augmented, image):
            augmented = augmented.copy()
        return augmented, moved


class NoLandmarkAugmentation:
    """Validation and test: the input and its landmarks pass unchanged (copies)."""

    def __call__(self, image: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        xy, _ = check_sample(image, points)
        return image.copy(), xy.copy()

    def reseed(self, seed: int) -> None:
        """Nothing random to seed."""


def check_sample(image: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(points float64 (K, 2), visible bool (K,): both coordinates finite), or a ValueError
    naming what is wrong with the sample."""
    problem = not_gray_uint8(image)
    if problem is not None:
        raise ValueError(
            f"landmark augmentation takes a 2-D uint8 image, got {problem}; "
            "augment the letterboxed gray input (letterbox.letterbox_image), before the color "
            "step"
        )
    xy = np.asarray(points, dtype=np.float64)
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise ValueError(
            f"points of shape {xy.shape}: expected (K, 2), one (x, y) row per landmark in "
            "input pixel coordinates (letterbox.Letterbox.to_input), NaN for a missing one"
        )
    return xy, np.isfinite(xy).all(axis=1)


def check_zoom(value: object) -> tuple[float, float]:
    """scale as a (low, high) tuple of zoom factors, 0 < low <= high."""
    try:
        low, high = (float(v) for v in value)  # a list from YAML, or a tuple
    except (TypeError, ValueError):
        low = high = math.nan
    if not (math.isfinite(low) and math.isfinite(high) and 0 < low <= high):
        raise ConfigValueError(
            f"scale={value!r}: give the zoom factor range as [low, high] with 0 < low <= high, "
            "e.g. [0.75, 1.25]; [1, 1] turns zooming off"
        )
    return low, high


def check_fraction(name: str, value: float, below: float) -> float:
    """value as a float in [0, below)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not (math.isfinite(number) and 0.0 <= number < below):
        raise ConfigValueError(f"{name}={value!r}: must lie in [0, {below}); 0 turns it off")
    return number
