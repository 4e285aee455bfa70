"""Letterboxing and heatmap targets: the mappings are exact inverses, and a point follows its
pixels (a blob drawn at a film position is found at Letterbox.to_input of it; a stride-4
pooling puts it at input_to_heatmap of it)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from csxa_lightning.data.heatmaps import gaussian_heatmaps, heatmap_to_input, input_to_heatmap
from csxa_lightning.data.letterbox import Letterbox, letterbox_geometry, letterbox_image

# (width, height, size): portrait and landscape CSXA-like films, square, odd sides with odd
# padding, and films smaller than the input (enlarged).
FILMS = [
    (568, 740, 256),
    (740, 568, 256),
    (600, 600, 224),
    (301, 199, 224),
    (199, 301, 225),
    (90, 61, 224),
]


def blob(height: int, width: int, x: float, y: float, sigma: float) -> np.ndarray:
    """uint8 Gaussian blob of peak 255 centred on (x, y), pixel centres at integers."""
    rows, cols = np.mgrid[0:height, 0:width]
    value = 255 * np.exp(-((cols - x) ** 2 + (rows - y) ** 2) / (2 * sigma**2))
    return np.round(value).astype(np.uint8)


def centroid(image: np.ndarray, near: np.ndarray, radius: int) -> np.ndarray:
    """Intensity centroid (x, y) of image in the window of radius pixels around near."""
    x0, y0 = (int(round(v)) for v in near)
    top, left = max(0, y0 - radius), max(0, x0 - radius)
    window = image[top : y0 + radius + 1, left : x0 + radius + 1].astype(np.float64)
    rows, cols = np.mgrid[top : top + window.shape[0], left : left + window.shape[1]]
    return np.array([(window * cols).sum(), (window * rows).sum()]) / window.sum()


@pytest.mark.parametrize(("width", "height", "size"), FILMS)
def test_to_input_and_to_film_are_inverses(width, height, size):
    geometry = letterbox_geometry(width, height, size)
    rng = np.random.default_rng(width * height)
    points = rng.uniform(-50, max(width, height) + 50, size=(3, 40, 2))
    np.testing.assert_allclose(geometry.to_film(geometry.to_input(points)), points, atol=1e-6)
    inputs = rng.uniform(-10, size + 10, size=(40, 2))
    np.testing.assert_allclose(geometry.to_input(geometry.to_film(inputs)), inputs, atol=1e-6)


@pytest.mark.parametrize(("width", "height", "size"), FILMS)
def test_a_blob_lands_where_to_input_maps_its_centre(width, height, size):
    geometry = letterbox_geometry(width, height, size)
    sigma_film = max(2.0, 1.5 / geometry.scale)  # at least 1.5 input pixels once scaled
    for fx, fy in ((0.31, 0.62), (0.5, 0.5), (0.77, 0.23)):
        position = np.array([fx * width + 0.37, fy * height - 0.21])
        film = blob(height, width, *position, sigma_film)
        image, _ = letterbox_image(film, size)
        expected = geometry.to_input(position)
        found = centroid(image, expected, radius=int(4 * sigma_film * geometry.scale) + 2)
        assert np.abs(found - expected).max() < 0.5
        assert np.abs(found - expected).max() < 0.1  # what it is: far tighter than a pixel


def test_the_pixel_centre_convention_is_the_one_resize_follows():
    # Enlarged 2.5 times, the corner convention (x * scale + pad) would be off by
    # 0.5 * (scale - 1) = 0.75 px; the blob sits where the centre convention says.
    film = blob(40, 40, 12.3, 25.6, 2.0)
    image, geometry = letterbox_image(film, 100)
    found = centroid(image, geometry.to_input(np.array([12.3, 25.6])), radius=15)
    assert np.abs(found - geometry.to_input(np.array([12.3, 25.6]))).max() < 0.1
    corner = np.array([12.3, 25.6]) * geometry.scale
    assert np.abs(found - corner).min() > 0.6


@pytest.mark.parametrize(("width", "height", "size"), FILMS)
def test_the_short_side_is_centred_between_bands_of_pad_value(width, height, size):
    image, geometry = letterbox_image(np.full((height, width), 200, np.uint8), size, pad_value=37)
    assert image.shape == (size, size) and image.dtype == np.uint8
    resized_width, resized_height = geometry.resized
    assert max(resized_width, resized_height) == size
    film_columns = np.flatnonzero((image == 200).any(axis=0))
    film_rows = np.flatnonzero((image == 200).any(axis=1))
    # The odd pixel of an odd padding goes after the film (right or bottom).
    pad_x, pad_y = size - resized_width, size - resized_height
    assert (film_columns[0], size - 1 - film_columns[-1]) == (pad_x // 2, pad_x - pad_x // 2)
    assert (film_rows[0], size - 1 - film_rows[-1]) == (pad_y // 2, pad_y - pad_y // 2)
    assert (geometry.pad_x, geometry.pad_y) == (pad_x // 2, pad_y // 2)
    band = np.ones((size, size), bool)
    band[film_rows[0] : film_rows[-1] + 1, film_columns[0] : film_columns[-1] + 1] = False
    assert (image[band] == 37).all()


def test_the_film_corners_map_onto_the_resized_area():
    geometry = letterbox_geometry(568, 740, 256)
    assert geometry.scale == 256 / 740 and (geometry.pad_x, geometry.pad_y) == (30.0, 0.0)
    # The film's outer pixel edges (-0.5 and W - 0.5) land on the padding's edges.
    edges = geometry.to_input(np.array([[-0.5, -0.5], [567.5, 739.5]]))
    np.testing.assert_allclose(edges, [[29.5, -0.5], [29.5 + 568 * 256 / 740, 255.5]])


def test_nan_points_stay_nan():
    geometry = letterbox_geometry(568, 740, 256)
    mapped = geometry.to_input(np.array([[np.nan, np.nan], [10.0, 20.0]]))
    assert np.isnan(mapped[0]).all() and np.isfinite(mapped[1]).all()


def test_a_given_geometry_is_used_and_checked():
    film = np.full((740, 568), 100, np.uint8)
    geometry = letterbox_geometry(568, 740, 256)
    _, used = letterbox_image(film, 256, geometry)
    assert used is geometry
    with pytest.raises(ValueError, match="568x740 film in a 256 input.*size=224"):
        letterbox_image(film, 224, geometry)


@pytest.mark.parametrize(
    ("args", "match"),
    [((0, 740, 256), "width=0"), ((568, 740, -1), "size=-1"), ((568, 7.5, 256), "height=7.5")],
)
def test_bad_geometry_arguments_name_the_value(args, match):
    with pytest.raises(ValueError, match=match):
        letterbox_geometry(*args)


def test_a_film_that_is_not_2d_uint8_is_refused_with_the_fix():
    with pytest.raises(ValueError, match="to_gray"):
        letterbox_image(np.zeros((10, 10, 3), np.uint8), 32)
    with pytest.raises(ValueError, match="pad_value=300"):
        letterbox_image(np.zeros((10, 10), np.uint8), 32, pad_value=300)


def test_letterbox_is_a_frozen_value():
    geometry = letterbox_geometry(568, 740, 256)
    assert geometry == Letterbox(256 / 740, 30.0, 0.0, 256, 568, 740)
    with pytest.raises(AttributeError):
        geometry.scale = 1.0


# Heatmaps


def test_a_point_on_a_pixel_gives_1_there_and_the_gaussian_one_pixel_away():
    sigma = 2.0
    maps, visible = gaussian_heatmaps(np.array([[10.0, 7.0]]), 16, 20, sigma)
    assert maps.shape == (1, 16, 20) and maps.dtype == np.float32 and visible.tolist() == [True]
    one_away = np.exp(-1 / (2 * sigma**2))
    assert maps[0, 7, 10] == 1.0
    for row, col in ((7, 9), (7, 11), (6, 10), (8, 10)):
        assert maps[0, row, col] == pytest.approx(one_away, rel=1e-6)
    assert maps[0, 8, 11] == pytest.approx(np.exp(-2 / (2 * sigma**2)), rel=1e-6)


def test_the_argmax_is_the_pixel_nearest_the_point():
    rng = np.random.default_rng(0)
    points = rng.uniform(0.6, 30.4, size=(50, 2)) * [1.0, 0.7]
    maps, _ = gaussian_heatmaps(points, 24, 32, sigma=1.5)
    for point, heat in zip(points, maps, strict=True):
        row, col = np.unravel_index(np.argmax(heat), heat.shape)
        assert (col, row) == tuple(np.round(point).astype(int))
        assert heat.max() <= 1.0


def test_a_missing_point_gets_an_empty_map_and_is_marked_invisible():
    points = np.array([[5.0, 5.0], [np.nan, np.nan], [np.nan, 3.0], [-40.0, 5.0]])
    maps, visible = gaussian_heatmaps(points, 12, 12, sigma=2.0)
    assert visible.tolist() == [True, False, False, True]
    assert not maps[1].any() and not maps[2].any()
    assert maps[3].max() < 1e-30  # far outside: visible, and (all but) empty


def test_bad_heatmap_arguments_name_the_value():
    with pytest.raises(ValueError, match="sigma=0"):
        gaussian_heatmaps(np.zeros((2, 2)), 8, 8, 0)
    with pytest.raises(ValueError, match="expected \\(K, 2\\)"):
        gaussian_heatmaps(np.zeros((2, 3)), 8, 8, 1.0)
    with pytest.raises(ValueError, match="width=0"):
        gaussian_heatmaps(np.zeros((2, 2)), 8, 0, 1.0)
    with pytest.raises(ValueError, match="stride=0"):
        input_to_heatmap(np.zeros((2, 2)), 0)


def test_input_and_heatmap_coordinates_are_inverses_with_aligned_pixel_edges():
    points = np.random.default_rng(1).uniform(-5, 260, size=(4, 23, 2))
    for stride in (4, 2, 1.5):
        back = heatmap_to_input(input_to_heatmap(points, stride), stride)
        np.testing.assert_allclose(back, points, atol=1e-9)
    # Heatmap pixel 0 covers input pixels 0..3: its centre is 1.5, its outer edge -0.5.
    np.testing.assert_allclose(input_to_heatmap(np.array([[1.5, -0.5]]), 4), [[0.0, -0.5]])


def test_a_stride_4_pooling_puts_a_blob_at_input_to_heatmap_of_it():
    # The heatmap is the input at 1/4 (the network pools 4 x 4 input pixels into one);
    # area-downsampling an image by 4 shows where each input point goes.
    for position in ([40.3, 61.7], [100.0, 30.5], [30.9, 90.2]):  # 4 sigma inside
        image = blob(128, 128, *position, sigma=6.0)
        small = cv2.resize(image, None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA)
        expected = input_to_heatmap(np.array(position), 4)
        assert np.abs(centroid(small, expected, radius=6) - expected).max() < 0.1
