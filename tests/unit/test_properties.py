"""Property-based tests (hypothesis) for the keypoint parser and the image operations.

Arbitrary sizes, dtypes, boxes and landmark sets never crash (or fail with the documented
ValueError), and outputs always have the configured shape and dtype. Each property is checked
against a reference written here from the docstrings, not copied from the code under test.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

from csxa_lightning.data.annotations import LANDMARK_SPREAD_TOLERANCE, read_keypoints
from csxa_lightning.data.format_error import CSXAFormatError
from csxa_lightning.data.images import (
    box_crop,
    center_crop,
    crop_window,
    keypoint_box,
    to_gray,
)
from csxa_lightning.data.keypoints import KEYPOINT_LABELS
from csxa_lightning.data.preprocess import Preprocessor
from csxa_lightning.data.transforms import CenterCrop, EnhancedColor, GrayColor, KeypointCrop

FAST = settings(max_examples=60, deadline=None)
FLOAT_MAX = float(np.finfo(np.float64).max)


def reference_label(raw: str) -> str:
    """What a label means, written independently of `normalize_label`."""
    return " ".join(raw.split()).casefold()


CANONICAL = {reference_label(label) for label in KEYPOINT_LABELS}


# --- strategies -------------------------------------------------------------------------------


@st.composite
def random_pixels(draw, shape: tuple[int, ...], dtype) -> np.ndarray:
    """Uniform noise over the whole range of dtype (seeded by hypothesis, fast for big arrays)."""
    seed = draw(st.integers(0, 2**32 - 1))
    return np.random.default_rng(seed).integers(0, np.iinfo(dtype).max, shape, dtype, True)


@st.composite
def pngs_as_decoded(draw, max_side: int = 64) -> np.ndarray:
    """What cv2.imdecode may return: gray, gray with a channel axis, BGR or BGRA; 8 or 16 bit."""
    h, w = draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    channels = draw(st.sampled_from([None, 1, 3, 4]))
    dtype = draw(st.sampled_from([np.uint8, np.uint16]))
    return draw(random_pixels((h, w) if channels is None else (h, w, channels), dtype))


def gray_images(max_side: int) -> st.SearchStrategy[np.ndarray]:
    """2-D uint8 images of 1..max_side pixels per side."""
    sides = st.tuples(st.integers(1, max_side), st.integers(1, max_side))
    return sides.flatmap(lambda shape: random_pixels(shape, np.uint8))


def coordinates(limit: float = 1e300) -> st.SearchStrategy[float]:
    """Finite floats: mostly near a film's pixel range, sometimes huge (up to +-limit)."""
    return st.one_of(
        st.floats(-700, 1300, allow_nan=False),
        st.floats(-limit, limit, allow_nan=False, allow_infinity=False),
    )


@st.composite
def boxes(draw) -> tuple[float, float, float, float]:
    """(x_min, y_min, x_max, y_max), possibly outside the image, possibly of zero width/height."""
    xa, ya = draw(coordinates()), draw(coordinates())
    xb = draw(st.one_of(st.just(xa), coordinates()))
    yb = draw(st.one_of(st.just(ya), coordinates()))
    return min(xa, xb), min(ya, yb), max(xa, xb), max(ya, yb)


margins = st.one_of(st.floats(0, 200), st.floats(0, 1e12))


def spellings(label: str) -> st.SearchStrategy[str]:
    """label in random letter case, with random whitespace runs between and around the words."""
    words = label.split()
    gap = st.text(st.sampled_from(" \t\n\r\u00a0"), min_size=1, max_size=3)
    edge = st.one_of(st.just(""), gap)

    def spell(case_mask: int, gaps: list[str], lead: str, trail: str) -> str:
        cased = "".join(
            c.upper() if case_mask >> i & 1 else c.lower() for i, c in enumerate(" ".join(words))
        ).split(" ")
        return (
            lead + cased[0] + "".join(g + w for g, w in zip(gaps, cased[1:], strict=True)) + trail
        )

    gaps = st.lists(gap, min_size=len(words) - 1, max_size=len(words) - 1)
    return st.builds(spell, st.integers(0, 2 ** len(label) - 1), gaps, edge, edge)


unknown_labels = st.one_of(
    st.sampled_from(
        ["C1 centroid", "C2 top left", "C7 centroid", "C8 top left", "C2centroid", "centroid", ""]
    ),
    st.text(max_size=20),
).filter(lambda raw: reference_label(raw) not in CANONICAL)


