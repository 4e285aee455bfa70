"""Image operations: pure functions (array in, array out), plus one reader at the I/O edge."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


class ImageReadError(ValueError):
    """A PNG that cannot be decoded; the message names the file and what to do."""


def read_image(path: str | Path) -> np.ndarray:
    """Decode a PNG exactly as stored (8/16-bit, gray/BGR/BGRA; palettes come out as BGR)."""
    path = Path(path)
    buffer = np.fromfile(path, dtype=np.uint8) if path.exists() else None
    image = (
        None if buffer is None or buffer.size == 0 else cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
    )
    if image is None:
        state = "missing" if buffer is None else "empty or corrupt"
        raise ImageReadError(
            f"{path}: image file is {state}; re-extract it from datasets-PNG.zip, or remove it "
            "and its JSON to exclude the case."
        )
    return image


def to_gray(image: np.ndarray) -> np.ndarray:
    """8-bit single-channel gray from gray, BGR, BGRA (opaque alpha dropped) or 16-bit input."""
    if image.dtype == np.uint16:
        # Full 16-bit range -> 8 bits; CSXA films are 8-bit, but re-exported DICOMs may not be.
        image = (image.astype(np.uint32) * 255 + 32767) // 65535
        image = image.astype(np.uint8)
    elif image.dtype != np.uint8:
        raise ValueError(f"unsupported image dtype {image.dtype}; expected 8- or 16-bit PNG")
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] == 1:
        return image[:, :, 0]
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    raise ValueError(f"unsupported image shape {image.shape}; expected gray, BGR or BGRA")


def center_crop(gray: np.ndarray, size: int, pad_value: int = 0) -> np.ndarray:
    """The central size x size window; sides shorter than size are padded (not failed)."""
    height, width = gray.shape[:2]
    pad_y, pad_x = max(0, size - height), max(0, size - width)
    if pad_y or pad_x:
        gray = cv2.copyMakeBorder(
            gray,
            pad_y // 2,
            pad_y - pad_y // 2,
            pad_x // 2,
            pad_x - pad_x // 2,
            cv2.BORDER_CONSTANT,
            value=pad_value,
        )
        height, width = gray.shape[:2]
    top, left = (height - size) // 2, (width - size) // 2
    return gray[top : top + size, left : left + size]


def resize(image: np.ndarray, size: int) -> np.ndarray:
    """Square resize; area interpolation when shrinking (no aliasing), cubic when enlarging."""
    height, width = image.shape[:2]
    if (height, width) == (size, size):
        return image
    shrinking = size < min(height, width)
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    return cv2.resize(image, (size, size), interpolation=interpolation)
