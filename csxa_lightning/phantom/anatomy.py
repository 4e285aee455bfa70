"""Geometry of the synthetic cervical spine: the column, the C2-C7 bodies and the landmarks.

Nothing here draws; it computes what the renderer draws. The patient faces image-left, so "left"
is anterior, and all coordinates are pixels (x right, y down). Per case:

* the center line of the column, integrated from a curvature profile (lordotic, straight,
  sigmoid, reverse sigmoid or kyphotic) on top of a forward lean;
* the degenerative signs, each with its own probability and strength growing with ``severity``:
  narrowed discs (mostly C5-6 and C6-7), anterior osteophytes and sclerotic endplates;
* body heights and depths and disc heights, then the four corners and local frame of each body;
* the translation that places the column in the image, and the 23 landmarks: the corners of the
  C3-C7 bodies plus the centroid and the two inferior corners of the C2 body.

All randomness comes from the ``rng`` argument, drawn in a fixed order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from csxa_lightning.data.keypoints import KEYPOINT_LABELS

LORDOTIC, STRAIGHT, SIGMOID, REVERSE_SIGMOID, KYPHOTIC = 1, 2, 3, 4, 5

_LEVELS = ("C2", "C3", "C4", "C5", "C6", "C7")
# Where degeneration concentrates: discs C2-3 .. C6-7 and bodies C2 .. C7 (C5-C6 most often).
_DISC_DISEASE_WEIGHT = np.array([0.25, 0.4, 0.65, 1.0, 0.9])
_BODY_DISEASE_WEIGHT = np.array([0.2, 0.4, 0.7, 1.0, 1.0, 0.6])

# What the generator plants (data.phantom.effect, --effect): the set's ground truth.
EFFECTS = {
    "natural": "disease signs (narrowed discs, anterior osteophytes, sclerotic endplates) at "
    "every level C2-C7, strongest at C5-C6, on the diseased films only; the spine's curvature "
    "also differs between the classes",
    "planted": "bold disease signs at C5-C7 only, on the diseased films only, in tall films "
    "whose 500 x 500 centre crop shows C2-C4 and mostly cuts the lower levels off: the "
    "keypoint crops see the signs, crop=none mostly cannot; nothing else in a film depends on "
    "its label",
    "none": "the planted set's films with labels independent of them: the same bold C5-C7 "
    "signs drawn on a random share of the films, regardless of the label; no variant can "
    "beat chance",
}
# The planted (and null) signs: these levels only (bodies C5-C7, discs C5-6 and C6-7).
LOWER_BODIES = np.array([False, False, False, True, True, True])
LOWER_DISCS = np.array([False, False, False, True, True])


# -----------------------------------------------------------------------------------------------
# Geometry types
# -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpineCurve:
    """Center line of the column, parametrised by arc length ``s`` (px; 0 = C2 body center,
    positive = caudal). ``theta`` is the tangent angle from image-vertical, positive where the
    column runs to the right (posteriorly) going down."""

    s: np.ndarray
    xy: np.ndarray
    theta: np.ndarray

    def at(self, s: np.ndarray | float, u: np.ndarray | float = 0.0) -> np.ndarray:
        """Point ``u`` px posterior (negative: anterior) of the center line at arc length ``s``."""
        s = np.asarray(s, dtype=np.float64)
        th = np.interp(s, self.s, self.theta)
        x = np.interp(s, self.s, self.xy[:, 0]) + u * np.cos(th)
        y = np.interp(s, self.s, self.xy[:, 1]) - u * np.sin(th)
        return np.stack([x, y], axis=-1)

    def angle(self, s: float) -> float:
        return float(np.interp(s, self.s, self.theta))

    def shifted(self, offset: np.ndarray) -> SpineCurve:
        return SpineCurve(self.s, self.xy + offset, self.theta)


@dataclass(frozen=True)
class Frame:
    """Rigid local frame of one vertebra: ``u`` posterior, ``v`` caudal, origin at body center."""

    origin: np.ndarray
    theta: float

    def at(self, u: np.ndarray | float, v: np.ndarray | float) -> np.ndarray:
        u = np.asarray(u, dtype=np.float64)
        v = np.asarray(v, dtype=np.float64)
        c, s = math.cos(self.theta), math.sin(self.theta)
        x = self.origin[0] + u * c + v * s
        y = self.origin[1] - u * s + v * c
        return np.stack([x, y], axis=-1)

    def poly(self, uv: list[tuple[float, float]]) -> np.ndarray:
        arr = np.asarray(uv, dtype=np.float64)
        return self.at(arr[:, 0], arr[:, 1])


@dataclass(frozen=True)
class Vertebra:
    """One vertebral body. ``corners``: anterior-superior, posterior-superior, posterior-inferior,
    anterior-inferior (i.e. top left, top right, bottom right, bottom left)."""

    level: str
    corners: np.ndarray
    frame: Frame
    height: float
    depth: float
    s_top: float
    s_bottom: float

    def shifted(self, offset: np.ndarray) -> Vertebra:
        frame = Frame(self.frame.origin + offset, self.frame.theta)
        return Vertebra(
            self.level,
            self.corners + offset,
            frame,
            self.height,
            self.depth,
            self.s_top,
            self.s_bottom,
        )


@dataclass(frozen=True)
class DiseaseSigns:
    """Per-case degenerative findings; all zero for a healthy spine."""

    disc_narrowing: np.ndarray  # (5,) fraction of disc height lost, discs C2-3 .. C6-7
    osteophytes: np.ndarray  # (6, 2) spur length / body height at [superior, inferior] corner
    sclerosis: np.ndarray  # (6,) endplate sclerosis thickness / body height
    sclerosis_density: float = 0.25  # added to the cortex's density (the planted signs: 0.8)


# -----------------------------------------------------------------------------------------------
# Sampling the column: curve, disease, sizes, bodies
# -----------------------------------------------------------------------------------------------


def _curvature_profile(t: np.ndarray, curvature: int) -> np.ndarray:
    """Tangent-angle profile in [-1, 1] along the normalised column (t = 0 at C2, 1 at C7).

    A bow towards anterior (image-left) means the tangent first heads left, then right.
    """
    if curvature == LORDOTIC:
        return -np.cos(np.pi * t)
    if curvature == KYPHOTIC:
        return np.cos(np.pi * t)
    if curvature == SIGMOID:  # upper half lordotic, lower half kyphotic
        return -np.cos(2 * np.pi * t)
    if curvature == REVERSE_SIGMOID:
        return np.cos(2 * np.pi * t)
    if curvature == STRAIGHT:
        return np.zeros_like(t)
    raise ValueError(f"curvature must be 1..5, got {curvature}")


def _curvature_angle(rng: np.random.Generator, curvature: int) -> float:
    """Total tangent change (rad) from C2 to C7; S-shapes change twice, so they get less."""
    low, high = {
        LORDOTIC: (16, 34),
        KYPHOTIC: (14, 30),
        SIGMOID: (10, 17),
        REVERSE_SIGMOID: (10, 17),
        STRAIGHT: (0, 3),
    }[curvature]
    return math.radians(rng.uniform(low, high))


def build_curve(
    rng: np.random.Generator, curvature: int, length: float, extent: float
) -> SpineCurve:
    """Integrate the tangent angle along arc length; straight beyond C2 and C7."""
    # The neck leans forward on a lateral film: going down, the column drifts posteriorly.
    lean = math.radians(rng.uniform(-3.0, 14.0))
    bend = _curvature_angle(rng, curvature)
    step = 4.0
    n = int(math.ceil(extent / step))
    s = np.arange(-n, n + 1, dtype=np.float64) * step
    t = np.clip(s / length, 0.0, 1.0)
    theta = lean + 0.5 * bend * _curvature_profile(t, curvature)
    mid = 0.5 * (theta[1:] + theta[:-1])
    x = np.concatenate([[0.0], np.cumsum(np.sin(mid) * step)])
    y = np.concatenate([[0.0], np.cumsum(np.cos(mid) * step)])
    xy = np.stack([x, y], axis=1)
    return SpineCurve(s, xy - xy[n], theta)


def sample_disease(
    rng: np.random.Generator, diseased: bool, severity: float, lower_bold: bool = False
) -> DiseaseSigns:
    """Draw the same random numbers for both classes, then switch signs on by class/severity.

    lower_bold (the planted effect): every sign present, at C5-C7 only, the spurs at full
    length and the sclerotic bands three times as thick, so that they survive a resize of
    the spine to a few dozen pixels. The random draws are the same either way."""
    has_narrowing, has_osteophytes, has_sclerosis = rng.random(3) < (0.85, 0.75, 0.6)
    narrowing = 0.7 * _DISC_DISEASE_WEIGHT * rng.uniform(0.7, 1.0, 5)
    spur_on = rng.random((6, 2)) < 0.35 + 0.65 * _BODY_DISEASE_WEIGHT[:, None]
    spurs = 0.5 * _BODY_DISEASE_WEIGHT[:, None] * rng.uniform(0.5, 1.0, (6, 2)) * spur_on
    spurs[0, 0] = 0.0  # C2 has no superior endplate (the dens rises there)
    sclerosis = 0.12 * _BODY_DISEASE_WEIGHT * rng.uniform(0.5, 1.0, 6)
    scale = severity if diseased else 0.0
    if lower_bold:
        has_narrowing = has_osteophytes = has_sclerosis = True
        narrowing = np.where(LOWER_DISCS, 0.6, 0.0)
        spurs = np.where(LOWER_BODIES[:, None], 0.55, 0.0) * np.ones((6, 2))
        sclerosis = np.where(LOWER_BODIES, 0.32, 0.0)
    return DiseaseSigns(
        disc_narrowing=narrowing * scale * has_narrowing,
        osteophytes=spurs * scale * has_osteophytes,
        sclerosis=sclerosis * scale * has_sclerosis,
        sclerosis_density=0.8 if lower_bold else 0.25,
    )


def sample_sizes(
    rng: np.random.Generator, disease: DiseaseSigns
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Body heights, depths and disc heights in units of a typical body height."""
    heights = np.array([1.3, 0.95, 0.97, 1.0, 1.03, 1.08]) * rng.uniform(0.96, 1.04, 6)
    depth_ratio = rng.uniform(1.1, 1.2)
    depths = heights * depth_ratio * rng.uniform(0.97, 1.03, 6)
    depths[0] = depth_ratio * rng.uniform(0.95, 1.05)  # C2 is tall, not deep
    discs = rng.uniform(0.22, 0.3) * np.array([0.8, 0.9, 1.0, 1.05, 1.0])
    discs = discs * rng.uniform(0.92, 1.08, 5) * (1.0 - disease.disc_narrowing)
    return heights, depths, np.maximum(discs, 0.06)  # even a collapsed disc leaves a gap


