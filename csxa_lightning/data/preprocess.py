"""Deterministic preprocessing of one film into the model's input (before normalization).

Issue 2 scope: the paper's base crop (500 x 500 centre crop, padded when the film is smaller)
then a square resize. The keypoint crops and colour variants plug in here later.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from csxa_lightning.data.images import center_crop, resize, to_gray


@dataclass(frozen=True)
class CenterCropResize:
    """Gray film -> (1, image_size, image_size) uint8."""

    crop_size: int = 500
    image_size: int = 224

    def __call__(
        self, image: np.ndarray, keypoints: dict[str, tuple[float, float]] | None = None
    ) -> np.ndarray:
        gray = to_gray(image)
        return resize(center_crop(gray, self.crop_size), self.image_size)[None]

    @property
    def needs_keypoints(self) -> bool:
        return False