def polygons(coordinate: st.SearchStrategy[float]) -> st.SearchStrategy[list[list[float]]]:
    """A LabelMe point (1 vertex) or polygon (2-4 vertices)."""
    return st.lists(st.tuples(coordinate, coordinate).map(list), min_size=1, max_size=4)


@st.composite
def labelme_shapes(draw, coordinate: st.SearchStrategy[float]):
    """Shapes of one LabelMe file and the points given per canonical label.

    Each canonical label appears 0-3 times (0: missing; 2-3: saved twice), each time as a point
    or a polygon, spelled in any case and spacing; shapes with no points, and shapes with
    unknown or no labels, are mixed in. Returns (shapes, {label: [[x, y], ...]}).
    """
    shapes, given_points = [], {}
    absent = draw(st.one_of(st.just(set()), st.sets(st.sampled_from(KEYPOINT_LABELS), max_size=4)))
    for label in KEYPOINT_LABELS:
        times = (
            st.just([])
            if label in absent
            else st.lists(polygons(coordinate), min_size=1, max_size=3)
        )
        for points in draw(times):
            shape_type = "point" if len(points) == 1 else "polygon"
            spelled = draw(spellings(label))
            shapes.append({"label": spelled, "points": points, "shape_type": shape_type})
            given_points.setdefault(label, []).extend(points)
        if draw(st.integers(0, 9)) == 0:  # a stray empty shape never counts as the landmark
            shapes.append({"label": draw(spellings(label)), "points": [], "shape_type": "point"})
    for _ in range(draw(st.integers(0, 4))):
        shape = {"points": draw(polygons(coordinate)), "shape_type": "polygon"}
        if draw(st.booleans()):
            shape["label"] = draw(unknown_labels)
        shapes.append(shape)
    return draw(st.permutations(shapes)), given_points


@pytest.fixture(scope="module")
def json_path(tmp_path_factory) -> Path:
    """One file name, rewritten by every example (module scope: fine with @given)."""
    return tmp_path_factory.mktemp("labelme") / "0001035.json"


def write_labelme(path: Path, shapes: list, **fields) -> Path:
    path.write_text(json.dumps({"shapes": shapes, "imageData": None, **fields}))
    return path


def reference_mean(points: list[list[float]]) -> tuple[float, float]:
    return tuple(math.fsum(p[i] for p in points) / len(points) for i in (0, 1))


def reference_spread(points: list[list[float]]) -> float:
    """The largest distance between two of the points (inf where it overflows)."""
    with np.errstate(over="ignore"):
        return max(
            (float(np.hypot(np.float64(a[0]) - b[0], np.float64(a[1]) - b[1]))
             for a in points for b in points),
            default=0.0,
        )  # fmt: skip


def close_to(got: float, want: float, points: list[list[float]]) -> bool:
    scale = max(abs(v) for p in points for v in p)
    return abs(got - want) <= 1e-12 * scale + 1e-12


# --- to_gray ----------------------------------------------------------------------------------


@FAST
@given(pngs_as_decoded())
def test_to_gray_gives_8_bit_2d_of_the_same_size(image):
    gray = to_gray(image)
    assert gray.dtype == np.uint8 and gray.shape == image.shape[:2]
    if image.ndim == 2 or image.shape[2] == 1:  # one channel: only the bit depth changes
        plane = image.reshape(image.shape[:2]).astype(np.float64)
        want = np.round(plane * 255 / 65535) if image.dtype == np.uint16 else plane
        assert (gray == want).all()


@FAST
@given(gray_images(64), st.sampled_from([np.uint8, np.uint16]), st.integers(0, 255))
def test_to_gray_of_equal_color_channels_is_that_gray_and_ignores_alpha(gray, dtype, alpha):
    plane = gray.astype(dtype) * (257 if dtype == np.uint16 else 1)
    bgr = np.stack([plane] * 3, axis=2)
    bgra = np.concatenate([bgr, np.full_like(plane, alpha)[..., None]], axis=2)
    assert (to_gray(bgr) == gray).all()
    assert (to_gray(bgra) == gray).all()


unsupported_dtypes = st.sampled_from(
    [np.int8, np.int16, np.int32, np.int64, np.uint32, np.uint64, np.float16, np.float32]
    + [np.float64, np.bool_, np.complex64]
)
unsupported_shapes = st.one_of(
    st.tuples(st.integers(1, 64)),
    st.tuples(st.integers(1, 16), st.integers(1, 16), st.sampled_from([0, 2, 5, 8])),
    st.tuples(*[st.integers(1, 8)] * 4),
    st.just(()),
)


