"""The landmark augmentation moves each point with its pixels: blobs drawn at the points are
found at the returned points after flips, rotations, zooms and shifts; a flip keeps every
landmark's index (its anatomical name) and mirrors x exactly as the columns; missing points
stay NaN; no point is dropped, added or reordered."""

from __future__ import annotations

import numpy as np
import pytest
from hydra.utils import instantiate

from csxa_lightning.data.keypoints import KEYPOINT_LABELS
from csxa_lightning.data.landmark_augment import LandmarkAugmentation, NoLandmarkAugmentation
from csxa_lightning.utils.errors import ConfigValueError

SIZE = 128
# Six landmarks around the centre, at least 15 px apart, at sub-pixel positions; after a zoom
# of 1.2 and a shift of 6 px they are still well inside the image.
POINTS = np.array(
    [[40.3, 42.7], [80.6, 41.2], [38.9, 70.4], [83.25, 72.8], [61.5, 58.1], [55.7, 88.35]]
)
# Every random setting off: what remains is exactly the flip (with hflip_p).
STILL = {"rotation": 0, "scale": (1, 1), "translate": 0, "brightness": 0, "contrast": 0}


def blobs(points: np.ndarray, sigma: float = 1.5) -> np.ndarray:
    """Dark uint8 image with a bright Gaussian blob on each finite point (pixel centres)."""
    rows, cols = np.mgrid[0:SIZE, 0:SIZE]
    value = np.zeros((SIZE, SIZE))
    for x, y in points[np.isfinite(points).all(axis=1)]:
        value += 255 * np.exp(-((cols - x) ** 2 + (rows - y) ** 2) / (2 * sigma**2))
    return np.round(np.minimum(value, 255)).astype(np.uint8)


def centroid(image: np.ndarray, near: np.ndarray, radius: int = 5) -> np.ndarray:
    """Intensity centroid (x, y) around near, above the window's darkest value (brightness
    lifts the background)."""
    x0, y0 = (int(round(v)) for v in near)
    window = image[y0 - radius : y0 + radius + 1, x0 - radius : x0 + radius + 1]
    weight = window.astype(np.float64) - window.min()
    rows, cols = np.mgrid[y0 - radius : y0 + radius + 1, x0 - radius : x0 + radius + 1]
    return np.array([(weight * cols).sum(), (weight * rows).sum()]) / weight.sum()


def assert_on_blobs(image: np.ndarray, points: np.ndarray) -> None:
    for k, point in enumerate(points):
        found = centroid(image, point)
        assert np.abs(found - point).max() < 1.0, f"point {k}: {point} vs blob at {found}"


@pytest.mark.parametrize("seed", range(6))
def test_points_follow_their_blobs_through_rotation_zoom_and_shift(seed):
    aug = LandmarkAugmentation(
        rotation=30, scale=(0.8, 1.2), translate=0.05, brightness=0, contrast=0, hflip_p=0.5
    )
    aug.reseed(seed)
    image, points = aug(blobs(POINTS), POINTS.copy())
    assert image.shape == (SIZE, SIZE) and image.dtype == np.uint8
    assert points.shape == POINTS.shape and points.dtype == np.float64
    assert np.abs(points - POINTS).max() > 2  # the warp did move them
    assert_on_blobs(image, points)


@pytest.mark.parametrize("seed", range(3))
def test_with_a_forced_flip_and_every_default_the_points_stay_on_their_blobs(seed):
    aug = LandmarkAugmentation(hflip_p=1.0)
    aug.reseed(seed)
    image, points = aug(blobs(POINTS), POINTS)
    # Mirrored: each point is on the other half from where it started (the warp is small).
    left = POINTS[:, 0] < SIZE / 2 - 8
    assert (points[left, 0] > SIZE / 2).all()
    assert_on_blobs(image, points)


def test_a_flip_mirrors_x_as_the_columns_and_keeps_each_landmarks_name():
    anterior = KEYPOINT_LABELS.index("C3 top left")
    posterior = KEYPOINT_LABELS.index("C3 top right")
    points = np.full((len(KEYPOINT_LABELS), 2), 64.0)
    points[:, 1] = np.linspace(10, 118, len(KEYPOINT_LABELS))
    points[anterior] = [40.25, 50.5]  # the front of the vertebral body: image-left
    points[posterior] = [80.75, 50.5]
    image = blobs(points[[anterior, posterior]])
    flipped, moved = LandmarkAugmentation(**STILL, hflip_p=1.0)(image, points)
    np.testing.assert_array_equal(flipped, image[:, ::-1])
    # x -> W - 1 - x (pixel centres mirrored about (W - 1) / 2), y unchanged; float32 inside
    # albumentations, hence the tolerance.
    np.testing.assert_allclose(moved[:, 0], SIZE - 1 - points[:, 0], atol=1e-4)
    np.testing.assert_allclose(moved[:, 1], points[:, 1], atol=1e-4)
    # "C3 top left" is still row `anterior`, now on the image's right: no left/right swap.
    assert moved[anterior, 0] > SIZE / 2 > moved[posterior, 0]
    assert_on_blobs(flipped, moved[[anterior, posterior]])


