"""Letterboxing a film into the landmark model's square input, and its landmarks with it.

Coordinates: pixel centres at integer coordinates. Pixel (row i, column j) is the point
(x = j, y = i) and covers [j - 0.5, j + 0.5) x [i - 0.5, i + 0.5); a W-pixel-wide image spans
x in [-0.5, W - 0.5]. This is OpenCV's convention for resize and warpAffine and the one
albumentations' keypoint kernels follow (its HorizontalFlip maps x to W - 1 - x), so the
landmarks stay on their pixels through every step. Resizing by a factor s then maps a pixel
edge to an edge, (x + 0.5) * s = x_in + 0.5, hence x_in = (x + 0.5) * s - 0.5 (+ the padding).

Landmarks read from LabelMe are in its scene coordinates, where pixel j spans [j, j + 1)
(a click on a pixel's centre stores j + 0.5): subtract 0.5 from them before they come here.

The letterbox keeps the aspect ratio: the long side is scaled to the input size, the short
side by the same factor and centred between bands of pad_value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from csxa_lightning.data.images import not_gray_uint8


@dataclass(frozen=True)
class Letterbox:
    """Where a width x height film lies in the size x size input: scaled by scale, then shifted
    by (pad_x, pad_y) input pixels (whole pixels: one of them is 0)."""

    scale: float
    pad_x: float
    pad_y: float
    size: int
    width: int
    height: int

    def to_input(self, points: np.ndarray) -> np.ndarray:
        """(..., 2) film (x, y) -> input (x, y), float64; NaN (a missing landmark) stays NaN."""
        xy = as_points(points)
        pad = np.array([self.pad_x, self.pad_y])
        return (xy + 0.5) * self.scale - 0.5 + pad

    def to_film(self, points: np.ndarray) -> np.ndarray:
        """(..., 2) input (x, y) -> film (x, y), float64: the exact inverse of to_input."""
        xy = as_points(points)
        pad = np.array([self.pad_x, self.pad_y])
        return (xy - pad + 0.5) / self.scale - 0.5

    @property
    def resized(self) -> tuple[int, int]:
        """(width, height) of the film once scaled, before padding: the product rounded, as
        cv2.resize sizes its output when given the factors."""
        return round(self.width * self.scale), round(self.height * self.scale)


def as_points(points: np.ndarray) -> np.ndarray:
    """points as a float64 array whose last axis holds (x, y)."""
    xy = np.asarray(points, dtype=np.float64)
    if xy.ndim == 0 or xy.shape[-1] != 2:
        raise ValueError(
            f"points of shape {xy.shape}: expected (..., 2), (x, y) on the last axis; pass "
            "an array like np.array([[x0, y0], [x1, y1]])"
        )
    return xy


def letterbox_geometry(width: int, height: int, size: int) -> Letterbox:
    """The letterbox of a width x height film in a size x size input.

    scale = size / max(width, height). The padding of the short side is whole pixels, half
    before and half after; an odd total puts the extra pixel after (bottom or right), as
    images.center_crop does. Whole pixels keep the mapping exact: a fractional shift would
    need a resampling of its own."""
    for name, value in (("width", width), ("height", height), ("size", size)):
        if isinstance(value, bool) or int(value) != value or value < 1:
            raise ValueError(
                f"letterbox {name}={value!r}: must be a whole number of pixels >= 1; pass the "
                "film's shape (gray.shape[1], gray.shape[0]) and the model's input size"
            )
    width, height, size = int(width), int(height), int(size)
    scale = size / max(width, height)
    geometry = Letterbox(scale, 0.0, 0.0, size, width, height)
    resized_width, resized_height = geometry.resized
    if min(resized_width, resized_height) < 1:
        raise ValueError(
            f"a {width}x{height} film scaled by {scale:.4g} into a {size} input is "
            f"{resized_width}x{resized_height} pixels: nothing left of its short side; is it "
            "a radiograph? Raise data.min_size to exclude such films, or enlarge the input"
        )
    return Letterbox(
        scale=scale,
        pad_x=float((size - resized_width) // 2),
        pad_y=float((size - resized_height) // 2),
        size=size,
        width=width,
        height=height,
    )


def letterbox_image(
    gray: np.ndarray,
    size: int,
    geometry: Letterbox | None = None,
    pad_value: int = 0,
) -> tuple[np.ndarray, Letterbox]:
    """(the size x size uint8 input, its Letterbox) of an 8-bit gray film.

    Shrinking uses area interpolation: each input pixel averages the film pixels it covers,
    so thin bright edges (cortices, endplates) are not aliased away as sampling would. When
    the film is smaller than the input, area interpolation is bilinear anyway in OpenCV;
    bilinear is named for it here rather than the cubic of images.resize, because cubic
    overshoots at sharp edges (rings, then clips at 0 / 255) and so shifts a bright edge's
    centroid, which is what a landmark sits on.

    The factors, not a target size, are handed to cv2.resize, so that it samples with exactly
    geometry.scale on both axes (given a size, it would use the rounded short side's own
    ratio and move points near the far edge by up to half a pixel). The rounding can leave
    up to half an input pixel of the film's far short edge outside the resized image."""
    height, width = check_gray(gray)
    if geometry is None:
        geometry = letterbox_geometry(width, height, size)
    elif (geometry.width, geometry.height, geometry.size) != (width, height, size):
        raise ValueError(
            f"geometry is for a {geometry.width}x{geometry.height} film in a {geometry.size} "
            f"input, but the film is {width}x{height} and size={size}; pass geometry=None "
            "to compute it, or the geometry of this film"
        )
    if not 0 <= pad_value <= 255:
        raise ValueError(f"pad_value={pad_value}: an 8-bit grey level, 0..255; 0 is black")
    resized = scale_gray(gray, geometry.scale)
    canvas = np.full((size, size), pad_value, dtype=np.uint8)
    top, left = int(geometry.pad_y), int(geometry.pad_x)
    # Neither side exceeds size (the long one is size, rounded); clipped all the same, so
    # that a rounding quirk of another OpenCV could never end in a broadcast error.
    rows, cols = min(resized.shape[0], size - top), min(resized.shape[1], size - left)
    canvas[top : top + rows, left : left + cols] = resized[:rows, :cols]
    return canvas, geometry


def check_gray(gray: np.ndarray) -> tuple[int, int]:
    """(height, width) of a 2-D uint8 film, or a ValueError saying what to pass."""
    problem = not_gray_uint8(gray)
    if problem is not None:
        raise ValueError(
            f"letterbox_image takes a 2-D uint8 gray film, got {problem}; "
            "convert it first with images.to_gray (and read_film for 16-bit PNGs)"
        )
    return gray.shape[0], gray.shape[1]


def scale_gray(gray: np.ndarray, scale: float) -> np.ndarray:
    """gray scaled by scale on both axes (area when shrinking, bilinear when enlarging; see
    letterbox_image)."""
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale={scale}: must be a finite factor > 0")
    if scale == 1.0:
        return gray
    interpolation = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    return cv2.resize(gray, None, fx=scale, fy=scale, interpolation=interpolation)
