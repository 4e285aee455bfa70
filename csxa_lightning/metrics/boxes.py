"""Boxes: how much two crop windows of one film overlap (intersection over union). Pure."""

from __future__ import annotations

import numpy as np


def box_iou(first, second) -> np.ndarray:
    """IoU of each pair of (x0, y0, x1, y1) end-exclusive boxes, (N, 4) and (N, 4) -> (N,);
    0 for boxes that do not touch, NaN where a box is NaN (unknown)."""
    a, b = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    if a.shape != b.shape or a.shape[-1:] != (4,):
        raise ValueError(
            f"box_iou takes two (N, 4) arrays of the same shape, got {a.shape} and {b.shape}"
        )
    width = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    height = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = width * height
    with np.errstate(invalid="ignore", divide="ignore"):
        return inter / (box_area(a) + box_area(b) - inter)


def box_area(box: np.ndarray) -> np.ndarray:
    return (box[..., 2] - box[..., 0]) * (box[..., 3] - box[..., 1])
