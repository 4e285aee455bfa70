"""One set of film checks in the one reader every command uses (films.read_film): a blank or
near-constant film, an animated PNG whose default image is blank, and a film too large to decode
safely are refused with one line naming the file, instead of being trained, tested or decoded
at gigabytes."""

from __future__ import annotations

import struct
import zlib

import cv2
import numpy as np
import pytest

from csxa_lightning.data.films import read_film
from csxa_lightning.data.images import MAX_PIXELS, UnusableFilmError


def film(height: int = 64, width: int = 64) -> np.ndarray:
    return (np.arange(height * width).reshape(height, width) % 256).astype(np.uint8)


def test_a_blank_film_is_refused_naming_its_value(tmp_path):
    path = tmp_path / "0001130.png"
    cv2.imwrite(str(path), np.full((64, 64), 17, np.uint8))
    with pytest.raises(UnusableFilmError, match=rf"{path}: every pixel is 17 \(a blank film"):
        read_film(path)


def test_a_near_constant_film_is_refused_and_a_faint_one_is_kept(tmp_path):
    faint = tmp_path / "faint.png"
    cv2.imwrite(str(faint), (100 + film() % 4).astype(np.uint8))  # 4 grey levels
    with pytest.raises(UnusableFilmError, match=r"its values span only 100\.\.103"):
        read_film(faint)
    usable = tmp_path / "usable.png"
    cv2.imwrite(str(usable), (100 + film() % 8).astype(np.uint8))  # 8 grey levels: kept
    assert read_film(usable)[0].max() == 107


def test_a_blank_16_bit_film_is_refused_after_its_mapping_to_8_bits(tmp_path):
    path = tmp_path / "deep.png"
    cv2.imwrite(str(path), np.full((64, 64), 3000, np.uint16))
    with pytest.raises(UnusableFilmError, match="every pixel is"):
        read_film(path)


def test_an_animated_png_counts_by_its_default_image(tmp_path):
    path = tmp_path / "animated.png"
    animation = cv2.Animation()
    blank, shown = np.zeros((64, 64, 3), np.uint8), cv2.cvtColor(film(), cv2.COLOR_GRAY2BGR)
    animation.frames, animation.durations = [blank, shown], [100, 100]
    assert cv2.imwriteanimation(str(path), animation)
    assert b"acTL" in path.read_bytes()  # really animated
    with pytest.raises(UnusableFilmError, match="every pixel is 0"):
        read_film(path)


def test_a_decompression_bomb_is_refused_from_its_header_before_decoding(tmp_path):
    """A PNG whose header states 30000 x 30000 pixels: refused from the first 24 bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 30000, 30000, 8, 0, 0, 0, 0)  # 8-bit gray
    body = zlib.compress(b"\x00" * 30001 * 16)  # a few rows; the rest would be decoded as 0
    path = tmp_path / "bomb.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body)
                     + chunk(b"IEND", b""))  # fmt: skip
    assert MAX_PIXELS < 30000 * 30000
    with pytest.raises(UnusableFilmError, match=r"30000x30000 pixels \(900 megapixels, more "
                       r"than data.max_pixels=100000000\); not decoded"):  # fmt: skip
        read_film(path)


def test_data_max_pixels_sets_the_limit(tmp_path):
    path = tmp_path / "film.png"
    cv2.imwrite(str(path), film())  # 64 x 64 = 4096 pixels
    assert read_film(path, max_pixels=4096)[0].shape == (64, 64)
    with pytest.raises(UnusableFilmError, match=r"64x64 pixels .*more than data.max_pixels=4095"):
        read_film(path, max_pixels=4095)