def _endplate(
    rng: np.random.Generator, curve: SpineCurve, s: float, half_depth: float, unit: float
) -> tuple[np.ndarray, np.ndarray]:
    """Anterior and posterior corner of one endplate, with a slight random tilt and jitter."""
    tilt = math.radians(rng.uniform(-1.2, 1.2)) * half_depth
    front = curve.at(s - tilt, -half_depth) + rng.uniform(-0.012, 0.012, 2) * unit
    back = curve.at(s + tilt, half_depth) + rng.uniform(-0.012, 0.012, 2) * unit
    return front, back


def build_vertebrae(
    rng: np.random.Generator,
    curve: SpineCurve,
    heights: np.ndarray,
    depths: np.ndarray,
    discs: np.ndarray,
    unit: float,
) -> list[Vertebra]:
    vertebrae = []
    s_top = -0.5 * heights[0] * unit
    for i, level in enumerate(_LEVELS):
        height, depth = heights[i] * unit, depths[i] * unit
        s_bottom = s_top + height
        top_left, top_right = _endplate(rng, curve, s_top, 0.5 * depth, unit)
        bottom_left, bottom_right = _endplate(rng, curve, s_bottom, 0.5 * depth, unit)
        s_mid = 0.5 * (s_top + s_bottom)
        frame = Frame(curve.at(s_mid), curve.angle(s_mid))
        corners = np.stack([top_left, top_right, bottom_right, bottom_left])
        vertebrae.append(Vertebra(level, corners, frame, height, depth, s_top, s_bottom))
        if i < len(discs):
            s_top = s_bottom + discs[i] * unit
    return vertebrae


