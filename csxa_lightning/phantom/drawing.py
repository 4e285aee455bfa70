"""Drawing primitives for the renderer: sub-pixel polygon fills and outlines, ellipses, noise.

Canvases are float32 attenuation maps (0 = no absorption) and polygons are (n, 2) arrays of pixel
coordinates (x right, y down). Polygons are drawn with sub-pixel precision, so corners land
exactly where the geometry put them.
"""

from __future__ import annotations

import cv2
import numpy as np

from csxa_lightning.phantom.anatomy import Frame

_SHIFT_BITS = 4  # sub-pixel precision of cv2 polygon drawing: corners land where computed


def fill(canvas: np.ndarray, poly: np.ndarray, value: float, scale: float = 1.0) -> None:
    pts = np.round(np.asarray(poly) * scale * (1 << _SHIFT_BITS)).astype(np.int32)
    cv2.fillPoly(canvas, [pts], float(value), lineType=cv2.LINE_8, shift=_SHIFT_BITS)


def outline(
    canvas: np.ndarray, poly: np.ndarray, value: float, thickness: int, closed: bool = True
) -> None:
    pts = np.round(np.asarray(poly) * (1 << _SHIFT_BITS)).astype(np.int32)
    cv2.polylines(canvas, [pts], closed, float(value), max(1, thickness), cv2.LINE_8, _SHIFT_BITS)


def ellipse(center: np.ndarray, axes: tuple[float, float], theta: float, n: int = 40) -> np.ndarray:
    """Polygon of an ellipse whose first axis points along ``theta``'s posterior normal."""
    phi = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    u, v = axes[0] * np.cos(phi), axes[1] * np.sin(phi)
    return Frame(np.asarray(center, dtype=np.float64), theta).at(u, v)


def smooth_noise(
    rng: np.random.Generator, shape: tuple[int, int], cell: float, interpolation: int
) -> np.ndarray:
    """Zero-mean, unit-ish noise with features about ``cell`` px wide (small array, upsampled)."""
    h, w = shape
    small = rng.standard_normal((max(2, int(h / cell)), max(2, int(w / cell))), dtype=np.float32)
    return cv2.resize(small, (w, h), interpolation=interpolation)
