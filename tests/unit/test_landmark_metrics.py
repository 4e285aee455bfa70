"""Landmark measures (metrics/landmarks.py) against values worked by hand: radial errors in
pixels and mm, SDR and failures, the summary without spacing, per-landmark and per-vertebra
tables, the film bootstrap, the mean-shape baseline and the C2-C7 Cobb angle."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from csxa_lightning.data.keypoints import KEYPOINT_LABELS
from csxa_lightning.metrics.landmarks import (
    MM_UNKNOWN,
    NonFinitePredictionError,
    bootstrap_landmark_intervals,
    cobb_angle_c2_c7,
    cobb_angle_errors,
    errors_in_mm,
    fit_mean_shape,
    landmark_summary,
    per_landmark_errors,
    per_vertebra_errors,
    place_mean_shape,
    radial_errors,
    radial_errors_mm,
)

NAMES = list(KEYPOINT_LABELS)
MM_KEYS = ("mre_mm", "sd_mm", "sdr_2mm", "sdr_2.5mm", "sdr_3mm", "sdr_4mm", "failed_points")

# Three films' errors in mm, worked below; errors in pixels are 10x (spacing 0.1 mm/pixel).
ERRORS_MM = np.array(
    [
        [2.0, 2.5, 10.0],  # 2.0 exactly at the 2 mm radius; 10.0 is not OVER 10 mm
        [4.0, 10.5, 12.0],  # two failures
        [11.0, 1.0, np.nan],  # one failure, one landmark not annotated
    ]
)


# --------------------------------------------------------------------------- radial errors


def test_radial_error_is_the_hypotenuse_and_unannotated_points_are_nan():
    predicted = np.array([[[3.0, 4.0], [1.0, 1.0], [7.0, 7.0]]])
    annotated = np.array([[[0.0, 0.0], [1.0, 1.0], [np.nan, np.nan]]])
    errors = radial_errors(predicted, annotated)
    # sqrt(3^2 + 4^2) = 5; an exact hit is 0; no annotation is NaN.
    np.testing.assert_array_equal(errors, [[5.0, 0.0, np.nan]])
    summary = landmark_summary(errors)
    # The NaN is skipped: mean of 5 and 0 = 2.5 over 2 points.
    assert summary["mre_px"] == 2.5 and summary["n_points"] == 2
    assert summary["n_points_not_annotated"] == 1


def test_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(1, 3, 2\).*\(1, 2, 2\)"):
        radial_errors(np.zeros((1, 3, 2)), np.zeros((1, 2, 2)))


def test_a_nan_prediction_is_refused_not_skipped():
    predicted = np.array([[[np.nan, 0.0]]])
    with pytest.raises(NonFinitePredictionError, match="not finite"):
        radial_errors(predicted, np.zeros((1, 1, 2)))


def test_anisotropic_spacing_scales_dx_and_dy_before_the_distance():
    predicted = np.array([[[3.0, 4.0]], [[3.0, 4.0]]])
    annotated = np.zeros((2, 1, 2))
    # (row, column) spacing: dx = 3 px * 0.2 mm = 0.6 mm, dy = 4 px * 0.1 mm = 0.4 mm,
    # sqrt(0.36 + 0.16) = sqrt(0.52) mm; the second film's spacing is unknown -> NaN.
    spacing = np.array([[0.1, 0.2], [np.nan, np.nan]])
    errors = radial_errors_mm(predicted, annotated, spacing)
    assert errors[0, 0] == pytest.approx(math.sqrt(0.52))
    assert np.isnan(errors[1, 0])
    # A radial error has lost dx, dy: converting it with anisotropic spacing is refused.
    with pytest.raises(ValueError, match="radial_errors_mm"):
        errors_in_mm(radial_errors(predicted, annotated), spacing)


def test_isotropic_spacing_converts_pixels_per_film():
    errors_px = np.array([[5.0, np.nan], [10.0, 2.0], [1.0, 1.0]])
    # 5 px * 0.5 = 2.5 mm; 10 px * 0.25 = 2.5 mm, 2 px * 0.25 = 0.5 mm; unknown spacing -> NaN.
    mm = errors_in_mm(errors_px, np.array([0.5, 0.25, np.nan]))
    np.testing.assert_array_equal(mm, [[2.5, np.nan], [2.5, 0.5], [np.nan, np.nan]])
    # (row, column) spacing with equal values is isotropic.
    same = errors_in_mm(errors_px, np.array([[0.5, 0.5], [0.25, 0.25], [np.nan, np.nan]]))
    np.testing.assert_array_equal(same, mm)


# --------------------------------------------------------------------------- summary


def test_sdr_is_inclusive_and_failures_are_counted_per_point_and_per_film():
    summary = landmark_summary(ERRORS_MM * 10, ERRORS_MM)
    # 8 valid points: 2.0, 2.5, 10.0, 4.0, 10.5, 12.0, 11.0, 1.0 (sum 53).
    assert summary["n_films"] == 3 and summary["n_points"] == 8
    assert summary["mre_mm"] == pytest.approx(53 / 8)  # 6.625
    assert summary["mre_px"] == pytest.approx(66.25)
    assert summary["sdr_2mm"] == 2 / 8  # 2.0 (inclusive) and 1.0
    assert summary["sdr_2.5mm"] == 3 / 8  # + 2.5
    assert summary["sdr_3mm"] == 3 / 8
    assert summary["sdr_4mm"] == 4 / 8  # + 4.0
    # Over 10 mm: 10.5, 12.0 (film 2) and 11.0 (film 3); 10.0 is not over.
    assert summary["failed_points"] == 3 and summary["films_with_failure"] == 2
    assert summary["millimetres"] == "from each film's pixel spacing"
    json.dumps(summary, allow_nan=False)


@pytest.mark.parametrize("errors_mm", [None, np.full(ERRORS_MM.shape, np.nan)])
def test_summary_without_spacing_reports_pixels_only(errors_mm):
    summary = landmark_summary(ERRORS_MM * 10, errors_mm)
    assert summary["mre_px"] == pytest.approx(66.25)
    assert all(summary[key] is None for key in MM_KEYS)
    assert summary["millimetres"] == MM_UNKNOWN == "unknown: no pixel spacing"
    json.dumps(summary, allow_nan=False)


def test_summary_with_spacing_for_some_films_says_which():
    errors_mm = ERRORS_MM.copy()
    errors_mm[1:] = np.nan  # spacing of film 1 only: 2.0, 2.5, 10.0
    summary = landmark_summary(ERRORS_MM * 10, errors_mm)
    assert summary["mre_mm"] == pytest.approx(14.5 / 3) and summary["n_points_mm"] == 3
    assert "known for 1 of 3 films" in summary["millimetres"]


# --------------------------------------------------------------------------- tables


def test_per_landmark_and_per_vertebra_tables():
    names = ["C2 centroid", "C2 bottom left", "C3 top left"]
    errors_px = np.array([[1.0, 2.0, 3.0], [3.0, np.nan, 5.0]])
    errors_mm = errors_px * 0.5
    table = per_landmark_errors(errors_px, errors_mm, names).set_index("landmark")
    # C2 centroid: px 1, 3 -> mean 2, median 2, p90 = 1 + 0.9 * (3 - 1) = 2.8; mm 0.5, 1.5.
    centroid = table.loc["C2 centroid"]
    assert (centroid.n_points, centroid.mre_px, centroid.median_px) == (2, 2.0, 2.0)
    assert centroid.p90_px == pytest.approx(2.8)
    assert centroid.mre_mm == 1.0 and centroid.sdr_2mm == 1.0
    assert table.loc["C2 bottom left", "n_points"] == 1  # the NaN is skipped
    # C3 top left: mm 1.5, 2.5 -> mean 2.0, half within 2 mm.
    assert table.loc["C3 top left", "mre_mm"] == 2.0
    assert table.loc["C3 top left", "sdr_2mm"] == 0.5
    vertebrae = per_vertebra_errors(errors_px, errors_mm, names).set_index("vertebra")
    assert list(vertebrae.index) == ["C2", "C3"]
    # C2 pools 1, 2, 3 (the NaN skipped): mean 2; C3 pools 3, 5: mean 4.
    assert vertebrae.loc["C2", "n_landmarks"] == 2 and vertebrae.loc["C2", "n_points"] == 3
    assert vertebrae.loc["C2", "mre_px"] == 2.0 and vertebrae.loc["C3", "mre_px"] == 4.0
    no_spacing = per_landmark_errors(errors_px, None, names)
    assert no_spacing["mre_mm"].isna().all()


# --------------------------------------------------------------------------- bootstrap


def test_bootstrap_resamples_films_and_is_seeded():
    # Film A's 10 points all err 1 mm, film B's all 3 mm. Drawing FILMS, a resample's mean is
    # 1 (AA, p = 1/4), 2 or 3 (BB, p = 1/4), so the 95 % interval is exactly (1, 3); drawing
    # points it would be far narrower around 2.
    errors_mm = np.repeat([[1.0], [3.0]], 10, axis=1)
    out = bootstrap_landmark_intervals(errors_mm * 10, errors_mm, n_resamples=1000, seed=3)
    assert (out["mre_mm_ci_low"], out["mre_mm_ci_high"]) == (1.0, 3.0)
    assert (out["mre_px_ci_low"], out["mre_px_ci_high"]) == (10.0, 30.0)
    # Within 2 mm: 100 % of A's points, 0 % of B's.
    assert (out["sdr_2mm_ci_low"], out["sdr_2mm_ci_high"]) == (0.0, 1.0)
    again = bootstrap_landmark_intervals(errors_mm * 10, errors_mm, n_resamples=1000, seed=3)
    assert again == out
    json.dumps(out, allow_nan=False)


def test_bootstrap_of_one_film_has_zero_width_and_contains_the_estimate():
    one_film = np.full((1, 5), 2.5)
    out = bootstrap_landmark_intervals(one_film, None, n_resamples=50, seed=0)
    assert out["mre_px_ci_low"] == out["mre_px_ci_high"] == 2.5
    assert out["mre_mm_ci_low"] is None and out["sdr_2mm_ci_high"] is None
    errors_mm = np.random.default_rng(1).gamma(2.0, 1.5, size=(40, 23))
    errors_mm[0, :4] = np.nan
    summary = landmark_summary(errors_mm * 8, errors_mm)
    out = bootstrap_landmark_intervals(errors_mm * 8, errors_mm, n_resamples=300, seed=7)
    for key in ("mre_px", "mre_mm", "sdr_2mm", "sdr_4mm"):
        assert out[f"{key}_ci_low"] <= summary[key] <= out[f"{key}_ci_high"]
    other = bootstrap_landmark_intervals(errors_mm * 8, errors_mm, n_resamples=300, seed=8)
    assert other["mre_mm_ci_low"] != out["mre_mm_ci_low"]


# --------------------------------------------------------------------------- mean shape


def test_mean_shape_placed_on_each_film_reproduces_its_landmarks():
    unit = np.array([[0.25, 0.5], [0.5, 0.25], [0.75, 0.75]])
    sizes = np.array([[400.0, 200.0], [1000.0, 800.0]])  # (width, height)
    films = unit[None] * sizes[:, None, :]  # e.g. film 1's first point: (100, 100)
    mean_shape = fit_mean_shape(films, sizes)
    np.testing.assert_array_equal(mean_shape, unit)
    np.testing.assert_array_equal(place_mean_shape(mean_shape, sizes), films)


def test_mean_shape_averages_unit_coordinates_and_skips_unannotated_points():
    # Film 1: x = 40 / 200 = 0.2; film 2: x = 160 / 400 = 0.4 -> mean 0.3; y = 0.5 for both.
    # Landmark 2 is annotated on film 2 only: its mean is film 2's (0.5, 0.25).
    films = np.array([[[40.0, 50.0], [np.nan, np.nan]], [[160.0, 100.0], [200.0, 50.0]]])
    sizes = np.array([[200.0, 100.0], [400.0, 200.0]])
    np.testing.assert_allclose(fit_mean_shape(films, sizes), [[0.3, 0.5], [0.5, 0.25]])
    films[1, 1] = np.nan
    with pytest.raises(ValueError, match=r"landmarks \[1\]"):
        fit_mean_shape(films, sizes)


# --------------------------------------------------------------------------- Cobb angle


def film_with_endplates(c2_tilt_deg: float, c7_tilt_deg: float) -> np.ndarray:
    """23 landmarks whose C2 and C7 inferior endplates run from the anterior (left) corner to
    the posterior (right) one, tilted by the given degrees: positive = posterior corner LOWER
    on the film (y grows downward). The Cobb angle is then c2_tilt - c7_tilt."""
    points = np.stack([np.arange(23) * 3.0, np.arange(23) * 20.0 + 100], axis=1)
    for vertebra, tilt, anterior in (
        ("C2", c2_tilt_deg, (100, 200)),
        ("C7", c7_tilt_deg, (110, 500)),
    ):
        rad = math.radians(tilt)
        left = np.array(anterior, dtype=float)
        points[NAMES.index(f"{vertebra} bottom left")] = left
        points[NAMES.index(f"{vertebra} bottom right")] = left + 30 * np.array(
            [math.cos(rad), math.sin(rad)]
        )
    return points


def rotate(points: np.ndarray, degrees: float) -> np.ndarray:
    rad = math.radians(degrees)
    matrix = np.array([[math.cos(rad), -math.sin(rad)], [math.sin(rad), math.cos(rad)]])
    return points @ matrix.T


def test_cobb_angle_is_positive_for_lordosis_and_zero_for_a_straight_neck():
    # Lordosis: C2's endplate 10 deg posterior-down, C7's 15 deg posterior-up: the lines meet
    # behind the spine, 10 - (-15) = +25 deg.
    lordotic = film_with_endplates(10, -15)
    assert cobb_angle_c2_c7(lordotic, NAMES) == pytest.approx(25.0)
    # Rotating the whole film leaves the angle; kyphosis (tilts mirrored) is negative.
    assert cobb_angle_c2_c7(rotate(lordotic, 7.0), NAMES) == pytest.approx(25.0)
    assert cobb_angle_c2_c7(film_with_endplates(-10, 15), NAMES) == pytest.approx(-25.0)
    # A straight neck: parallel endplates, level or both tilted alike.
    films = np.stack([film_with_endplates(0, 0), film_with_endplates(6, 6)])
    np.testing.assert_allclose(cobb_angle_c2_c7(films, NAMES), [0.0, 0.0], atol=1e-9)


def test_cobb_angle_errors_and_their_mean_in_the_summary():
    annotated = np.stack([film_with_endplates(10, -15), film_with_endplates(5, 5)])  # 25, 0
    predicted = np.stack([film_with_endplates(8, -12), film_with_endplates(4, 7)])  # 20, -3
    errors = cobb_angle_errors(predicted, annotated, NAMES)
    np.testing.assert_allclose(errors, [5.0, 3.0])  # |20 - 25|, |-3 - 0|
    summary = landmark_summary(
        radial_errors(predicted, annotated), names=NAMES, predicted=predicted, annotated=annotated
    )
    assert summary["cobb_c2_c7_mae_deg"] == pytest.approx(4.0)  # (5 + 3) / 2
    assert summary["cobb_c2_c7_n_films"] == 2
    assert landmark_summary(radial_errors(predicted, annotated))["cobb_c2_c7_mae_deg"] is None


def test_missing_endplate_names_the_label_and_the_names_given():
    names = [n if n != "C7 bottom right" else "C7 bottom rigth" for n in NAMES]
    with pytest.raises(ValueError, match="'C7 bottom right' is missing.*C7 bottom rigth"):
        cobb_angle_c2_c7(film_with_endplates(0, 0), names)
