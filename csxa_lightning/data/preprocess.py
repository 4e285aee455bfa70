"""One film and its landmarks -> the model input, exactly as training, prediction and preview
see it (before normalization). Deterministic, so its output is cached."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from csxa_lightning.data.images import resize, to_gray
from csxa_lightning.data.transforms import CenterCrop, GrayColor, Keypoints


class Crop(Protocol):
    name: str
    needs_keypoints: bool

    def __call__(self, gray: np.ndarray, keypoints: Keypoints | None = None) -> np.ndarray: ...
    def config(self) -> dict: ...


class Color(Protocol):
    name: str
    variants: tuple[str, ...]

    def __call__(self, gray: np.ndarray) -> np.ndarray: ...
    def config(self) -> dict: ...


@dataclass(frozen=True)
class Preprocessor:
    """crop > colour > resize. Output: uint8 (variants, channels, image_size, image_size)."""

    crop: Crop = CenterCrop()
    color: Color = GrayColor()
    image_size: int = 224

    @property
    def needs_keypoints(self) -> bool:
        return self.crop.needs_keypoints

    @property
    def variants(self) -> tuple[str, ...]:
        return self.color.variants

    @property
    def channels(self) -> int:
        return 1 if isinstance(self.color, GrayColor) else 3

    def __call__(self, image: np.ndarray, keypoints: Keypoints | None = None) -> np.ndarray:
        gray = self.crop(to_gray(image), keypoints)
        # Colour before resize: equalization uses the histogram of the crop at full resolution.
        stacked = self.color(gray)
        return np.stack(
            [[resize(plane, self.image_size) for plane in variant] for variant in stacked]
        )

    def config(self) -> dict:
        """Everything that changes the pixels: the cache key."""
        return {
            "crop": self.crop.config(),
            "color": self.color.config(),
            "image_size": self.image_size,
            "opencv": cv2.__version__,
        }

    @property
    def label(self) -> str:
        return f"crop={self.crop.name},color={self.color.name}"
