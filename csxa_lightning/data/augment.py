"""The paper's training-time augmentation, applied to the training split only.

Per sample: horizontal flip (p = 0.5), vertical flip (p = 0.5), then a rotation by an angle
from U(-20, 20) degrees followed by a second rotation by U(-60, 60) degrees. The two rotations
are applied one after the other (two resamplings, as two stacked RandomRotation transforms do),
so the total angle has a trapezoidal distribution on [-80, 80], flat on [-40, 40].

Resampling: the paper names no framework, but its wording is PyTorch's, and torchvision's
RandomRotation defaults to nearest-neighbour interpolation with a constant fill of 0; those
are the defaults here (``interpolation="nearest"``, ``border_mode="constant"``). Bilinear
interpolation and the reflect / replicate borders are options.

Scaling (off by default): Figure 1's caption of the paper names "scaling", its Methods text
does not. ``scale_limit = s > 0`` zooms each sample by a factor k ~ U(1 - s, 1 + s) about the
image center (k > 1 magnifies, k < 1 shrinks and shows border fill). The zoom is folded into
the second rotation's warp (albumentations ``Affine`` in place of the second ``Rotate``): an
isotropic zoom commutes with a rotation about the same center, so this is "rotate, then zoom"
without a third resampling. With ``s = 0`` the pipeline is exactly the unscaled one (same
transforms, same stream of draws).

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
from dataclasses import dataclass

import albumentations as A
import numpy as np
import torch
from torch.utils.data import get_worker_info

from csxa_lightning.data.device_augment import (
    BORDER_MODES,
    FIRST_ANGLE,
    HFLIP,
    INTERPOLATIONS,
    N_PARAMS,
    SCALE,
    SECOND_ANGLE,
    VFLIP,
    AugmentSettings,
    DeviceAugmentation,
)

_PROBE = np.zeros((2, 2, 1), dtype=np.uint8)  # tiny image: sample_params only needs the draws


@dataclass(eq=False)
class PaperAugmentation(AugmentSettings):
    """Flips, then two sequential rotations, the second with an optional zoom; see the module
    docstring.

    ``__call__`` takes and returns uint8 (C, H, W), the layout the dataset stores; the
    albumentations pipeline works on (H, W, C) internally.
    """

    def __post_init__(self) -> None:
        super().__post_init__()  # the settings, checked
        self.pipeline = A.Compose(
            [
                A.HorizontalFlip(p=self.hflip_p),
                A.VerticalFlip(p=self.vflip_p),
                self._rotate(self.first_rotation),
                self._rotate_and_scale(self.second_rotation),
            ]
        )
        # Follows the global torch seed until the datamodule (reseed) or a worker (seed_worker)
        # replaces it; either way one shared generator, never Compose(seed=...).
        self.reseed(torch.initial_seed())

    def _warp_settings(self) -> dict:
        return {
            "interpolation": INTERPOLATIONS[self.interpolation],
            "border_mode": BORDER_MODES[self.border_mode],
            "fill": 0,
            "p": 1.0,
        }

    def _rotate(self, limit: float) -> A.Rotate:
        # limit: a float gives U(-limit, limit); crop_border=False keeps the input size.
        return A.Rotate(limit=limit, crop_border=False, **self._warp_settings())

    def _rotate_and_scale(self, limit: float) -> A.Rotate | A.Affine:
        if self.scale_limit == 0.0:
            return self._rotate(limit)  # unscaled: the very transform (and draws) of before
        s = self.scale_limit
        # Affine draws the zoom (keep_ratio: one factor for both axes) before the angle; both
        # uniform. No shear, no translation, output the input size.
        return A.Affine(
            rotate=(-limit, limit),
            scale=(1.0 - s, 1.0 + s),
            keep_ratio=True,
            fit_output=False,
            **self._warp_settings(),
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

    def device_version(self) -> DeviceAugmentation:
        """The same augmentation for whole batches on the device (data.augment_on=device)."""
        return DeviceAugmentation.like(self)

    def sample_params(self, n: int) -> np.ndarray:
        """(n, 5) float64 rows [hflip, vflip, first angle, second angle, scale] (columns HFLIP ..
        SCALE): exactly those the next n calls would apply, in DeviceAugmentation's layout.

        Runs a copy of the real pipeline (same generator state, so this one's stream does not
        advance) on a tiny image and reads what each transform applied back. Angles come back
        through the warp matrix (atan2), so within ~1e-13 degrees of the drawn ones."""
        probe = copy.deepcopy(self.pipeline)  # deepcopy keeps the generator shared inside it
        probe.save_applied_params = True
        rows = np.zeros((n, N_PARAMS), dtype=np.float64)
        rows[:, SCALE] = 1.0
        for i in range(n):
            applied = probe(image=_PROBE)["applied_transforms"]  # only the transforms that ran
            warps = [params for name, params in applied if name in ("Rotate", "Affine")]
            names = {name for name, _ in applied}
            rows[i, HFLIP] = "HorizontalFlip" in names
            rows[i, VFLIP] = "VerticalFlip" in names
            rows[i, FIRST_ANGLE] = _rotation_angle(warps[0]["matrix"])
            rows[i, SECOND_ANGLE] = _rotation_angle(warps[1]["matrix"])
            if "scale" in warps[1]:  # Affine: the zoom factor it drew
                rows[i, SCALE] = warps[1]["scale"]["x"]
        return rows


class NoAugmentation:
    """augment=none: every image passes unchanged."""

    def __call__(self, image: np.ndarray) -> np.ndarray:
        return image

    def reseed(self, seed: int) -> None:
        """Nothing random to seed."""

    def device_version(self) -> None:
        """Nothing to do on the device either."""
        return None


def _rotation_angle(matrix: np.ndarray) -> float:
    """Angle in degrees of an albumentations rotation (times zoom) matrix, whose 2x2 block is
    k [[cos, sin], [-sin, cos]] (counter-clockwise on screen for a positive angle)."""
    return math.degrees(math.atan2(-matrix[1, 0], matrix[0, 0]))


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
