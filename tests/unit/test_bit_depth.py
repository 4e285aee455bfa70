"""16-bit films mapped to 8 bits by their real depth: sBIT, else the depth that holds the
film's maximum, or data.bit_depth; full-range 16-bit films stay as they were."""

from __future__ import annotations

import logging
import struct
import zlib

import cv2
import numpy as np
import pytest

from csxa_lightning.data import cache
from csxa_lightning.data.cache import cached_inputs, fingerprint
from csxa_lightning.data.csxa import load_index
from csxa_lightning.data.films import read_film
from csxa_lightning.data.images import (
    film_bit_depth,
    png_significant_bits,
    read_image,
    to_gray,
)
from csxa_lightning.data.preprocess import Preprocessor
from tests.helpers import PHANTOM_N


def ramp(top: int) -> np.ndarray:
    """A 16-bit film whose values run evenly over 0..top (every value of 0..4095 for 4095)."""
    return np.linspace(0, top, 256 * 256).round().astype(np.uint16).reshape(256, 256)


def with_sbit(png: bytes, *bits: int) -> bytes:
    """The PNG with an sBIT chunk right after IHDR (8-byte signature + 25-byte IHDR chunk)."""
    payload = b"sBIT" + bytes(bits)
    chunk = struct.pack(">I", len(bits)) + payload + struct.pack(">I", zlib.crc32(payload))
    return png[:33] + chunk + png[33:]


def write(path, image: np.ndarray, *sbit: int) -> None:
    png = cv2.imencode(".png", image)[1].tobytes()
    path.write_bytes(with_sbit(png, *sbit) if sbit else png)


def test_a_12_bit_film_keeps_its_full_range_of_grey_levels(tmp_path):
    write(tmp_path / "f.png", ramp(4095))
    film, depth = read_film(tmp_path / "f.png")
    assert depth == 12
    assert (film.min(), film.max(), len(np.unique(film))) == (0, 255, 256)
    # What it was before: scaled as 0..65535, the film had 17 grey levels.
    assert len(np.unique(to_gray(read_image(tmp_path / "f.png")))) == 17


def test_full_range_16_bit_films_stay_as_they_were(tmp_path):
    write(tmp_path / "f.png", ramp(65535))
    film, depth = read_film(tmp_path / "f.png")
    assert depth == 16
    assert np.array_equal(film, to_gray(read_image(tmp_path / "f.png")))


def test_sbit_is_honoured_over_the_films_maximum(tmp_path):
    """10-bit values in a file whose sBIT says 12: the film is dark, as its maker said."""
    write(tmp_path / "f.png", ramp(1023), 12)
    assert png_significant_bits((tmp_path / "f.png").read_bytes()) == 12
    film, depth = read_film(tmp_path / "f.png")
    assert depth == 12 and film.max() == 64  # 1023 of 4095
    write(tmp_path / "g.png", ramp(1023))  # the same film without sBIT: 10 bits, full range
    assert read_film(tmp_path / "g.png")[0].max() == 255


@pytest.mark.parametrize(("bit_depth", "top"), [(16, 16), (10, 255), (12, 255)])
def test_data_bit_depth_overrides_the_films_depth(tmp_path, bit_depth, top):
    write(tmp_path / "f.png", ramp(4095))
    film, depth = read_film(tmp_path / "f.png", bit_depth)
    assert depth == bit_depth and film.max() == top
    if bit_depth == 10:  # values above 10 bits saturate
        assert (film == 255).mean() > 0.7


def test_8_bit_films_are_used_as_stored(tmp_path):
    gray = np.arange(256, dtype=np.uint8).reshape(16, 16)
    cv2.imwrite(str(tmp_path / "f.png"), gray)
    film, depth = read_film(tmp_path / "f.png", 12)
    assert depth == 8 and np.array_equal(film, gray)


def test_alpha_counts_neither_in_sbit_nor_in_the_maximum():
    colour = ramp(4095)
    bgra = np.dstack([colour, colour, colour, np.full_like(colour, 65535)])
    assert film_bit_depth(bgra) == 12
    png = cv2.imencode(".png", bgra)[1].tobytes()
    assert png_significant_bits(with_sbit(png, 10, 10, 10, 16)) == 10
    assert png_significant_bits(png) is None
    assert png_significant_bits(b"not a png at all, but long enough to be read") is None


def test_the_cache_counts_films_per_depth_and_warns_when_they_mix(phantom_copy, tmp_path, caplog):
    index = load_index(phantom_copy)
    for path in index["png_path"][:2]:
        gray = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
        cv2.imwrite(path, (gray.astype(np.uint32) * 4095 // 255).astype(np.uint16))
    preprocessor = Preprocessor(image_size=32)
    with caplog.at_level(logging.INFO, logger=cache.__name__):
        entry = cached_inputs(index, preprocessor, tmp_path, workers=1)
    assert entry.depths == {8: PHANTOM_N - 2, 12: 2}
    messages = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert (
        "INFO",
        f"films by bit depth (data.bit_depth=auto): 8-bit {PHANTOM_N - 2}, 12-bit 2",
    ) in messages
    assert any(level == "WARNING" and "mix bit depths" in m for level, m in messages)
    # data.bit_depth changes the pixels: another cache entry
    sixteen = Preprocessor(image_size=32, bit_depth=16)
    assert fingerprint(index, sixteen) != fingerprint(index, preprocessor)
    again = cached_inputs(index, sixteen, tmp_path, workers=1)
    assert again.depths == {8: PHANTOM_N - 2, 16: 2}
    assert not np.array_equal(again.read([0, 1]), entry.read([0, 1]))