def test_missing_points_stay_nan_and_order_and_count_are_kept():
    points = POINTS.copy()
    points[1] = np.nan
    points[4] = [np.nan, 58.1]  # half a point is no point
    aug = LandmarkAugmentation(hflip_p=0.5)
    for seed in range(4):
        aug.reseed(seed)
        image, moved = aug(blobs(points), points)
        assert moved.shape == points.shape
        assert np.isnan(moved[[1, 4]]).all() and np.isfinite(moved[[0, 2, 3, 5]]).all()
        assert_on_blobs(image, moved[[0, 2, 3, 5]])


def test_points_pushed_outside_the_image_are_kept():
    points = np.array([[2.0, 60.0], [64.0, 64.0], [125.0, 3.0]])
    _, moved = LandmarkAugmentation(**{**STILL, "scale": (1.5, 1.5)})(blobs(points), points)
    # A zoom about the image centre (W / 2 - 0.5, H / 2 - 0.5), as cv2.warpAffine applies it.
    centre = SIZE / 2 - 0.5
    np.testing.assert_allclose(moved, centre + 1.5 * (points - centre), atol=1e-4)
    assert moved[0, 0] < 0 and moved[2, 0] > SIZE and moved[2, 1] < 0


def test_brightness_and_contrast_change_pixels_not_points():
    aug = LandmarkAugmentation(**{**STILL, "brightness": 0.3, "contrast": 0.3})
    aug.reseed(3)
    image = blobs(POINTS)
    changed, moved = aug(image, POINTS)
    assert not np.array_equal(changed, image)
    np.testing.assert_allclose(moved, POINTS, atol=1e-4)


def test_the_same_seed_gives_the_same_sample_and_another_seed_another():
    aug = LandmarkAugmentation(hflip_p=0.5)
    samples = []
    for seed in (7, 7, 8):
        aug.reseed(seed)
        samples.append(aug(blobs(POINTS), POINTS))
    np.testing.assert_array_equal(samples[0][0], samples[1][0])
    np.testing.assert_array_equal(samples[0][1], samples[1][1])
    assert not np.array_equal(samples[0][1], samples[2][1])


def test_the_callers_arrays_are_never_returned_or_changed():
    image, points = blobs(POINTS), POINTS.copy()
    image.flags.writeable = False
    for aug in (LandmarkAugmentation(**STILL), NoLandmarkAugmentation()):
        out, moved = aug(image, points)
        assert not np.may_share_memory(out, image) and not np.may_share_memory(moved, points)
        np.testing.assert_array_equal(out, image)
        np.testing.assert_allclose(moved, POINTS, atol=1e-4)
    np.testing.assert_array_equal(points, POINTS)


def test_it_is_built_from_config_with_a_yaml_list_for_the_scale():
    aug = instantiate(
        {
            "_target_": "csxa_lightning.data.landmark_augment.LandmarkAugmentation",
            "scale": [0.9, 1.1],
            "rotation": 10,
        }
    )
    assert aug.scale == (0.9, 1.1) and aug.rotation == 10.0 and aug.hflip_p == 0.0


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        ({"scale": (1.2, 0.8)}, "scale=\\(1.2, 0.8\\)"),
        ({"scale": 1.1}, "scale=1.1"),
        ({"translate": 0.6}, "translate=0.6"),
        ({"brightness": -0.1}, "brightness=-0.1"),
        ({"contrast": "x"}, "contrast='x'"),
    ],
)
def test_bad_settings_name_the_value(settings, match):
    with pytest.raises(ConfigValueError, match=match):
        LandmarkAugmentation(**settings)


def test_bad_samples_are_refused_with_the_fix():
    aug = LandmarkAugmentation()
    with pytest.raises(ValueError, match="before the color step"):
        aug(np.zeros((3, SIZE, SIZE), np.uint8), POINTS)
    with pytest.raises(ValueError, match="expected \\(K, 2\\)"):
        aug(blobs(POINTS), POINTS.ravel())
    with pytest.raises(ValueError, match="seed must be >= 0"):
        aug.reseed(-1)
