"""The phantom renderer: determinism, landmark geometry, disease signal and pixel contents."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from csxa_lightning.data.keypoints import KEYPOINT_LABELS
from csxa_lightning.phantom.render import render_radiograph

WIDTH, HEIGHT = 640, 760


def _render(seed: int, **overrides):
    kwargs = dict(
        width=WIDTH, height=HEIGHT, diseased=False, severity=0.0, curvature=1, inverted=False
    )
    kwargs.update(overrides)
    return render_radiograph(np.random.default_rng(seed), **kwargs)


def _disc_gaps(keypoints: dict[str, tuple[float, float]]) -> np.ndarray:
    """Vertical gap C(n) bottom -> C(n+1) top, mean of anterior and posterior side, per disc."""
    gaps = []
    for n in range(2, 7):
        sides = [
            keypoints[f"C{n + 1} top {s}"][1] - keypoints[f"C{n} bottom {s}"][1]
            for s in ("left", "right")
        ]
        gaps.append(np.mean(sides))
    return np.array(gaps)


def _mean_inside(image: np.ndarray, polygon: np.ndarray) -> float:
    mask = np.zeros(image.shape, np.uint8)
    cv2.fillPoly(mask, [np.round(polygon).astype(np.int32)], 1)
    assert mask.sum() > 20, "region too small to measure"
    return float(image[mask.astype(bool)].mean())


def _shrink(polygon: np.ndarray, factor: float) -> np.ndarray:
    center = polygon.mean(axis=0)
    return center + (polygon - center) * factor


def test_same_seed_gives_identical_output_and_different_seeds_differ():
    image_a, points_a = _render(7, diseased=True, severity=0.6, curvature=3)
    image_b, points_b = _render(7, diseased=True, severity=0.6, curvature=3)
    image_c, _ = _render(8, diseased=True, severity=0.6, curvature=3)
    assert np.array_equal(image_a, image_b)
    assert points_a == points_b
    assert not np.array_equal(image_a, image_c)


@pytest.mark.parametrize("curvature", [1, 2, 3, 4, 5])
def test_shape_dtype_and_all_labels_inside_the_image(curvature):
    image, points = _render(curvature, curvature=curvature, diseased=curvature > 2, severity=0.8)
    assert image.shape == (HEIGHT, WIDTH)
    assert image.dtype == np.uint8
    assert list(points) == list(KEYPOINT_LABELS)
    for label, (x, y) in points.items():
        assert isinstance(x, float) and isinstance(y, float), label
        assert 0 <= x < WIDTH and 0 <= y < HEIGHT, label


@pytest.mark.parametrize("seed", range(4))
def test_healthy_geometry_is_an_ordered_stack_of_bodies(seed):
    curvature = 1 + seed
    _, p = _render(seed, curvature=curvature)
    for n in range(3, 8):
        for side in ("left", "right"):
            assert p[f"C{n} top {side}"][1] < p[f"C{n} bottom {side}"][1]
        for edge in ("top", "bottom"):
            assert p[f"C{n} {edge} left"][0] < p[f"C{n} {edge} right"][0]  # anterior is left
    assert p["C2 bottom left"][0] < p["C2 bottom right"][0]
    assert p["C2 centroid"][1] < min(p["C2 bottom left"][1], p["C2 bottom right"][1])
    assert np.all(_disc_gaps(p) > 0)
    for n in range(2, 7):
        for side in ("left", "right"):
            assert p[f"C{n} bottom {side}"][1] < p[f"C{n + 1} top {side}"][1]


@pytest.mark.parametrize(("width", "height"), [(550, 700), (800, 950), (1000, 1100)])
def test_keypoint_box_leaves_margins_of_non_spine_content(width, height):
    _, points = _render(11, width=width, height=height, diseased=True, severity=1.0, curvature=5)
    xy = np.array(list(points.values()))
    (x0, y0), (x1, y1) = xy.min(axis=0), xy.max(axis=0)
    assert 0.3 * height < y1 - y0 < 0.65 * height
    assert x1 - x0 < 0.5 * width
    assert x0 > 0.05 * width and x1 < 0.95 * width
    assert y0 > 0.1 * height and y1 < 0.95 * height


def test_severe_disease_narrows_the_discs():
    healthy = [_disc_gaps(_render(s)[1]).mean() for s in range(10)]
    diseased = [
        _disc_gaps(_render(s, diseased=True, severity=1.0)[1]).mean() for s in range(100, 110)
    ]
    assert np.mean(diseased) < 0.85 * np.mean(healthy)


def test_inverted_is_exactly_the_negative():
    image, points = _render(3, diseased=True, severity=0.5, curvature=2)
    inverted, inverted_points = _render(3, diseased=True, severity=0.5, curvature=2, inverted=True)
    assert np.array_equal(inverted, 255 - image)
    assert inverted_points == points


def test_vertebral_body_is_brighter_than_disc_and_background():
    image, p = _render(5)
    c4 = np.array([p["C4 top left"], p["C4 top right"], p["C4 bottom right"], p["C4 bottom left"]])
    upper = np.array([p["C4 bottom left"], p["C4 bottom right"]])
    lower = np.array([p["C5 top left"], p["C5 top right"]])
    # Middle third of the disc, away from the bright endplate rims and the blur around them.
    disc_mid = np.concatenate(
        [upper + (lower - upper) / 3, (upper + 2 * (lower - upper) / 3)[::-1]]
    )
    body_mean = _mean_inside(image, _shrink(c4, 0.7))
    assert body_mean > _mean_inside(image, _shrink(disc_mid, 0.8)) + 20
    assert body_mean > float(image.mean()) + 20
