"""What the acquisition leaves on the film outside the anatomy: ruler, collimation, text, frame.

The calibration ruler and the collimation edges are radiographed, so they go into the float32
attenuation image before exposure. The black digitisation frame and the burned-in text (side
marker, date, patient id) are written into the exposed uint8 image afterwards. Every function
changes ``image`` in place and draws all its randomness from ``rng``.
"""

from __future__ import annotations

import cv2
import numpy as np


def _ruler_patch(rng: np.random.Generator, length: int, breadth: int) -> np.ndarray:
    """A horizontal ruler strip (length x breadth): faint body, dense ticks every few px."""
    patch = np.zeros((breadth, length), np.uint8)
    patch[:] = int(rng.integers(70, 130))
    pitch = rng.uniform(7.0, 11.0)
    tick_value = int(rng.integers(200, 256))
    for k in range(int(length / pitch)):
        x = int(round(4 + k * pitch))
        size = 0.75 if k % 10 == 0 else 0.5 if k % 5 == 0 else 0.3
        cv2.line(patch, (x, 0), (x, int(size * breadth)), tick_value, 1)
        if k % 10 == 0 and k > 0 and x + 16 < length:
            cv2.putText(
                patch,
                str(k // 10),
                (x + 2, breadth - 3),
                cv2.FONT_HERSHEY_PLAIN,
                breadth / 36,
                tick_value,
                1,
                cv2.LINE_AA,
            )
    return patch


def add_ruler(rng: np.random.Generator, image: np.ndarray) -> None:
    """Calibration ruler radiographed along one image edge."""
    h, w = image.shape
    edge = int(rng.integers(4))  # left, right, top, bottom
    along = h if edge < 2 else w
    length = int(along * rng.uniform(0.35, 0.75))
    breadth = int(rng.integers(20, 34))
    patch = _ruler_patch(rng, length, breadth).astype(np.float32) / 255.0 * 0.85
    start = int(rng.integers(int(0.05 * along), along - length - int(0.05 * along)))
    gap = int(rng.uniform(0.015, 0.05) * (w if edge < 2 else h))
    if edge < 2:
        patch = patch.T if edge == 0 else patch.T[:, ::-1]
        x0 = gap if edge == 0 else w - gap - breadth
        region = image[start : start + length, x0 : x0 + breadth]
    else:
        patch = patch if edge == 3 else patch[::-1]
        y0 = gap if edge == 2 else h - gap - breadth
        region = image[y0 : y0 + breadth, start : start + length]
    np.maximum(region, patch, out=region)


def add_collimation(rng: np.random.Generator, image: np.ndarray) -> None:
    """Shutter edges: the region outside the collimated field stays nearly unexposed (bright)."""
    h, w = image.shape
    level = rng.uniform(0.75, 0.95)
    for side in range(4):
        if rng.random() > 0.5:
            continue
        depth = int(rng.uniform(0.02, 0.07) * (w if side < 2 else h))
        if side == 0:
            image[:, :depth] = level
        elif side == 1:
            image[:, w - depth :] = level
        elif side == 2:
            image[:depth, :] = level
        else:
            image[h - depth :, :] = level


def burn_in_text(rng: np.random.Generator, image: np.ndarray) -> None:
    """Side marker, acquisition date and a hospital-style patient id in the corners."""
    h, w = image.shape
    scale = min(h, w) / 800
    value = int(rng.integers(200, 256))
    corners = rng.permutation(4)
    marker = "L" if rng.random() < 0.5 else "R"
    date = f"{rng.integers(2008, 2024)}-{rng.integers(1, 13):02d}-{rng.integers(1, 29):02d}"
    patient = f"ID {rng.integers(10**6, 10**7)}  HOSP-{rng.integers(1, 9)}"
    for text, corner, size, weight in (
        (marker, corners[0], 2.2 * scale, 4),
        (date, corners[1], 0.8 * scale, 2),
        (patient, corners[2], 0.7 * scale, 2),
    ):
        (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, size, weight)
        mx, my = int(rng.uniform(0.03, 0.08) * w), int(rng.uniform(0.03, 0.08) * h)
        x = mx if corner % 2 == 0 else w - mx - tw
        y = my + th if corner < 2 else h - my
        cv2.putText(image, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, size, value, weight, cv2.LINE_AA)
        if text == marker:  # lead markers usually sit in a box
            cv2.rectangle(image, (x - 6, y - th - 6), (x + tw + 6, y + 6), value, 2)


def add_black_frame(rng: np.random.Generator, image: np.ndarray) -> None:
    """Digitisation padding: a black border of a few to tens of pixels."""
    t = int(rng.integers(4, 30))
    image[:t], image[-t:], image[:, :t], image[:, -t:] = 0, 0, 0, 0
