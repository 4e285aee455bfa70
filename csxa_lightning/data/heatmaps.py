"""Gaussian heatmap targets of the landmark model (Xiao et al. 2018, "Simple Baselines"), and
the mapping between input and heatmap coordinates.

Coordinates follow data/letterbox.py: pixel centres at integer coordinates, in the input and in
the heatmap alike. The network's heatmap is the input at 1/stride: heatmap pixel j covers
input pixels [stride * j, stride * (j + 1)) (edges at stride * j - 0.5 in centre coordinates),
so its centre is the input point stride * j + (stride - 1) / 2, that is
x_h = (x_in + 0.5) / stride - 0.5 (for stride 4: x_in = 4 x_h + 1.5). Taking x_in / stride
instead would put every prediction (stride - 1) / 2 input pixels off: 1.5 px for stride 4.
"""

from __future__ import annotations

import math

import numpy as np


def gaussian_heatmaps(
    points: np.ndarray, height: int, width: int, sigma: float
) -> tuple[np.ndarray, np.ndarray]:
    """(maps float32 (K, height, width), visible bool (K,)) of K points (x, y) in heatmap
    pixel coordinates.

    Map k is exp(-((x - x_k)^2 + (y - y_k)^2) / (2 sigma^2)) at every pixel centre (x, y):
    1 at the point itself, which may lie between pixels (the targets keep the sub-pixel
    position that rounding to a pixel, as Simple Baselines' code does, would lose up to half
    a heatmap pixel of: 2 input pixels at stride 4). The map is not cut at 3 sigma: the tails
    are below 0.011 there, and an uncut map has no edge for the network to learn.

    A point with a NaN coordinate (a landmark the film lacks) gets an all-zero map and
    visible False, so that the loss can leave it out rather than teach "no landmark here". A
    point outside the map stays visible: its map is the part of its Gaussian that falls
    inside, empty when far away (what the network should then predict)."""
    xy = check_points(points)
    check_map_size(height, width)
    if not (math.isfinite(sigma) and sigma > 0):
        raise ValueError(
            f"sigma={sigma}: the Gaussian's standard deviation in heatmap pixels must be "
            "finite and > 0 (Simple Baselines uses 2 for 64 x 48 maps)"
        )
    visible = np.isfinite(xy).all(axis=1)
    safe = np.where(visible[:, None], xy, 0.0)  # any finite value: the map is zeroed below
    # Separable: the 2-D Gaussian is the outer product of one along x and one along y.
    along_x = np.exp(-((np.arange(width) - safe[:, :1]) ** 2) / (2 * sigma**2))
    along_y = np.exp(-((np.arange(height) - safe[:, 1:]) ** 2) / (2 * sigma**2))
    maps = along_y[:, :, None] * along_x[:, None, :]
    maps[~visible] = 0.0
    return maps.astype(np.float32), visible


def input_to_heatmap(points: np.ndarray, stride: float) -> np.ndarray:
    """(..., 2) input (x, y) -> heatmap (x, y), float64: (x_in + 0.5) / stride - 0.5."""
    xy = check_stride_points(points, stride)
    return (xy + 0.5) / stride - 0.5


def heatmap_to_input(points: np.ndarray, stride: float) -> np.ndarray:
    """(..., 2) heatmap (x, y) -> input (x, y), float64: (x_h + 0.5) * stride - 0.5, the exact
    inverse of input_to_heatmap."""
    xy = check_stride_points(points, stride)
    return (xy + 0.5) * stride - 0.5


def check_points(points: np.ndarray) -> np.ndarray:
    """points as float64 (K, 2), or a ValueError saying what to pass."""
    xy = np.asarray(points, dtype=np.float64)
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise ValueError(
            f"points of shape {xy.shape}: expected (K, 2), one (x, y) row per landmark in "
            "KEYPOINT_LABELS order (NaN for a missing one)"
        )
    return xy


def check_map_size(height: int, width: int) -> None:
    for name, value in (("height", height), ("width", width)):
        if isinstance(value, bool) or int(value) != value or value < 1:
            raise ValueError(
                f"heatmap {name}={value!r}: must be a whole number of pixels >= 1; for an "
                "input of size S and stride 4 it is S // 4"
            )


def check_stride_points(points: np.ndarray, stride: float) -> np.ndarray:
    if not (math.isfinite(stride) and stride > 0):
        raise ValueError(
            f"stride={stride}: the input pixels per heatmap pixel must be finite and > 0 "
            "(4 for Simple Baselines' three deconvolutions after a stride-32 ResNet)"
        )
    xy = np.asarray(points, dtype=np.float64)
    if xy.ndim == 0 or xy.shape[-1] != 2:
        raise ValueError(f"points of shape {xy.shape}: expected (..., 2), (x, y) on the last axis")
    return xy
