"""Measures of a landmark model: radial errors, their summaries, a mean-shape baseline and the
C2-C7 Cobb angle, as pure functions of arrays.

Conventions every function here follows:
- Points are arrays (N films, K landmarks, 2) of (x, y) in the pixels of the ORIGINAL film
  (not of a resized network input); image y points down and the patient faces image-left, so
  "left" in a label is anterior.
- A landmark that is not annotated on a film is NaN in `annotated`; its error is NaN and every
  summary skips it (means, SDR, failures, tables and bootstrap count valid points only).
  Predictions must be finite: a NaN prediction would be skipped too and flatter the model.
- Pixel spacing is per film, either (N,) isotropic mm/pixel or (N, 2) (row, column) mm/pixel;
  NaN for a film whose spacing is unknown, which leaves that film out of the mm figures only.
- Landmark names are passed in (this layer does not import csxa_lightning.data); the canonical
  labels are `C2 centroid`, `C2 bottom left`, ... `C7 bottom right`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from csxa_lightning.metrics.classification import percentile_interval
from csxa_lightning.utils.errors import UserError

# Successful detection radii in mm, the usual ones of cephalometric and spine landmark work.
SDR_THRESHOLDS_MM = (2.0, 2.5, 3.0, 4.0)
# An error beyond this is a failure (the point landed on another structure), counted apart.
FAILURE_MM = 10.0
MM_UNKNOWN = "unknown: no pixel spacing"
# The corners of the two endplates the C2-C7 Cobb angle is drawn along.
COBB_LABELS = ("C2 bottom left", "C2 bottom right", "C7 bottom left", "C7 bottom right")


class NonFinitePredictionError(UserError):
    """Predicted landmarks that are NaN or infinite: a diverged model's; no error is computed."""


# --------------------------------------------------------------------------- checks