# -----------------------------------------------------------------------------------------------
# Landmarks and placement
# -----------------------------------------------------------------------------------------------


def _polygon_centroid(poly: np.ndarray) -> np.ndarray:
    x, y = poly[:, 0], poly[:, 1]
    cross = x * np.roll(y, -1) - np.roll(x, -1) * y
    area = cross.sum() / 2.0
    cx = ((x + np.roll(x, -1)) * cross).sum() / (6.0 * area)
    cy = ((y + np.roll(y, -1)) * cross).sum() / (6.0 * area)
    return np.array([cx, cy])


def keypoints(vertebrae: list[Vertebra]) -> dict[str, tuple[float, float]]:
    points: dict[str, tuple[float, float]] = {}
    c2 = vertebrae[0]
    points["C2 centroid"] = tuple(float(v) for v in _polygon_centroid(c2.corners))
    points["C2 bottom left"] = (float(c2.corners[3, 0]), float(c2.corners[3, 1]))
    points["C2 bottom right"] = (float(c2.corners[2, 0]), float(c2.corners[2, 1]))
    for vert in vertebrae[1:]:
        for name, idx in (
            ("top left", 0),
            ("top right", 1),
            ("bottom left", 3),
            ("bottom right", 2),
        ):
            points[f"{vert.level} {name}"] = (
                float(vert.corners[idx, 0]),
                float(vert.corners[idx, 1]),
            )
    return {label: points[label] for label in KEYPOINT_LABELS}


def placement_offset(
    rng: np.random.Generator,
    vertebrae: list[Vertebra],
    width: int,
    height: int,
    c2_y: float | None = None,
) -> np.ndarray:
    """Translate the column so the bodies sit in the middle column with margins all round.

    c2_y (the planted effect's tall films): put the center of the C2 body at this row instead,
    and the column in the middle of the width."""
    if c2_y is not None:
        x = width * rng.uniform(0.42, 0.5)
        return np.array([x, c2_y]) - vertebrae[0].frame.origin
    corners = np.concatenate([v.corners for v in vertebrae])
    lo, hi = corners.min(axis=0), corners.max(axis=0)
    center = 0.5 * (lo + hi)
    # Bodies slightly left of center: posterior elements and the back of the neck take room.
    target = np.array([width * rng.uniform(0.38, 0.52), height * rng.uniform(0.47, 0.56)])
    offset = target - center
    margin_lo = np.array([0.12 * width, 0.2 * height])  # skull base must fit above C2
    margin_hi = np.array([0.6 * width, 0.88 * height])  # posterior elements must fit right
    offset = np.maximum(offset, margin_lo - lo)
    return np.minimum(offset, margin_hi - hi)
