"""The paper's crops and color variants, exact to the pixel."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from csxa_lightning.data.images import resize
from csxa_lightning.data.preprocess import Preprocessor
from csxa_lightning.data.transforms import (
    CenterCrop,
    CropError,
    EnhancedColor,
    GrayColor,
    KeypointCrop,
)

HEIGHT, WIDTH = 900, 700


@pytest.fixture
def film():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(HEIGHT, WIDTH), dtype=np.uint8)


def landmarks(x_min, y_min, x_max, y_max):
    """23 points whose bounding box is exactly the given one (plus points inside)."""
    points = {
        "a": (x_min, (y_min + y_max) / 2),
        "b": ((x_min + x_max) / 2, y_min),
        "c": (x_max, (y_min + y_max) / 2),
        "d": ((x_min + x_max) / 2, y_max),
    }
    points |= {f"in{i}": (x_min + 1 + i, y_min + 2 + i) for i in range(19)}
    return points


def test_tight_crop_is_the_landmark_box(film):
    crop = KeypointCrop()(film, landmarks(100, 200, 300, 650))
    assert crop.shape == (451, 201)
    assert (crop == film[200:651, 100:301]).all()


def test_fractional_landmarks_keep_the_pixels_they_fall_in(film):
    crop = KeypointCrop()(film, landmarks(100.7, 200.2, 299.5, 649.9))
    assert (crop == film[200:650, 100:300]).all()


def test_wide_crop_adds_margins(film):
    crop = KeypointCrop(margin_x=50, margin_y=100, name="wide")(film, landmarks(100, 200, 300, 650))
    assert crop.shape == (451 + 200, 201 + 100)
    assert (crop == film[100:751, 50:351]).all()


def test_wide_crop_is_clipped_at_the_border(film):
    crop = KeypointCrop(margin_x=50, margin_y=100, name="wide")(
        film, landmarks(20, 40, WIDTH - 10, HEIGHT - 60)
    )
    # "up to" the margins: 20 px left, 40 above, 9 right, 59 below are all there is
    assert (crop == film[0:HEIGHT, 0:WIDTH]).all()


def test_center_crop_is_the_middle_500(film):
    assert (CenterCrop(500)(film) == film[200:700, 100:600]).all()


def test_enhanced_channels_are_opencv_equalization_and_inversion(film):
    window = film[200:651, 100:301]
    size = 300
    both = Preprocessor(KeypointCrop(), EnhancedColor("both"), image_size=size)
    out = both(film, landmarks(100, 200, 300, 650))
    assert out.shape == (2, 3, size, size)
    gray, eq, inv = (resize(c, size) for c in (window, cv2.equalizeHist(window), 255 - window))
    for got, expected in zip(out[0], (gray, eq, inv), strict=True):
        assert (got == expected).all()
    for got, expected in zip(out[1], (gray, inv, eq), strict=True):
        assert (got == expected).all()
    one = Preprocessor(KeypointCrop(), EnhancedColor("gray_inv_eq"), image_size=size)
    assert (one(film, landmarks(100, 200, 300, 650)) == out[1:]).all()


def test_equalization_happens_before_resize(film):
    """crop > color > resize: equalizing the resized image would give other pixels."""
    crop = film[200:700, 100:600]
    out = Preprocessor(CenterCrop(500), EnhancedColor("gray_eq_inv"), image_size=64)(film)
    assert (out[0, 1] == resize(cv2.equalizeHist(crop), 64)).all()
    assert not (out[0, 1] == cv2.equalizeHist(resize(crop, 64))).all()


def test_gray_variant_is_one_channel(film):
    out = Preprocessor(CenterCrop(500), GrayColor(), image_size=224)(film)
    assert out.shape == (1, 1, 224, 224)
    assert (out[0, 0] == resize(film[200:700, 100:600], 224)).all()


def test_unknown_channel_order_is_named():
    with pytest.raises(ValueError, match="color.orders='rgb'"):
        EnhancedColor("rgb")


def test_crop_without_landmarks_is_an_error(film):
    with pytest.raises(CropError, match="crop=tight needs the landmarks"):
        KeypointCrop()(film, None)


def test_degenerate_landmark_box_is_an_error(film):
    flat = {f"p{i}": (100.0 + i, 300.0) for i in range(23)}  # all on one row: zero height
    with pytest.raises(ValueError, match="degenerate box"):
        KeypointCrop()(film, flat)


def test_a_crop_names_its_window_on_the_film():
    """preview draws each crop's box from crop.window, without knowing which crop it is."""
    gray = np.arange(300 * 400, dtype=np.uint32).reshape(300, 400).astype(np.uint8)
    keypoints = {"a": (100.2, 80.7), "b": (180.9, 200.1)}
    for crop in (CenterCrop(size=100), KeypointCrop(), KeypointCrop(margin_x=10, margin_y=20)):
        x0, y0, x1, y1 = crop.window(*gray.shape, keypoints)
        assert (crop(gray, keypoints) == gray[y0:y1, x0:x1]).all()
