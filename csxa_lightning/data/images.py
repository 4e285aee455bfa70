"""Image operations: pure functions (array in, array out), plus one reader at the I/O edge."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from csxa_lightning.utils.errors import UserError


class ImageReadError(UserError):
    """A PNG that cannot be decoded; the message names the file and what to do."""


class UnusableFilmError(ImageReadError):
    """A film that decodes but cannot be a radiograph: too many pixels to decode safely, or
    blank (one value, or nearly)."""


# data.max_pixels' default. Larger films are refused from the PNG header, before decoding: a
# 30000 x 30000 "decompression bomb" of under 1 MB is 900 MB per 8-bit channel once decoded
# (OpenCV's own limit, 2^30 pixels, lets it through). A lateral cervical film is far smaller.
MAX_PIXELS = 100_000_000
# A film whose 8-bit values span fewer grey levels than this shows no anatomy (a blank, an
# unexposed or a failed export); it would still train and be tested.
MIN_GREY_LEVELS = 8


def read_image(path: str | Path) -> np.ndarray:
    """Decode a PNG exactly as stored (8/16-bit, gray/BGR/BGRA; palettes come out as BGR)."""
    return _decode(Path(path))[1]


def read_png_film(
    path: str | Path, bit_depth: str | int = "auto", max_pixels: int = MAX_PIXELS
) -> tuple[np.ndarray, int]:
    """The PNG film with 8 bits per channel, and the depth its values were mapped from (every
    command reads films through films.read_film, which reads DICOM files too).

    8-bit films come as stored. A 16-bit film is mapped by its real depth: bit_depth when it
    is a number, else (auto) the PNG's sBIT chunk, else the smallest of 10/12/14/16 bits that
    holds the film's maximum -- 12-bit data of a DICOM export spans 0..4095, and scaling it as
    0..65535 would leave 16 grey levels."""
    buffer, image = _decode(Path(path), max_pixels)
    if image.dtype != np.uint16:
        return check_not_blank(path, image), 8
    depth = (
        int(bit_depth)
        if bit_depth != "auto"
        else film_bit_depth(image, png_significant_bits(buffer))
    )
    return check_not_blank(path, to_8bit(image, depth)), depth


def not_gray_uint8(array: object) -> str | None:
    """None for a 2-D uint8 array (a gray film); else what it is ("float64 of shape (2, 3)"),
    for the caller's message, which names what to pass instead."""
    if isinstance(array, np.ndarray) and array.ndim == 2 and array.dtype == np.uint8:
        return None
    dtype = getattr(array, "dtype", type(array).__name__)
    return f"{dtype} of shape {getattr(array, 'shape', None)}"


def check_not_blank(path: str | Path, image: np.ndarray) -> np.ndarray:
    """image, or UnusableFilmError when its values span fewer than MIN_GREY_LEVELS (of an
    animated PNG, the default image is what every reader decodes, so that is what counts). A
    film under MIN_GREY_LEVELS pixels a side is left to the size check (data.min_size), whose
    message says more about it."""
    if min(image.shape[:2]) < MIN_GREY_LEVELS:
        return image
    low, high = int(image.min()), int(image.max())
    if high - low + 1 < MIN_GREY_LEVELS:
        what = f"every pixel is {low}" if low == high else f"its values span only {low}..{high}"
        raise UnusableFilmError(
            f"{path}: {what} (a blank film, not a radiograph); re-extract it from "
            "datasets-PNG.zip, or remove it and its JSON to exclude the case."
        )
    return image


def _decode(path: Path, max_pixels: int = MAX_PIXELS) -> tuple[bytes, np.ndarray]:
    if path.is_symlink() and not path.exists():
        # Counted as missing, a dangling link would hide a file the user believes is there.
        raise ImageReadError(
            f"{path}: symbolic link to {os.readlink(path)}, which does not exist; copy the "
            "file itself into the dataset folder, or remove the link and its JSON to exclude "
            "the case."
        )
    buffer = np.fromfile(path, dtype=np.uint8) if path.exists() else None
    size = png_size(buffer[:24].tobytes()) if buffer is not None else None
    if size is not None and size[0] * size[1] > max_pixels:
        raise UnusableFilmError(
            f"{path}: {size[0]}x{size[1]} pixels ({size[0] * size[1] / 1e6:.0f} megapixels, "
            f"more than data.max_pixels={max_pixels}); not decoded. Is it a radiograph? Remove "
            "it, downscale it, or raise data.max_pixels."
        )
    # A PNG cut short is not handed to libpng, which would print its own "libpng error: PNG
    # input buffer is incomplete" on stderr before the line below says the same, with the fix.
    is_png = buffer is not None and buffer[:8].tobytes() == PNG_SIGNATURE
    decodable = buffer is not None and buffer.size > 0
    decodable = decodable and not (is_png and png_truncated(buffer[-1024:]))
    image = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED) if decodable else None
    if image is None:
        state = "missing" if buffer is None else "empty or corrupt"
        raise ImageReadError(
            f"{path}: image file is {state}; re-extract it from datasets-PNG.zip, or remove it "
            "and its JSON to exclude the case."
        )
    return buffer.tobytes(), image


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Depths a 16-bit film may hold: data.bit_depth's choices, and auto's candidates above 8.
BIT_DEPTHS = (8, 10, 12, 14, 16)


# The last chunk of every PNG: IEND, no data, and its CRC.
PNG_END = b"IEND\xaeB`\x82"


def png_truncated(tail: np.ndarray) -> bool:
    """Whether a PNG's last bytes lack the IEND chunk (the file was cut short). Only for a file
    that starts as a PNG; the caller passes its last KiB (bytes after IEND are tolerated)."""
    return PNG_END not in tail.tobytes()


