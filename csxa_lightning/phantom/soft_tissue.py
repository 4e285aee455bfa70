"""The soft tissue of a phantom radiograph, drawn at quarter resolution (it is blurred anyway):
the neck as a broad band that follows the column and widens into the head above and the
shoulders below, the darker air column of pharynx and trachea in front of the bodies, and the
shoulders brightening the bottom."""

from __future__ import annotations

import math

import cv2
import numpy as np

from csxa_lightning.phantom.anatomy import SpineCurve, Vertebra
from csxa_lightning.phantom.drawing import ellipse, fill, smooth_noise
from csxa_lightning.phantom.film import Look

_SOFT_SCALE = 0.25  # soft tissue is drawn at quarter resolution and upsampled


def _neck_polygon(
    rng: np.random.Generator, curve: SpineCurve, verts: list[Vertebra], extent: float
) -> np.ndarray:
    """Skin outline of neck, widening into head above C1 and shoulders/trunk below C7."""
    depth = float(np.mean([v.depth for v in verts]))
    front, back = depth * rng.uniform(2.4, 3.2), depth * rng.uniform(3.8, 4.8)
    top, bottom = verts[0].s_top - 1.2 * depth, verts[-1].s_bottom + 0.5 * depth
    s = np.linspace(-extent, extent, 60)
    widen = 0.7 * np.clip(top - s, 0, None) + 0.6 * np.clip(s - bottom, 0, None)
    anterior = curve.at(s, -(front + widen))
    posterior = curve.at(s, back + widen)
    return np.concatenate([anterior, posterior[::-1]])


def _airway_polygon(
    rng: np.random.Generator, curve: SpineCurve, verts: list[Vertebra], extent: float
) -> np.ndarray:
    """Pharynx and trachea: an air column in front of the bodies.

    The prevertebral soft tissue is thin down to C4 and about one body deep at C6-C7 (oesophagus
    behind the trachea); above the dens the pharynx turns forward towards mouth and nose.
    """
    depth = float(np.mean([v.depth for v in verts]))
    s = np.linspace(-extent, extent, 50)
    s_c4, s_c6, s_dens = verts[2].s_bottom, verts[4].s_top, verts[0].s_top - 1.3 * depth
    thin, thick = depth * rng.uniform(0.25, 0.4), depth * rng.uniform(0.75, 1.0)
    ramp = np.clip((s - s_c4) / max(s_c6 - s_c4, 1.0), 0.0, 1.0)
    prevertebral = 0.5 * depth + thin + (thick - thin) * ramp
    prevertebral += 0.9 * np.clip(s_dens - s, 0.0, None)
    width = depth * rng.uniform(0.5, 0.85) * (1.0 + 0.5 * (s < s_dens))
    back_wall = curve.at(s, -prevertebral)
    front_wall = curve.at(s, -(prevertebral + width))
    return np.concatenate([back_wall, front_wall[::-1]])


def _shoulder_polygons(
    rng: np.random.Generator, curve: SpineCurve, verts: list[Vertebra]
) -> list[np.ndarray]:
    """Both shoulders project over the lower neck as broad, slightly offset domes."""
    depth, height = verts[-1].depth, verts[-1].height
    top = verts[-1].s_bottom + height * rng.uniform(-0.3, 1.3)
    polys = []
    for shift in (0.0, rng.uniform(0.2, 0.6) * height):
        radius_v = height * rng.uniform(2.5, 3.5)
        center = curve.at(top + shift + radius_v, depth * rng.uniform(0.0, 1.5))
        polys.append(ellipse(center, (depth * rng.uniform(5, 7), radius_v), curve.angle(top)))
    return polys


def soft_tissue_layer(
    rng: np.random.Generator,
    curve: SpineCurve,
    verts: list[Vertebra],
    look: Look,
    shape: tuple[int, int],
) -> np.ndarray:
    height, width = shape
    extent = 2.5 * max(shape)
    small_shape = (int(math.ceil(height * _SOFT_SCALE)), int(math.ceil(width * _SOFT_SCALE)))
    small = np.zeros(small_shape, np.float32)
    layer = np.zeros(small_shape, np.float32)
    fill(small, _neck_polygon(rng, curve, verts, extent), look.soft, _SOFT_SCALE)
    # Muscle, fat and skin folds make soft tissue uneven.
    small *= 1.0 + 0.1 * smooth_noise(rng, small_shape, 6.0, cv2.INTER_CUBIC)
    shoulders = np.zeros(small_shape, np.float32)
    for poly in _shoulder_polygons(rng, curve, verts):
        layer[:] = 0
        fill(layer, poly, look.shoulder * 0.5, _SOFT_SCALE)
        shoulders += layer
    small += cv2.GaussianBlur(shoulders, (0, 0), 5.0)  # shoulders lie far from the film
    layer[:] = 0
    fill(layer, _airway_polygon(rng, curve, verts, extent), look.airway, _SOFT_SCALE)
    small -= cv2.GaussianBlur(layer, (0, 0), 1.2)
    small = cv2.GaussianBlur(small, (0, 0), 2.0)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
