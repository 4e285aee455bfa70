"""The paper's preprocessing steps as config-built objects: the crop group and the color group.

A color describes itself: its name, its variants (channel orders: one training sample each),
its channel count and the names of each variant's channels; export and preview read those, so
a new color is one class here (or anywhere in the package), one conf/color/*.yaml and its tests.

Each is a small frozen dataclass built by Hydra (`_target_`) from conf/crop/*.yaml and
conf/color/*.yaml; the Preprocessor composes them as crop > color > resize. Their fields are
also the cache key, so every value that changes the pixels must be a field.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

from csxa_lightning.data.images import (
    box_crop,
    center_crop,
    crop_window,
    equalized,
    inverted,
    keypoint_box,
)
from csxa_lightning.utils.errors import ConfigValueError, UserError

Keypoints = dict[str, tuple[float, float]]


class CropError(UserError):
    """A crop that cannot be cut from this film (no landmarks, or a degenerate landmark box);
    the dataset's checks list it with the file it came from."""


@dataclass(frozen=True)
class CenterCrop:
    """crop=none: the paper's base crop, a size x size center window (padded if smaller)."""

    size: int = 500
    name: str = "none"
    needs_keypoints = False

    def __call__(self, gray: np.ndarray, keypoints: Keypoints | None = None) -> np.ndarray:
        return center_crop(gray, self.size)

    def window(
        self, height: int, width: int, keypoints: Keypoints | None = None
    ) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1), end-exclusive, of the crop on a height x width film (it may
        reach past the border, where the crop pads)."""
        x0, y0 = (width - self.size) // 2, (height - self.size) // 2
        return x0, y0, x0 + self.size, y0 + self.size

    def config(self) -> dict:
        return {"type": type(self).__name__, **asdict(self)}


@dataclass(frozen=True)
class KeypointCrop:
    """crop=tight|wide: the box of the 23 landmarks, grown by margins on each side."""

    margin_x: float = 0.0  # px added left and right (wide: 50 + 50 = 100 in total)
    margin_y: float = 0.0  # px added above and below (wide: 100 + 100 = 200 in total)
    name: str = "tight"
    needs_keypoints = True

    def __call__(self, gray: np.ndarray, keypoints: Keypoints | None = None) -> np.ndarray:
        if keypoints is None:
            raise CropError(f"crop={self.name} needs the landmarks of the image.")
        box = keypoint_box(keypoints)
        if box[2] - box[0] < 1 or box[3] - box[1] < 1:
            raise CropError(
                f"the landmarks span a degenerate box {box} (zero width or height); check the "
                "annotation, or use crop=none for this dataset."
            )
        return box_crop(gray, box, self.margin_x, self.margin_y)

    def window(
        self, height: int, width: int, keypoints: Keypoints | None = None
    ) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1), end-exclusive, of the crop on a height x width film."""
        if keypoints is None:
            raise CropError(f"crop={self.name} needs the landmarks of the image.")
        return crop_window(keypoint_box(keypoints), self.margin_x, self.margin_y, width, height)

    def config(self) -> dict:
        return {"type": type(self).__name__, **asdict(self)}


# The two channel orders of the enhanced variant (paper: one file per order).
ENHANCED_ORDERS = {
    "gray_eq_inv": ("gray", "equalized", "inverted"),
    "gray_inv_eq": ("gray", "inverted", "equalized"),
}


@dataclass(frozen=True)
class GrayColor:
    """color=none: gray as one channel (replicated to three on the device, for the backbone)."""

    name: str = "none"
    channels = 1

    @property
    def variants(self) -> tuple[str, ...]:
        return ("gray",)

    @property
    def channel_names(self) -> dict[str, tuple[str, ...]]:
        """{variant: the name of each of its channels}."""
        return {"gray": ("gray",)}

    def __call__(self, gray: np.ndarray) -> np.ndarray:
        """(variants, channels, H, W) = (1, 1, H, W)."""
        return gray[None, None]

    def config(self) -> dict:
        return {"type": type(self).__name__, **asdict(self)}


@dataclass(frozen=True)
class EnhancedColor:
    """color=enhanced: (gray, equalized, inverted) and/or (gray, inverted, equalized).

    orders="both" keeps both orders (the paper's two files per image); or name one order.
    """

    orders: str = "both"
    name: str = "enhanced"
    channels = 3

    def __post_init__(self) -> None:
        if self.orders != "both" and self.orders not in ENHANCED_ORDERS:
            raise ConfigValueError(
                f"color.orders={self.orders!r}; choose 'both' or one of {sorted(ENHANCED_ORDERS)}"
            )

    @property
    def variants(self) -> tuple[str, ...]:
        return tuple(ENHANCED_ORDERS) if self.orders == "both" else (self.orders,)

    @property
    def channel_names(self) -> dict[str, tuple[str, ...]]:
        """{variant (channel order): the name of each of its channels}."""
        return {v: ENHANCED_ORDERS[v] for v in self.variants}

    def __call__(self, gray: np.ndarray) -> np.ndarray:
        """(variants, 3, H, W) uint8."""
        channels = {"gray": gray, "equalized": equalized(gray), "inverted": inverted(gray)}
        return np.stack(
            [np.stack([channels[c] for c in ENHANCED_ORDERS[v]]) for v in self.variants]
        )

    def config(self) -> dict:
        return {"type": type(self).__name__, **asdict(self)}


@dataclass(frozen=True)
class ClaheColor:
    """color=clahe (not in the paper): (gray, CLAHE, inverted), one channel order. Contrast
    limited adaptive histogram equalization (OpenCV's) in tiles of tile_grid x tile_grid."""

    clip_limit: float = 2.0
    tile_grid: int = 8
    name: str = "clahe"
    channels = 3

    @property
    def variants(self) -> tuple[str, ...]:
        return ("clahe",)

    @property
    def channel_names(self) -> dict[str, tuple[str, ...]]:
        return {"clahe": ("gray", "clahe", "inverted")}

    def __call__(self, gray: np.ndarray) -> np.ndarray:
        """(1, 3, H, W) uint8."""
        clahe = cv2.createCLAHE(clipLimit=self.clip_limit, tileGridSize=(self.tile_grid,) * 2)
        return np.stack([gray, clahe.apply(gray), inverted(gray)])[None]

    def config(self) -> dict:
        return {"type": type(self).__name__, **asdict(self)}