def png_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG's IHDR, the first chunk (bytes 16..24: two big-endian
    4-byte integers); None for bytes that are not a PNG."""
    if not data.startswith(PNG_SIGNATURE) or len(data) < 24 or data[12:16] != b"IHDR":
        return None
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def png_significant_bits(data: bytes) -> int | None:
    """The largest significant bits of the colour channels in a PNG's sBIT chunk (alpha not
    counted: it is dropped); None without sBIT or for bytes that are not a PNG.

    PNG layout: the 8-byte signature, then chunks of a 4-byte big-endian data length, a 4-byte
    type, the data and a 4-byte CRC. IHDR comes first (its 10th data byte is the colour type);
    sBIT, where present, precedes the first IDAT."""
    if not data.startswith(PNG_SIGNATURE) or len(data) < 33:
        return None
    colour_channels = 1 if data[25] in (0, 4) else 3  # gray (+alpha), else RGB(A)/palette
    position = len(PNG_SIGNATURE)
    while position + 8 <= len(data):
        length = int.from_bytes(data[position : position + 4], "big")
        kind = data[position + 4 : position + 8]
        if kind == b"sBIT":
            payload = data[position + 8 : position + 8 + length][:colour_channels]
            return max(payload) if payload else None
        if kind in (b"IDAT", b"IEND"):
            return None
        position += 12 + length
    return None


def film_bit_depth(image: np.ndarray, significant_bits: int | None = None) -> int:
    """The depth a film's values span: 8 for 8-bit arrays; for 16-bit ones the PNG's sBIT when
    it is given (1..16), else the smallest of 10, 12, 14 or 16 bits that holds the film's
    maximum (alpha not counted: opaque alpha is 65535 whatever the film's depth)."""
    if image.dtype != np.uint16:
        return 8
    if significant_bits is not None and 1 <= significant_bits <= 16:
        return int(significant_bits)
    colour = image[..., :3] if image.ndim == 3 and image.shape[2] == 4 else image
    peak = int(colour.max()) if colour.size else 0
    return next(depth for depth in BIT_DEPTHS[1:] if peak < 1 << depth)


def to_8bit(image: np.ndarray, depth: int) -> np.ndarray:
    """16-bit values of a depth-bit film -> 8 bits: 0..2**depth - 1 onto 0..255, rounded;
    values above the depth's maximum (a film that is not what its depth says) saturate. With
    depth 16 this is the full-range mapping to_gray applies to 16-bit arrays."""
    if image.dtype == np.uint8:
        return image
    top = (1 << depth) - 1
    values = np.minimum(image.astype(np.uint32), top)
    return ((values * 255 + top // 2) // top).astype(np.uint8)


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
    """Square resize of a 2-D image: area interpolation when a side shrinks (no aliasing), cubic
    when both grow. Non-square crops are stretched, as the paper's 224 x 224 resize does."""
    height, width = image.shape[:2]
    if (height, width) == (size, size):
        return image
    shrinking = size < max(height, width)
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    return cv2.resize(image, (size, size), interpolation=interpolation)


def keypoint_box(keypoints: dict[str, tuple[float, float]]) -> tuple[float, float, float, float]:
    """(x_min, y_min, x_max, y_max) of the landmarks: the paper's tight crop box."""
    xy = np.asarray(list(keypoints.values()), dtype=np.float64)
    return (
        float(xy[:, 0].min()),
        float(xy[:, 1].min()),
        float(xy[:, 0].max()),
        float(xy[:, 1].max()),
    )


def crop_window(
    box: tuple[float, float, float, float],
    margin_x: float,
    margin_y: float,
    width: int,
    height: int,
) -> tuple[int, int, int, int]:
    """Pixel window (x0, y0, x1, y1), end-exclusive, of box grown by margin_x on the left and
    right and margin_y above and below, clipped at the image border ("up to" the margins, as
    the paper says). Landmarks are continuous coordinates; the window covers every pixel a
    landmark falls in: columns floor(x_min) .. floor(x_max) inclusive, likewise rows."""
    if not np.all(np.isfinite([*box, margin_x, margin_y])):
        raise ValueError(
            f"landmark box {box} with margins ({margin_x}, {margin_y}) is not finite; the "
            "annotation has NaN or infinite coordinates"
        )
    x0 = max(0, int(np.floor(box[0] - margin_x)))
    y0 = max(0, int(np.floor(box[1] - margin_y)))
    x1 = min(width, int(np.floor(box[2] + margin_x)) + 1)
    y1 = min(height, int(np.floor(box[3] + margin_y)) + 1)
    if x1 <= x0 or y1 <= y0:
        raise ValueError(
            f"landmark box {box} lies outside the {width}x{height} image; the annotation does "
            "not belong to this image"
        )
    return x0, y0, x1, y1


def box_crop(
    gray: np.ndarray,
    box: tuple[float, float, float, float],
    margin_x: float = 0.0,
    margin_y: float = 0.0,
) -> np.ndarray:
    """The pixels of crop_window(box, margins) (the tight crop with zero margins)."""
    height, width = gray.shape[:2]
    x0, y0, x1, y1 = crop_window(box, margin_x, margin_y, width, height)
    return gray[y0:y1, x0:x1]


def equalized(gray: np.ndarray) -> np.ndarray:
    """Histogram-equalized gray (OpenCV's global equalization)."""
    return cv2.equalizeHist(np.ascontiguousarray(gray))


def inverted(gray: np.ndarray) -> np.ndarray:
    return 255 - gray