def _as_points(points: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(points, dtype=float)
    if arr.ndim != 3 or arr.shape[-1] != 2:
        raise ValueError(f"{name} must have shape (films, landmarks, 2) of (x, y), got {arr.shape}")
    return arr


def _check_pair(predicted: np.ndarray, annotated: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred, ann = _as_points(predicted, "predicted"), _as_points(annotated, "annotated")
    if pred.shape != ann.shape:
        raise ValueError(
            f"predicted {pred.shape} and annotated {ann.shape} must have the same shape "
            "(the same films and landmarks, in the same order)"
        )
    bad = ~np.isfinite(pred)
    if bad.any():
        film = int(np.argwhere(bad)[0][0])
        raise NonFinitePredictionError(
            f"{int(bad.any(axis=-1).sum())} predicted landmarks are not finite (first on film "
            f"{film}); they would be skipped like unannotated ones and flatter the model. "
            "Retrain with a lower learning rate, or trainer.precision=32-true."
        )
    return pred, ann


def _as_errors(errors: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(errors, dtype=float)
    if arr.ndim != 2 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty (films, landmarks) array, got {arr.shape}")
    return arr


def _millimetres(errors_px: np.ndarray, errors_mm: np.ndarray | None) -> np.ndarray | None:
    """errors_mm as an array of errors_px's shape, or None when no film has a spacing."""
    if errors_mm is None:
        return None
    mm = _as_errors(errors_mm, "errors_mm")
    if mm.shape != errors_px.shape:
        raise ValueError(f"errors_mm {mm.shape} must have the shape of errors_px {errors_px.shape}")
    return None if np.isnan(mm).all() else mm


def _check_names(names: Sequence[str], n_landmarks: int) -> list[str]:
    names = [str(n) for n in names]
    if len(names) != n_landmarks:
        raise ValueError(
            f"{len(names)} names given for {n_landmarks} landmarks: pass one label per "
            f"landmark, in the arrays' order; names given: {names}"
        )
    return names


def _indices(names: Sequence[str], required: Sequence[str]) -> list[int]:
    names = list(names)
    for label in required:
        if label not in names:
            raise ValueError(
                f"landmark {label!r} is missing from the names given: {names}; pass the "
                "canonical labels (csxa_lightning.data.keypoints.KEYPOINT_LABELS)"
            )
    return [names.index(label) for label in required]


def _plain(value: float) -> float | None:
    """A JSON-safe float: NaN (nothing to average) becomes None."""
    value = float(value)
    return None if math.isnan(value) else value


# --------------------------------------------------------------------------- errors


def radial_errors(predicted: np.ndarray, annotated: np.ndarray) -> np.ndarray:
    """Euclidean distance (N, K) between predicted and annotated (x, y), in the pixels of the
    original film. NaN where the landmark is not annotated (NaN in `annotated`): every summary
    skips it. Shapes (N, K, 2) must match, else ValueError naming both."""
    pred, ann = _check_pair(predicted, annotated)
    return np.hypot(*np.moveaxis(pred - ann, -1, 0))


def _spacing_rows_columns(spacing_mm: np.ndarray, n_films: int) -> tuple[np.ndarray, np.ndarray]:
    """(row spacing, column spacing), each (N,), from (N,) isotropic or (N, 2) spacing."""
    spacing = np.asarray(spacing_mm, dtype=float)
    if spacing.shape not in ((n_films,), (n_films, 2)):
        raise ValueError(
            f"spacing must be (films,) isotropic or (films, 2) (row, column) mm/pixel for "
            f"{n_films} films, got shape {spacing.shape}"
        )
    known = spacing[np.isfinite(spacing)]
    if (known <= 0).any():
        raise ValueError(
            f"pixel spacing must be positive mm/pixel (NaN where unknown), got {known.min()}"
        )
    if spacing.ndim == 1:
        return spacing, spacing
    return spacing[:, 0], spacing[:, 1]


def errors_in_mm(errors_px: np.ndarray, spacing_mm: np.ndarray) -> np.ndarray:
    """Radial errors (N, K) in pixels converted to mm with each film's isotropic spacing: (N,)
    mm/pixel, or (N, 2) (row, column) whose two values are equal. NaN spacing (unknown for a
    film) makes that film's errors NaN, and unannotated points stay NaN. Anisotropic spacing
    raises: a radial error has lost its dx, dy, so use radial_errors_mm."""
    px = _as_errors(errors_px, "errors_px")
    rows, columns = _spacing_rows_columns(spacing_mm, px.shape[0])
    both_known = np.isfinite(rows) & np.isfinite(columns)
    anisotropic = both_known & ~np.isclose(rows, columns, rtol=1e-6, atol=0.0)
    if anisotropic.any():
        raise ValueError(
            f"films {np.flatnonzero(anisotropic).tolist()} have anisotropic spacing (row != "
            "column), which a radial error in pixels cannot be converted with; compute the "
            "errors with radial_errors_mm(predicted, annotated, spacing)"
        )
    isotropic = np.where(both_known, rows, np.nan)
    return px * isotropic[:, None]


def radial_errors_mm(
    predicted: np.ndarray, annotated: np.ndarray, spacing_mm: np.ndarray
) -> np.ndarray:
    """Radial errors (N, K) in mm: dx (columns) scaled by the column spacing and dy (rows) by
    the row spacing before the distance is taken, so anisotropic spacing is right. spacing_mm
    is (N,) isotropic or (N, 2) (row, column) mm/pixel; NaN spacing gives NaN for that film,
    and unannotated points are NaN (skipped by every summary)."""
    pred, ann = _check_pair(predicted, annotated)
    rows, columns = _spacing_rows_columns(spacing_mm, pred.shape[0])
    dx = (pred[..., 0] - ann[..., 0]) * columns[:, None]
    dy = (pred[..., 1] - ann[..., 1]) * rows[:, None]
    return np.hypot(dx, dy)


# --------------------------------------------------------------------------- summaries


def _sdr_key(threshold_mm: float) -> str:
    return f"sdr_{threshold_mm:g}mm"


def _mean_sd(values: np.ndarray) -> tuple[float | None, float | None]:
    """Mean and sample SD (ddof=1) of the finite values; None where not enough values."""
    valid = values[np.isfinite(values)]
    mean = float(valid.mean()) if len(valid) else None
    sd = float(valid.std(ddof=1)) if len(valid) > 1 else None
    return mean, sd


def _millimetre_summary(
    mm: np.ndarray | None, thresholds: Sequence[float], failure_mm: float
) -> dict[str, float | int | str | None]:
    keys = ["mre_mm", "sd_mm", *map(_sdr_key, thresholds), "failed_points", "films_with_failure"]
    if mm is None:
        return {**dict.fromkeys(keys), "n_points_mm": 0, "millimetres": MM_UNKNOWN}
    valid = np.isfinite(mm)
    n_films, films_known = mm.shape[0], int(valid.any(axis=1).sum())
    mean, sd = _mean_sd(mm)
    out: dict[str, float | int | str | None] = {"mre_mm": mean, "sd_mm": sd}
    for threshold in thresholds:
        # <=: a point exactly at the radius counts as detected, as SDR is usually defined.
        out[_sdr_key(threshold)] = float(np.mean(mm[valid] <= threshold))
    failed = np.where(valid, mm, -np.inf) > failure_mm
    out.update(
        failed_points=int(failed.sum()),
        films_with_failure=int(failed.any(axis=1).sum()),
        n_points_mm=int(valid.sum()),
        millimetres=(
            "from each film's pixel spacing"
            if films_known == n_films
            else f"from pixel spacing, known for {films_known} of {n_films} films; the mm "
            "figures cover those films only"
        ),
    )
    return out


def landmark_summary(
    errors_px: np.ndarray,
    errors_mm: np.ndarray | None = None,
    names: Sequence[str] | None = None,
    thresholds: Sequence[float] = SDR_THRESHOLDS_MM,
    failure_mm: float = FAILURE_MM,
    *,
    predicted: np.ndarray | None = None,
    annotated: np.ndarray | None = None,
) -> dict[str, float | int | str | None]:
    """The headline figures of a landmark model over N films and K landmarks, JSON-ready.

    Keys: n_films (rows), n_points (valid, i.e. annotated, points), n_points_not_annotated;
    mre_px and sd_px (mean radial error over all valid points and its sample SD); mre_mm,
    sd_mm, sdr_<t>mm for each threshold t (share of valid mm points with error <= t: a point
    exactly at t counts as detected), failed_points (points with error > failure_mm),
    films_with_failure (films with at least one), failure_mm, n_points_mm and `millimetres`,
    which says where the mm figures come from. Unannotated (NaN) points are skipped everywhere.
    When errors_mm is None or all NaN every mm key is None and `millimetres` is
    "unknown: no pixel spacing" (report pixels only). cobb_c2_c7_mae_deg (and
    cobb_c2_c7_n_films) is the mean absolute C2-C7 Cobb angle error when names, predicted and
    annotated are all given and names hold the four endplate corners, else None. Values are
    plain floats, ints, strings or None (never NaN).
    """
    px = _as_errors(errors_px, "errors_px")
    mm = _millimetres(px, errors_mm)
    if not all(t > 0 for t in thresholds) or not failure_mm > 0:
        raise ValueError(
            f"thresholds and failure_mm must be positive mm, got {tuple(thresholds)}, {failure_mm}"
        )
    checked_names = None if names is None else _check_names(names, px.shape[1])
    mean, sd = _mean_sd(px)
    n_valid = int(np.isfinite(px).sum())
    out: dict[str, float | int | str | None] = {
        "n_films": int(px.shape[0]),
        "n_points": n_valid,
        "n_points_not_annotated": int(px.size - n_valid),
        "mre_px": mean,
        "sd_px": sd,
        "failure_mm": float(failure_mm),
    }
    out.update(_millimetre_summary(mm, thresholds, failure_mm))
    out.update(_cobb_summary(checked_names, predicted, annotated))
    return out


def _cobb_summary(
    names: list[str] | None, predicted: np.ndarray | None, annotated: np.ndarray | None
) -> dict[str, float | int | None]:
    # "When names allow": without the four endplate corners there is no angle to compare.
    if names is None or predicted is None or annotated is None or set(COBB_LABELS) - set(names):
        return {"cobb_c2_c7_mae_deg": None, "cobb_c2_c7_n_films": 0}
    errors = cobb_angle_errors(predicted, annotated, names)
    valid = errors[np.isfinite(errors)]
    mae = float(valid.mean()) if len(valid) else None
    return {"cobb_c2_c7_mae_deg": mae, "cobb_c2_c7_n_films": len(valid)}


def _error_row(px: np.ndarray, mm: np.ndarray | None, sdr_mm: float) -> dict[str, float | int]:
    """Pooled statistics of one group of errors (any shape); NaN where nothing to pool."""
    px = px[np.isfinite(px)]
    mm = np.array([]) if mm is None else mm[np.isfinite(mm)]

    def stat(values: np.ndarray, how) -> float:
        return float(how(values)) if len(values) else np.nan

    return {
        "n_points": len(px),
        "mre_px": stat(px, np.mean),
        "median_px": stat(px, np.median),
        "p90_px": stat(px, lambda v: np.percentile(v, 90)),
        "mre_mm": stat(mm, np.mean),
        "median_mm": stat(mm, np.median),
        "p90_mm": stat(mm, lambda v: np.percentile(v, 90)),
        _sdr_key(sdr_mm): stat(mm, lambda v: np.mean(v <= sdr_mm)),
    }


def per_landmark_errors(
    errors_px: np.ndarray,
    errors_mm: np.ndarray | None,
    names: Sequence[str],
    sdr_mm: float = SDR_THRESHOLDS_MM[0],
) -> pd.DataFrame:
    """One row per landmark, in the given order: landmark, n_points (annotated films),
    mre_px, median_px, p90_px, mre_mm, median_mm, p90_mm and sdr_<sdr_mm>mm (share <= sdr_mm).
    Unannotated points are skipped; mm columns are NaN without pixel spacing."""
    px = _as_errors(errors_px, "errors_px")
    mm = _millimetres(px, errors_mm)
    names = _check_names(names, px.shape[1])
    rows = [
        {"landmark": name, **_error_row(px[:, k], None if mm is None else mm[:, k], sdr_mm)}
        for k, name in enumerate(names)
    ]
    return pd.DataFrame(rows)


def vertebra_of(label: str) -> str:
    """The vertebra a label belongs to: its first word ('C3 top left' -> 'C3')."""
    words = str(label).split()
    if not words:
        raise ValueError(f"an empty landmark label has no vertebra: {label!r}")
    return words[0]


def per_vertebra_errors(
    errors_px: np.ndarray,
    errors_mm: np.ndarray | None,
    names: Sequence[str],
    sdr_mm: float = SDR_THRESHOLDS_MM[0],
) -> pd.DataFrame:
    """One row per vertebra (C2..C7, in order of first appearance in names), pooling all
    valid points of its landmarks over all films: vertebra, n_landmarks, then the columns of
    per_landmark_errors. Unannotated points are skipped."""
    px = _as_errors(errors_px, "errors_px")
    mm = _millimetres(px, errors_mm)
    names = _check_names(names, px.shape[1])
    vertebrae = [vertebra_of(name) for name in names]
    rows = []
    for vertebra in dict.fromkeys(vertebrae):
        columns = [k for k, v in enumerate(vertebrae) if v == vertebra]
        group_mm = None if mm is None else mm[:, columns]
        row = _error_row(px[:, columns], group_mm, sdr_mm)
        rows.append({"vertebra": vertebra, "n_landmarks": len(columns), **row})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- bootstrap


def _pooled_mean_rows(
    film_sums: np.ndarray, film_counts: np.ndarray, idx: np.ndarray
) -> np.ndarray:
    """Pooled mean over the resampled films' points, per row of film indices."""
    sums, counts = film_sums[idx].sum(axis=1), film_counts[idx].sum(axis=1)
    return np.divide(sums, counts, out=np.full(sums.shape, np.nan), where=counts > 0)


def bootstrap_landmark_intervals(
    errors_px: np.ndarray,
    errors_mm: np.ndarray | None,
    n_resamples: int,
    seed: int,
    level: float = 0.95,
    thresholds: Sequence[float] = SDR_THRESHOLDS_MM,
) -> dict[str, float | int | None]:
    """Percentile intervals for mre_px, mre_mm and each sdr_<t>mm, from a bootstrap of FILMS:
    whole rows are drawn with replacement, because the points of one film share its
    positioning and exposure and are correlated, so resampling points would give intervals too
    narrow. Each resample's figure pools its films' valid points, as landmark_summary does;
    unannotated points are skipped. Seeded: the same seed gives the same intervals.

    Keys: <metric>_ci_low and <metric>_ci_high (None when undefined, e.g. mm without spacing),
    ci_level, bootstrap_seed, bootstrap_resamples.
    """
    px = _as_errors(errors_px, "errors_px")
    mm = _millimetres(px, errors_mm)
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be at least 1, got {n_resamples}")
    idx = np.random.default_rng(seed).integers(0, px.shape[0], size=(n_resamples, px.shape[0]))
    resampled = {"mre_px": _pooled_mean_rows(np.nansum(px, 1), np.isfinite(px).sum(1), idx)}
    mm_keys = ["mre_mm", *map(_sdr_key, thresholds)]
    if mm is not None:
        valid = np.isfinite(mm)
        counts = valid.sum(axis=1)
        resampled["mre_mm"] = _pooled_mean_rows(np.nansum(mm, axis=1), counts, idx)
        for threshold in thresholds:
            within = (valid & (np.where(valid, mm, np.inf) <= threshold)).sum(axis=1)
            resampled[_sdr_key(threshold)] = _pooled_mean_rows(within, counts, idx)
    out: dict[str, float | int | None] = {}
    for key in ["mre_px", *mm_keys]:
        out[f"{key}_ci_low"] = out[f"{key}_ci_high"] = None  # no spacing: no mm interval
        if key in resampled:
            low, high = percentile_interval(resampled[key], level)
            out[f"{key}_ci_low"], out[f"{key}_ci_high"] = _plain(low), _plain(high)
    out.update(ci_level=float(level), bootstrap_seed=int(seed), bootstrap_resamples=n_resamples)
    return out


# --------------------------------------------------------------------------- mean shape


def _as_sizes(sizes: np.ndarray, n_films: int | None = None) -> np.ndarray:
    arr = np.asarray(sizes, dtype=float)
    if arr.ndim != 2 or arr.shape[1] != 2 or (n_films is not None and arr.shape[0] != n_films):
        expected = "(films, 2)" if n_films is None else f"({n_films}, 2)"
        raise ValueError(f"sizes must be {expected} of (width, height), got shape {arr.shape}")
    if not (np.isfinite(arr) & (arr > 0)).all():
        raise ValueError(f"film sizes must be positive pixels (width, height), got {arr.tolist()}")
    return arr


def fit_mean_shape(points: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """The mean-shape baseline (K, 2): each landmark's mean position in unit coordinates
    (x / width, y / height) over the films given, skipping unannotated (NaN) points.

    This is the baseline a landmark model must beat: it places the same average spine on
    every film, knowing nothing of the image. Fit it on the TRAINING films only (fitting on the
    test films would leak their annotations into the baseline); place it with place_mean_shape.
    sizes are (N, 2) (width, height) of the original films, in pixels.
    """
    pts = _as_points(points, "points")
    unit = pts / _as_sizes(sizes, pts.shape[0])[:, None, :]
    never = np.flatnonzero(np.isnan(unit).any(axis=-1).all(axis=0))
    if len(never):
        raise ValueError(
            f"no film annotates landmarks {never.tolist()} (0-based): the mean shape has no "
            "position for them; fit on films that annotate every landmark"
        )
    with np.errstate(invalid="ignore"):
        return np.nanmean(unit, axis=0)


def place_mean_shape(mean_shape: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """The mean shape (K, 2) from fit_mean_shape placed on films of sizes (N, 2) (width,
    height): (N, K, 2) points in each film's pixels, scaled to its width and height."""
    shape = np.asarray(mean_shape, dtype=float)
    if shape.ndim != 2 or shape.shape[1] != 2:
        raise ValueError(
            f"mean_shape must be (landmarks, 2) from fit_mean_shape, got {shape.shape}"
        )
    return shape[None, :, :] * _as_sizes(sizes)[:, None, :]


# --------------------------------------------------------------------------- Cobb angle


def cobb_angle_c2_c7(points: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """C2-C7 Cobb angle in degrees between the inferior endplate of C2 (`C2 bottom left` ->
    `C2 bottom right`) and that of C7 (`C7 bottom left` -> `C7 bottom right`), for points
    (..., K, 2); returns shape (...). NaN where a corner is unannotated or an endplate has
    zero length.

    Sign: POSITIVE FOR LORDOSIS, negative for kyphosis, 0 for parallel endplates. With the
    patient facing image-left and y down, each endplate is the vector from its anterior
    (left) to its posterior (right) corner, and its tilt is atan2(dy, dx): positive when the
    posterior corner is LOWER on the film. A lordotic neck is convex anteriorly: going down
    from C2 the spine moves anterior (C2's endplate tilts posterior-down, tilt > 0), and going
    down to C7 it moves back (C7's endplate tilts posterior-up, tilt < 0), so the two endplate
    lines converge POSTERIORLY (meet behind the spine, image-right). The angle is
    tilt(C2) - tilt(C7), wrapped to (-180, 180]: unchanged by rotating the whole film, and
    flipped in sign by a mirrored film (patient facing image-right), which must be flipped back
    first. (Scoliosis Research Society tables count lordosis negative; negate to compare.)
    """
    pts = np.asarray(points, dtype=float)
    if pts.ndim < 2 or pts.shape[-1] != 2:
        raise ValueError(f"points must have shape (..., landmarks, 2), got {pts.shape}")
    names = _check_names(names, pts.shape[-2])
    c2_left, c2_right, c7_left, c7_right = _indices(names, COBB_LABELS)
    c2 = pts[..., c2_right, :] - pts[..., c2_left, :]
    c7 = pts[..., c7_right, :] - pts[..., c7_left, :]
    # Signed angle from C7's endplate to C2's: atan2(cross, dot) = tilt(C2) - tilt(C7), wrapped.
    cross = c7[..., 0] * c2[..., 1] - c7[..., 1] * c2[..., 0]
    dot = (c7 * c2).sum(axis=-1)
    angle = np.degrees(np.arctan2(cross, dot))
    degenerate = (np.hypot(*np.moveaxis(c2, -1, 0)) == 0) | (np.hypot(*np.moveaxis(c7, -1, 0)) == 0)
    return np.where(degenerate, np.nan, angle)


def cobb_angle_errors(
    predicted: np.ndarray, annotated: np.ndarray, names: Sequence[str]
) -> np.ndarray:
    """Absolute difference (N,) in degrees between the predicted and annotated C2-C7 Cobb
    angles (cobb_angle_c2_c7), wrapped so that it never exceeds 180; NaN for a film whose
    annotation lacks one of the four endplate corners (skipped by landmark_summary)."""
    pred, ann = _check_pair(predicted, annotated)
    difference = cobb_angle_c2_c7(pred, names) - cobb_angle_c2_c7(ann, names)
    return np.abs((difference + 180.0) % 360.0 - 180.0)
