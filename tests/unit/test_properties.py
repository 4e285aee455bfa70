"""Property-based tests (hypothesis): arbitrary sizes, dtypes, boxes and landmark sets never
crash the image operations or the keypoint parser, and outputs keep their configured shape."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from csxa_lightning.data.csxa import CSXAFormatError, read_keypoints
from csxa_lightning.data.images import center_crop, crop_window, to_gray
from csxa_lightning.data.keypoints import KEYPOINT_LABELS
from csxa_lightning.data.preprocess import Preprocessor
from csxa_lightning.data.transforms import CenterCrop, EnhancedColor, GrayColor, KeypointCrop

FAST = settings(max_examples=60, deadline=None)


@st.composite
def images(draw, max_side: int = 64) -> np.ndarray:
    """Gray, gray with a channel axis, BGR or BGRA; 8 or 16 bit."""
    h, w = draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    channels = draw(st.sampled_from([None, 1, 3, 4]))
    dtype = draw(st.sampled_from([np.uint8, np.uint16]))
    shape = (h, w) if channels is None else (h, w, channels)
    seed = draw(st.integers(0, 2**31))
    return np.random.default_rng(seed).integers(0, np.iinfo(dtype).max + 1, shape, dtype=dtype)


@FAST
@given(images())
def test_to_gray_gives_8_bit_2d_of_the_same_size(image):
    gray = to_gray(image)
    assert gray.dtype == np.uint8 and gray.shape == image.shape[:2]


@FAST
@given(st.integers(1, 300), st.integers(1, 300), st.integers(1, 300))
def test_center_crop_is_always_size_by_size(height, width, size):
    gray = np.full((height, width), 7, np.uint8)
    crop = center_crop(gray, size)
    assert crop.shape == (size, size) and crop.dtype == np.uint8
    assert (crop == 7).sum() == min(height, size) * min(width, size)  # the rest is padding


coordinate = st.floats(-500, 1500, allow_nan=False)


@FAST
@given(coordinate, coordinate, coordinate, coordinate, st.floats(0, 200), st.floats(0, 200))
def test_crop_window_is_inside_the_image_or_a_clear_error(x0, y0, x1, y1, mx, my):
    box = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
    try:
        left, top, right, bottom = crop_window(box, mx, my, 700, 900)
    except ValueError as err:
        assert "lies outside" in str(err)
        return
    assert 0 <= left < right <= 700 and 0 <= top < bottom <= 900


@st.composite
def preprocessors(draw) -> Preprocessor:
    crop = draw(
        st.one_of(
            st.builds(CenterCrop, size=st.integers(1, 600)),
            st.builds(KeypointCrop, margin_x=st.floats(0, 200), margin_y=st.floats(0, 200)),
        )
    )
    color = draw(
        st.one_of(
            st.just(GrayColor()),
            st.sampled_from(["both", "gray_eq_inv", "gray_inv_eq"]).map(EnhancedColor),
        )
    )
    return Preprocessor(crop, color, draw(st.integers(1, 96)))


@FAST
@given(preprocessors(), images(max_side=200), st.integers(0, 2**31))
def test_model_input_always_has_the_configured_shape(preprocessor, image, seed):
    h, w = image.shape[:2]
    rng = np.random.default_rng(seed)
    points = {label: (rng.uniform(0, w), rng.uniform(0, h)) for label in KEYPOINT_LABELS}
    try:
        out = preprocessor(image, points)
    except ValueError as err:  # only a landmark box too thin to crop may be refused
        assert "degenerate box" in str(err)
        return
    size = preprocessor.image_size
    assert out.dtype == np.uint8
    assert out.shape == (len(preprocessor.variants), preprocessor.channels, size, size)


point = st.tuples(st.floats(0, 600), st.floats(0, 800))
spelling = st.tuples(st.booleans(), st.integers(0, 3))  # upper case?, extra spaces


@FAST
@given(
    st.lists(
        st.lists(
            st.tuples(spelling, st.lists(point, min_size=1, max_size=4)), min_size=1, max_size=2
        ),
        min_size=len(KEYPOINT_LABELS),
        max_size=len(KEYPOINT_LABELS),
    ),
    st.sets(st.sampled_from(KEYPOINT_LABELS), max_size=3),
)
def test_keypoints_are_the_mean_of_what_was_given_or_name_what_is_missing(per_label, dropped):
    """Every label given 1-2 times (duplicates), as points or polygons, in any case and
    spacing; a few labels possibly left out."""
    given_points: dict[str, list] = {}
    doc_shapes = []
    for label, shapes in zip(KEYPOINT_LABELS, per_label, strict=True):
        if label in dropped:
            continue
        for (upper, spaces), points in shapes:
            spelled = (label.upper() if upper else label).replace(" ", " " * (spaces + 1))
            doc_shapes.append(
                {
                    "label": " " * spaces + spelled,
                    "points": [list(p) for p in points],
                    "shape_type": "polygon" if len(points) > 1 else "point",
                }
            )
            given_points.setdefault(label, []).extend(points)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "0001035.json"
        path.write_text(json.dumps({"shapes": doc_shapes, "imageWidth": 600, "imageHeight": 800}))
        if dropped:
            with pytest.raises(CSXAFormatError) as err:
                read_keypoints(path)
            assert "0001035.json" in str(err.value)
            assert all(repr(label) in str(err.value) for label in dropped)
            return
        keypoints = read_keypoints(path)
    assert list(keypoints) == list(KEYPOINT_LABELS)
    for label, xy in keypoints.items():
        assert xy == pytest.approx(tuple(np.mean(given_points[label], axis=0)))