@FAST
@given(gray_images(16), unsupported_dtypes)
def test_to_gray_refuses_other_dtypes_with_a_value_error(gray, dtype):
    with pytest.raises(ValueError, match="unsupported image dtype"):
        to_gray(gray.astype(dtype))


@FAST
@given(unsupported_shapes, st.sampled_from([np.uint8, np.uint16]))
def test_to_gray_refuses_other_shapes_with_a_value_error(shape, dtype):
    with pytest.raises(ValueError, match="unsupported image shape"):
        to_gray(np.zeros(shape, dtype))


# --- center_crop ------------------------------------------------------------------------------


def reference_center_crop(gray: np.ndarray, size: int) -> np.ndarray:
    """Per side: the middle `size` pixels of a longer side, a shorter side centered in zeros."""
    out = np.zeros((size, size), np.uint8)
    spans = []
    for n in gray.shape:
        if n >= size:
            spans.append((slice((n - size) // 2, (n - size) // 2 + size), slice(0, size)))
        else:
            spans.append((slice(0, n), slice((size - n) // 2, (size - n) // 2 + n)))
    (src_y, dst_y), (src_x, dst_x) = spans
    out[dst_y, dst_x] = gray[src_y, src_x]
    return out


@FAST
@given(gray_images(300), st.integers(1, 300))
def test_center_crop_is_size_by_size_the_middle_window_padded_with_zeros(gray, size):
    crop = center_crop(gray, size)
    assert crop.shape == (size, size) and crop.dtype == np.uint8
    assert (crop == reference_center_crop(gray, size)).all()
    height, width = gray.shape
    if height >= size and width >= size:
        top, left = (height - size) // 2, (width - size) // 2
        assert (crop == gray[top : top + size, left : left + size]).all()


# --- crop_window, box_crop, keypoint_box --------------------------------------------------------


@FAST
@given(boxes(), margins, margins, st.integers(1, 300), st.integers(1, 300))
def test_crop_window_covers_the_box_pixels_inside_the_image_or_names_the_box(
    box, margin_x, margin_y, width, height
):
    grown = (box[0] - margin_x, box[1] - margin_y, box[2] + margin_x, box[3] + margin_y)
    outside = (
        math.floor(grown[2]) < 0
        or math.floor(grown[3]) < 0
        or math.floor(grown[0]) >= width
        or math.floor(grown[1]) >= height
    )
    try:
        x0, y0, x1, y1 = crop_window(box, margin_x, margin_y, width, height)
    except ValueError as err:
        event("refused: box outside the image")
        assert outside, f"refused a box that overlaps the image: {err}"
        assert f"landmark box {box}" in str(err) and f"{width}x{height} image" in str(err)
        return
    assert not outside
    assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
    # Exactly the docstring: the grown box's pixels, clipped at the border.
    assert (x0, y0) == (max(0, math.floor(grown[0])), max(0, math.floor(grown[1])))
    assert (x1, y1) == (min(width, math.floor(grown[2]) + 1), min(height, math.floor(grown[3]) + 1))
    # Every pixel a box corner falls in, where that pixel is inside the image, is in the crop.
    pixels = np.arange(width * height).reshape(height, width)
    crop = box_crop(pixels, box, margin_x, margin_y)
    assert crop.shape == (y1 - y0, x1 - x0)
    for x in (box[0], box[2]):
        for y in (box[1], box[3]):
            if 0 <= x < width and 0 <= y < height:
                assert x0 <= math.floor(x) < x1 and y0 <= math.floor(y) < y1
                assert pixels[math.floor(y), math.floor(x)] in crop


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("where", range(6))
def test_crop_window_refuses_a_non_finite_box_or_margin_by_name(bad, where):
    values = [10.0, 20.0, 30.0, 40.0, 5.0, 5.0]
    values[where] = bad
    box, (margin_x, margin_y) = tuple(values[:4]), values[4:]
    with pytest.raises(ValueError, match=r"landmark box .* is not finite; the annotation has NaN"):
        crop_window(box, margin_x, margin_y, 100, 100)


@FAST
@given(
    st.dictionaries(
        st.sampled_from(KEYPOINT_LABELS), st.tuples(coordinates(), coordinates()), min_size=1
    )
)
def test_keypoint_box_is_the_tightest_box_around_the_landmarks(keypoints):
    x_min, y_min, x_max, y_max = keypoint_box(keypoints)
    xs, ys = [x for x, _ in keypoints.values()], [y for _, y in keypoints.values()]
    assert (x_min, y_min, x_max, y_max) == (min(xs), min(ys), max(xs), max(ys))


# --- Preprocessor -----------------------------------------------------------------------------


colors = st.one_of(
    st.just(GrayColor()),
    st.sampled_from(["both", "gray_eq_inv", "gray_inv_eq"]).map(EnhancedColor),
)


@st.composite
def preprocessors(draw) -> Preprocessor:
    """Any crop and color; the center crop often as large as the output (no resize)."""
    image_size = draw(st.integers(1, 96))
    crop = draw(
        st.one_of(
            st.builds(CenterCrop, size=st.one_of(st.just(image_size), st.integers(1, 600))),
            st.builds(KeypointCrop, margin_x=st.floats(0, 200), margin_y=st.floats(0, 200)),
        )
    )
    return Preprocessor(crop, draw(colors), image_size)


@st.composite
def landmarks_inside(draw, width: int, height: int) -> dict[str, tuple[float, float]]:
    """23 float landmarks anywhere on the image (0 <= x <= width, 0 <= y <= height)."""
    unit = st.floats(0, 1)
    return {label: (draw(unit) * width, draw(unit) * height) for label in KEYPOINT_LABELS}


def assert_monotone_map(source: np.ndarray, target: np.ndarray) -> None:
    """target is a non-decreasing function of source (what global equalization is)."""
    order = np.argsort(source.ravel(), kind="stable")
    assert (np.diff(target.ravel()[order].astype(int)) >= 0).all()
    assert len(set(zip(source.ravel(), target.ravel(), strict=True))) == len(np.unique(source))


@FAST
@given(preprocessors(), pngs_as_decoded(max_side=200), st.data())
def test_model_input_always_has_the_configured_shape_and_dtype(preprocessor, image, data):
    height, width = image.shape[:2]
    keypoints = data.draw(landmarks_inside(width, height))
    crop, size = preprocessor.crop, preprocessor.image_size
    box = keypoint_box(keypoints)
    degenerate = box[2] - box[0] < 1 or box[3] - box[1] < 1
    event(f"{type(crop).__name__}, {type(preprocessor.color).__name__}")
    if isinstance(crop, KeypointCrop) and degenerate:  # the one documented refusal
        event("refused: degenerate landmark box")
        with pytest.raises(ValueError, match="degenerate box"):
            preprocessor(image, keypoints)
        return
    out = preprocessor(image, keypoints)
    channels = 1 if isinstance(preprocessor.color, GrayColor) else 3
    assert out.dtype == np.uint8
    assert out.shape == (len(preprocessor.color.variants), channels, size, size)

    # The gray channel does not depend on the color group.
    gray_only = Preprocessor(crop, GrayColor(), size)(image, keypoints)
    assert (out[:, 0] == gray_only[0, 0]).all()
    if isinstance(preprocessor.color, EnhancedColor):
        order = {"gray_eq_inv": (0, 1, 2), "gray_inv_eq": (0, 2, 1)}
        planes = {}  # channel name -> plane; the same name must give the same plane everywhere
        for variant, name in zip(out, preprocessor.color.variants, strict=True):
            g, e, i = (variant[k] for k in order[name])
            for key, plane in (("gray", g), ("equalized", e), ("inverted", i)):
                assert (planes.setdefault(key, plane) == plane).all()

    cropped = crop(to_gray(image), keypoints)
    if cropped.shape == (size, size):  # no resize: the channels are exact
        event("no resize")
        assert (out[:, 0] == cropped).all()
        if isinstance(preprocessor.color, EnhancedColor):
            assert (planes["inverted"] == 255 - cropped).all()
            assert_monotone_map(cropped, planes["equalized"])


# --- read_keypoints ---------------------------------------------------------------------------


@FAST
@given(labelme_shapes(coordinates()))
def test_keypoints_are_the_mean_of_what_was_given_or_name_every_missing_label(
    json_path, shapes_and_points
):
    shapes, given_points = shapes_and_points
    write_labelme(json_path, shapes)
    missing = [label for label in KEYPOINT_LABELS if label not in given_points]
    event("some label missing" if missing else "all 23 given")
    if missing:
        with pytest.raises(CSXAFormatError) as err:
            read_keypoints(json_path)
        assert str(json_path) in str(err.value)
        assert f"missing landmark(s) {missing}" in str(err.value)
        return
    # A label given at points farther than the tolerance from their mean is refused, not
    # averaged (the first such label, in the canonical order).
    spreads = {label: reference_spread(given_points[label]) for label in KEYPOINT_LABELS}
    assume(all(not math.isclose(s, LANDMARK_SPREAD_TOLERANCE) for s in spreads.values()))
    far = [label for label in KEYPOINT_LABELS if spreads[label] > LANDMARK_SPREAD_TOLERANCE]
    event("a label given far apart" if far else "copies close together")
    if far:
        with pytest.raises(CSXAFormatError, match=f"landmark {far[0]!r} is given"):
            read_keypoints(json_path)
        return
    keypoints = read_keypoints(json_path)
    assert list(keypoints) == list(KEYPOINT_LABELS)
    for label, (x, y) in keypoints.items():
        points = given_points[label]
        want_x, want_y = reference_mean(points)
        assert close_to(x, want_x, points) and close_to(y, want_y, points), label


@FAST
@given(st.integers(1, 2000), st.integers(1, 2000), st.data())
def test_keypoints_inside_the_stated_image_size_are_accepted_others_named(
    json_path, width, height, data
):
    inside = st.tuples(st.floats(-1, width + 1), st.floats(-1, height + 1)).map(list)
    far = st.floats(2, 1e6)
    moved = data.draw(st.sets(st.sampled_from(KEYPOINT_LABELS), max_size=3))
    shapes = []
    for label in KEYPOINT_LABELS:
        x, y = data.draw(inside)
        if label in moved:  # pushed off one side of the image, beyond the pixel of slack
            side = data.draw(st.sampled_from(["left", "right", "top", "bottom"]))
            shift = data.draw(far)
            x = {"left": -shift, "right": width + shift}.get(side, x)
            y = {"top": -shift, "bottom": height + shift}.get(side, y)
        shapes.append({"label": label, "points": [[x, y]], "shape_type": "point"})
    write_labelme(json_path, shapes, imageWidth=width, imageHeight=height)
    if not moved:
        assert list(read_keypoints(json_path)) == list(KEYPOINT_LABELS)
        return
    named = [label for label in KEYPOINT_LABELS if label in moved]
    with pytest.raises(CSXAFormatError, match="outside") as err:
        read_keypoints(json_path)
    assert f"landmark(s) {named} lie outside the {width}x{height} image" in str(err.value)


non_finite = st.sampled_from([math.nan, math.inf, -math.inf])


@FAST
@given(
    st.dictionaries(
        st.sampled_from(KEYPOINT_LABELS),
        st.tuples(st.integers(0, 1), non_finite),
        min_size=1,
        max_size=5,
    ),
    st.booleans(),
)
def test_nan_or_infinite_coordinates_are_a_clear_error_naming_the_landmarks(
    json_path, spoiled, with_size
):
    """JSON files may hold NaN/Infinity (Python's json writes and reads them); never silent."""
    shapes = []
    for i, label in enumerate(KEYPOINT_LABELS):
        xy = [10.0 + i, 20.0 + i]
        if label in spoiled:
            axis, value = spoiled[label]
            xy[axis] = value
        shapes.append({"label": label, "points": [xy, [11.0 + i, 21.0 + i]]})
    size = {"imageWidth": 600, "imageHeight": 800} if with_size else {}
    write_labelme(json_path, shapes, **size)
    named = [label for label in KEYPOINT_LABELS if label in spoiled]
    with pytest.raises(CSXAFormatError) as err:
        read_keypoints(json_path)
    assert f"landmark(s) {named} have non-numeric coordinates (NaN or infinite)" in str(err.value)


@settings(max_examples=10, deadline=None)
@given(
    st.sampled_from(KEYPOINT_LABELS),
    st.floats(1e308, FLOAT_MAX),
    st.integers(2, 4),
)
def test_finite_coordinates_of_any_size_average_to_a_finite_mean(json_path, label, x, copies):
    # The same landmark saved 2-4 times near the float maximum: the sum of the copies
    # overflows, their mean must not (copies far apart are refused: the test above).
    xs = [x] * copies
    shapes = [
        {"label": other, "points": [[1.0, 2.0]]} for other in KEYPOINT_LABELS if other != label
    ]
    shapes += [{"label": label, "points": [[x, 5.0]]} for x in xs]
    write_labelme(json_path, shapes)
    with np.errstate(over="ignore"):
        mean, _ = read_keypoints(json_path)[label]
    assert math.isfinite(mean) and mean == pytest.approx(x, rel=1e-15)
