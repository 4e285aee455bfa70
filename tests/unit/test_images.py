"""Image reading and the base crop: gray from every PNG flavour, padding, clear errors."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from csxa_lightning.data.images import ImageReadError, center_crop, read_image, resize, to_gray
from csxa_lightning.data.preprocess import Preprocessor


@pytest.fixture
def gray():
    return np.arange(600 * 700, dtype=np.uint32).reshape(700, 600).__mod__(251).astype(np.uint8)


def test_gray_from_rgba_rgb_16bit_and_palette(tmp_path, gray):
    cv2.imwrite(str(tmp_path / "rgba.png"), cv2.cvtColor(gray, cv2.COLOR_GRAY2BGRA))
    cv2.imwrite(str(tmp_path / "rgb.png"), cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR))
    cv2.imwrite(str(tmp_path / "g16.png"), gray.astype(np.uint16) * 257)
    Image.fromarray(gray).convert("P").save(tmp_path / "pal.png")
    for name in ("rgba", "rgb", "g16", "pal"):
        out = to_gray(read_image(tmp_path / f"{name}.png"))
        assert out.dtype == np.uint8 and out.shape == gray.shape, name
        assert np.abs(out.astype(int) - gray).max() <= 1, name


def test_corrupt_and_missing_png_name_the_file(tmp_path):
    bad = tmp_path / "0001035.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(ImageReadError, match=r"0001035\.png.*corrupt"):
        read_image(bad)
    with pytest.raises(ImageReadError, match=r"0002035\.png.*missing"):
        read_image(tmp_path / "0002035.png")


def test_center_crop_takes_the_middle(gray):
    crop = center_crop(gray, 500)
    assert crop.shape == (500, 500)
    assert (crop == gray[100:600, 50:550]).all()


def test_center_crop_pads_small_films_instead_of_failing():
    small = np.full((300, 450), 200, np.uint8)
    crop = center_crop(small, 500)
    assert crop.shape == (500, 500)
    assert (crop[100:400, 25:475] == 200).all()
    assert crop[:100].max() == 0 and crop[:, :25].max() == 0


def test_base_preprocess_gives_one_channel_model_input(gray):
    rgba = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGRA)
    out = Preprocessor(image_size=64)(rgba)  # defaults: crop=none, color=none
    assert out.shape == (1, 1, 64, 64) and out.dtype == np.uint8
    expected = resize(gray[100:600, 50:550], 64)
    assert (out[0, 0] == expected).all()
