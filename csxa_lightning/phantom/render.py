"""Draw one synthetic lateral cervical-spine radiograph and the 23 landmarks it contains.

The geometry (spine curve, bodies, disease signs, landmarks) comes from
:mod:`csxa_lightning.phantom.anatomy`; this module draws it. The patient faces image-left, so
"left" is anterior. Everything is drawn as attenuation in float32 (0 = no absorption) and
tone-mapped to a film-like gray image at the end. Back to front:

* film: a dark base with a slow exposure gradient and mottle;
* soft tissue (drawn at quarter resolution, it is blurred anyway): the neck as a broad band that
  follows the column and widens into the head above and the shoulders below, the darker air
  column of pharynx and trachea in front of the bodies, and the shoulders brightening the bottom;
* bone: the skull base with clivus and mastoid, the hard palate with teeth, the mandible in front
  of C2/C3, the hyoid, the atlas (C1) arches, posterior elements (pedicle, articular pillar,
  lamina with spinous process, long at C7), the dens, and the C2-C7 vertebral bodies with a bright
  cortical rim and trabecular texture; discs are simply the soft-tissue gaps between bodies;
* disease, as sampled by the anatomy: narrowed discs (in the geometry already), anterior
  osteophytes growing out of the body corners, and sclerotic (thick, bright) endplates;
* acquisition: a radiographed ruler, sometimes a bright collimation edge, blur, exposure
  (offset, contrast, gamma) and film grain; then burned-in text, sometimes a black frame, and
  finally the optional inversion (white background, dark bone). Ruler, collimation, text and
  frame come from :mod:`csxa_lightning.phantom.clutter`.

The landmarks returned are the drawn corners of the C3-C7 bodies plus the centroid and the two
inferior corners of the C2 body, in pixel coordinates (x right, y down). Osteophytes grow outside
the corners, so the landmarks stay on the body. All randomness comes from the ``rng`` argument.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from csxa_lightning.phantom.anatomy import (
    KYPHOTIC,
    LORDOTIC,
    REVERSE_SIGMOID,
    SIGMOID,
    STRAIGHT,
    DiseaseSigns,
    Frame,
    SpineCurve,
    Vertebra,
    build_curve,
    build_vertebrae,
    keypoints,
    placement_offset,
    sample_disease,
    sample_sizes,
)
from csxa_lightning.phantom.clutter import add_black_frame, add_collimation, add_ruler, burn_in_text
from csxa_lightning.phantom.drawing import ellipse, fill, outline, smooth_noise

__all__ = ["KYPHOTIC", "LORDOTIC", "REVERSE_SIGMOID", "SIGMOID", "STRAIGHT", "render_radiograph"]

_SOFT_SCALE = 0.25  # soft tissue is drawn at quarter resolution and upsampled
# Spinous process length per level in body depths: C2 is big, C7 ("vertebra prominens") longest.
_SPINOUS_LENGTH = np.array([1.0, 0.6, 0.62, 0.7, 0.85, 1.45])


# -----------------------------------------------------------------------------------------------
# Per-case look: densities and acquisition settings
# -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Look:
    """Per-case densities and acquisition settings (inter-case variation of both classes)."""

    soft: float
    bone: float
    cortex: float
    posterior: float
    airway: float
    shoulder: float
    trabecular: float
    offset: float
    contrast: float
    gamma: float
    blur_sigma: float
    grain: float


def _sample_look(rng: np.random.Generator) -> Look:
    soft = rng.uniform(0.24, 0.34)
    return Look(
        soft=soft,
        bone=rng.uniform(0.26, 0.36),
        cortex=rng.uniform(1.25, 1.5),
        posterior=rng.uniform(0.13, 0.19),
        airway=soft * rng.uniform(0.45, 0.75),
        shoulder=rng.uniform(0.25, 0.45),
        trabecular=rng.uniform(0.12, 0.22),
        offset=rng.uniform(0.03, 0.12),
        contrast=rng.uniform(0.8, 1.1),
        gamma=rng.uniform(0.8, 1.2),
        blur_sigma=rng.uniform(0.5, 1.6),
        grain=rng.uniform(0.008, 0.02),
    )


# -----------------------------------------------------------------------------------------------
# Soft tissue (quarter resolution)
# -----------------------------------------------------------------------------------------------


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


def _soft_tissue_layer(
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


# -----------------------------------------------------------------------------------------------
# Bone
# -----------------------------------------------------------------------------------------------


def _bowed_edge(a: np.ndarray, b: np.ndarray, bow: np.ndarray, n: int = 6) -> np.ndarray:
    """Points from a to b (b excluded) bulging by ``bow`` at the middle (parabolic)."""
    t = np.linspace(0.0, 1.0, n, endpoint=False)[:, None]
    return a + (b - a) * t + bow * (4 * t * (1 - t))


def _body_outline(vert: Vertebra) -> np.ndarray:
    """Body contour through the four corners with concave endplates and anterior surface."""
    tl, tr, br, bl = vert.corners
    down = (bl - tl + br - tr) / np.linalg.norm(bl - tl + br - tr)
    back = (tr - tl + br - bl) / np.linalg.norm(tr - tl + br - bl)
    cup = 0.04 * vert.height
    return np.concatenate(
        [
            _bowed_edge(tl, tr, down * cup),  # superior endplate dips into the body
            _bowed_edge(tr, br, -back * 0.015 * vert.depth),
            _bowed_edge(br, bl, -down * cup),
            _bowed_edge(bl, tl, back * 0.03 * vert.depth),  # anterior surface is slightly concave
        ]
    )


def _draw_skull_base(
    rng: np.random.Generator, bone: np.ndarray, c2: Vertebra, dens_top: float, look: Look
) -> None:
    """Cranium above the atlas: thick, dense base and occiput, thinner vault, bright mastoid,
    and the clivus sloping up-forwards from just above the dens tip."""
    f, w, h = c2.frame, c2.depth, c2.height / 1.3
    base = dens_top - h * rng.uniform(0.5, 0.9)
    radii = (w * rng.uniform(5.0, 6.5), h * rng.uniform(4.0, 5.0))
    tilt = f.theta + math.radians(rng.uniform(-14, -2))  # occiput hangs lower than the face
    center = f.at(w * rng.uniform(0.8, 1.4), base - radii[1])
    fill(bone, ellipse(center, radii, tilt, 64), look.bone * 0.95)
    # Thin vault: the inner ellipse sits high, leaving a thick dense rim only at the base.
    thickness = h * rng.uniform(0.5, 0.8)
    inner = ellipse(
        Frame(center, tilt).at(0.0, -thickness),
        (radii[0] - 0.3 * thickness, radii[1] - 0.3 * thickness),
        tilt,
        64,
    )
    fill(bone, inner, look.bone * 0.6)
    mastoid = ellipse(
        f.at(w * rng.uniform(0.7, 1.1), base - 0.45 * h), (0.5 * w, 0.6 * h), f.theta + 0.4
    )
    fill(bone, mastoid, look.bone * 1.15)
    clivus = f.poly(
        [
            (-0.1 * w, base + 0.05 * h),
            (0.12 * w, base - 0.05 * h),
            (-0.9 * w, base - 2.5 * h),
            (-1.9 * w, base - 2.2 * h),
        ]
    )
    fill(bone, clivus, look.bone * 1.05)


def _draw_face(
    rng: np.random.Generator,
    bone: np.ndarray,
    c2: Vertebra,
    c3: Vertebra,
    dens_top: float,
    look: Look,
) -> None:
    """Mandible (angle in front of C2-C3, ramus up to the skull base) with both tooth rows and
    the hard palate above them."""
    f, w, h = c2.frame, c2.depth, c2.height / 1.3
    rel = c3.frame.origin - f.origin
    gonion_v = float(rel[0] * math.sin(f.theta) + rel[1] * math.cos(f.theta))
    gonion_v += h * rng.uniform(-0.4, 0.4)
    gonion_u = -w * rng.uniform(1.6, 2.0)
    condyle = (gonion_u + 0.4 * w, dens_top - h * rng.uniform(1.0, 1.5))
    alveolar_v = gonion_v - h * rng.uniform(0.8, 1.1)
    chin_u = -w * 7.0
    mandible = f.poly(
        [
            condyle,
            (gonion_u + 0.3 * w, condyle[1] + 0.35 * h),  # condylar neck
            (gonion_u + 0.3 * w, gonion_v - 0.5 * h),  # posterior ramus border
            (gonion_u + 0.15 * w, gonion_v),
            (gonion_u - 0.25 * w, gonion_v + 0.3 * h),  # angle
            (chin_u, gonion_v + 0.6 * h),  # inferior border
            (chin_u, alveolar_v),
            (gonion_u - 0.5 * w, alveolar_v),
            (gonion_u - 0.3 * w, condyle[1] + 0.1 * h),  # coronoid process
            (gonion_u + 0.1 * w, condyle[1] + 0.55 * h),  # mandibular notch
        ]
    )
    fill(bone, mandible, look.bone * 0.55)
    outline(bone, mandible, look.bone * 1.1, max(2, int(0.05 * h)))
    _draw_teeth(rng, bone, f, gonion_u - 0.6 * w, alveolar_v, chin_u, w, h, look)


def _draw_teeth(
    rng: np.random.Generator,
    bone: np.ndarray,
    f: Frame,
    back_u: float,
    alveolar_v: float,
    chin_u: float,
    w: float,
    h: float,
    look: Look,
) -> None:
    """Lower and upper molar/premolar rows meeting at the occlusal plane, hard palate above.

    Enamel is the densest tissue on the film, so the crowns are the brightest blobs."""
    crown_w, crown_h = 0.5 * w * rng.uniform(0.9, 1.1), 0.3 * h
    occlusal_v = alveolar_v - 1.1 * crown_h
    for k in range(int(rng.integers(4, 7))):
        u = back_u - (k + 0.5) * crown_w
        for v, root in ((occlusal_v + 0.5 * crown_h, 1.0), (occlusal_v - 0.5 * crown_h, -1.0)):
            tooth = f.poly(
                [
                    (u - 0.4 * crown_w, v - 0.5 * root * crown_h),
                    (u + 0.4 * crown_w, v - 0.5 * root * crown_h),
                    (u + 0.3 * crown_w, v + root * 1.6 * crown_h),
                    (u - 0.3 * crown_w, v + root * 1.6 * crown_h),
                ]
            )
            fill(bone, tooth, look.bone * 0.95)  # roots sit in bone, crown is enamel
            fill(
                bone,
                ellipse(f.at(u, v), (0.47 * crown_w, 0.55 * crown_h), f.theta, 16),
                look.bone * 1.35,
            )
    palate_v = occlusal_v - crown_h * rng.uniform(2.8, 3.5)
    fill(
        bone,
        f.poly(
            [
                (back_u - 0.3 * w, palate_v - 0.1 * h),
                (chin_u, palate_v - 0.25 * h),
                (chin_u, palate_v + 0.12 * h),
                (back_u - 0.3 * w, palate_v + 0.1 * h),
            ]
        ),
        look.bone * 0.9,
    )


def _draw_hyoid(rng: np.random.Generator, bone: np.ndarray, c3: Vertebra, look: Look) -> None:
    """Hyoid body at about C3-C4, well in front of the airway."""
    f = c3.frame
    center = f.at(-c3.depth * rng.uniform(2.2, 2.8), c3.height * rng.uniform(0.3, 0.9))
    axes = (0.28 * c3.depth, 0.14 * c3.height)
    fill(bone, ellipse(center, axes, f.theta + math.radians(rng.uniform(-30, 10))), look.bone * 0.9)


def _dens_top(c2: Vertebra, dens_height: float) -> float:
    """v (in C2's frame) of the tip of the dens."""
    return -0.5 * c2.height - dens_height


def _draw_atlas(bone: np.ndarray, c2: Vertebra, dens_height: float, look: Look) -> None:
    """C1: lateral mass behind the dens, small anterior arch in front, long posterior arch."""
    f, w, h = c2.frame, c2.depth, c2.height / 1.3
    top = _dens_top(c2, dens_height)
    fill(
        bone,
        f.poly(
            [
                (-0.05 * w, top + 0.05 * h),
                (0.65 * w, top + 0.15 * h),
                (0.65 * w, top + 0.75 * h),
                (-0.05 * w, top + 0.7 * h),
            ]
        ),
        look.posterior * 0.8,
    )
    arch = ellipse(f.at(-0.45 * w, top + 0.45 * h), (0.14 * w, 0.28 * h), f.theta)
    fill(bone, arch, look.bone)
    outline(bone, arch, look.bone * look.cortex, 2)
    posterior_arch = f.poly(
        [
            (0.6 * w, top + 0.25 * h),
            (1.9 * w, top + 0.15 * h),
            (2.0 * w, top + 0.5 * h),
            (0.6 * w, top + 0.6 * h),
        ]
    )
    fill(bone, posterior_arch, look.posterior)
    fill(
        bone,
        ellipse(f.at(2.0 * w, top + 0.32 * h), (0.18 * w, 0.22 * h), f.theta),
        look.posterior * 1.15,
    )


def _draw_posterior_elements(
    bone: np.ndarray, vert: Vertebra, index: int, disc_below: float, look: Look, length: float
) -> None:
    """Pedicle, articular pillar (facets slope down-backwards) and lamina + spinous process."""
    f, hw, w = vert.frame, 0.5 * vert.depth, vert.depth
    h = vert.height / 1.3 if index == 0 else vert.height
    hh = 0.5 * vert.height
    slope = 0.5 * w  # facet joints slope ~45 deg downwards going posterior
    pedicle = f.poly(
        [
            (hw - 0.05 * w, -0.45 * hh),
            (hw + 0.3 * w, -0.4 * hh),
            (hw + 0.3 * w, 0.05 * hh),
            (hw - 0.05 * w, -0.05 * hh),
        ]
    )
    fill(bone, pedicle, look.posterior)
    a0, a1 = hw + 0.2 * w, hw + 0.72 * w
    top = -hh - (0.6 * h if index == 0 else 0.1 * h)  # C2's pars reaches up to the atlas
    bottom = hh + 0.7 * disc_below
    pillar = f.poly([(a0, top), (a1, top + slope), (a1, bottom + slope), (a0, bottom)])
    fill(bone, pillar, look.posterior)
    outline(bone, pillar, look.posterior * 1.35, max(1, int(0.03 * h)))
    girth = (0.55 if index == 0 else 0.38) * h
    base_v = 0.15 * hh + 0.6 * slope
    tip_u, tip_v = a1 + length, base_v + 0.45 * length
    spinous = f.poly(
        [
            (a1 - 0.1 * w, base_v - girth),
            (tip_u, tip_v - 0.45 * girth),
            (tip_u, tip_v + 0.2 * girth),
            (a1 - 0.1 * w, base_v + 0.6 * girth),
        ]
    )
    fill(bone, spinous, look.posterior)
    fill(
        bone,
        ellipse(f.at(tip_u, tip_v - 0.1 * girth), (0.2 * girth, 0.35 * girth), f.theta),
        look.posterior * 1.1,
    )


def _draw_dens(bone: np.ndarray, c2: Vertebra, dens_height: float, look: Look) -> None:
    """Odontoid process rising from the C2 body up behind the anterior arch of C1."""
    f, w = c2.frame, c2.depth
    r = 0.21 * w
    tip = _dens_top(c2, dens_height)
    column = f.poly(
        [(-r, tip + r), (r, tip + r), (1.15 * r, -0.3 * c2.height), (-1.15 * r, -0.3 * c2.height)]
    )
    fill(bone, column, look.bone)
    fill(bone, ellipse(f.at(0.0, tip + r), (r, r), f.theta), look.bone)
    outline(bone, column[:2], look.bone * look.cortex, 2, closed=False)


def _draw_body(bone: np.ndarray, vert: Vertebra, look: Look) -> None:
    contour = _body_outline(vert)
    fill(bone, contour, look.bone)
    outline(bone, contour, look.bone * look.cortex, max(2, int(round(0.045 * vert.height))))


def _draw_osteophytes(bone: np.ndarray, vert: Vertebra, spurs: np.ndarray, look: Look) -> None:
    """Anterior spurs: beaks out of the anterior corners, pointing towards the adjacent disc."""
    tl, tr, br, bl = vert.corners
    anterior_down = (bl - tl) / np.linalg.norm(bl - tl)
    back = (tr - tl) / np.linalg.norm(tr - tl)
    for corner, along_endplate, toward_disc, size in (
        (tl, back, -anterior_down, spurs[0]),
        (bl, (br - bl) / np.linalg.norm(br - bl), anterior_down, spurs[1]),
    ):
        length = size * vert.height
        if length < 1.5:
            continue
        beak = np.stack(
            [
                corner - toward_disc * 0.9 * length,
                corner - back * 0.45 * length - toward_disc * 0.25 * length,
                corner - back * 0.5 * length + toward_disc * 0.6 * length,
                corner - back * 0.2 * length + toward_disc * 0.35 * length,
                corner + along_endplate * 0.3 * length,
            ]
        )
        fill(bone, beak, look.bone * 1.05)
        outline(bone, beak, look.bone * look.cortex, max(1, int(0.03 * vert.height)))


def _draw_sclerosis(
    bone: np.ndarray, vert: Vertebra, thickness: float, density: float, look: Look
) -> None:
    """Sclerotic endplates: a thick dense band just inside the superior and inferior edges."""
    px = thickness * vert.height
    if px < 1.0:
        return
    tl, tr, br, bl = vert.corners
    down = (bl - tl + br - tr) / np.linalg.norm(bl - tl + br - tr)
    inset = 0.5 * px + 0.04 * vert.height
    value = look.bone * (look.cortex + density)
    pairs = [(tl, tr, down), (bl, br, -down)] if vert.level != "C2" else [(bl, br, -down)]
    for a, b, inward in pairs:
        seg = np.stack([a + inward * inset, b + inward * inset])
        outline(bone, seg, value, int(round(px)), closed=False)


def _bone_layer(
    rng: np.random.Generator,
    verts: list[Vertebra],
    discs_px: np.ndarray,
    disease: DiseaseSigns,
    look: Look,
    shape: tuple[int, int],
) -> np.ndarray:
    bone = np.zeros(shape, np.float32)
    c2 = verts[0]
    dens_height = c2.height * rng.uniform(0.6, 0.75)
    dens_top = _dens_top(c2, dens_height)
    _draw_skull_base(rng, bone, c2, dens_top, look)
    _draw_face(rng, bone, c2, verts[1], dens_top, look)
    _draw_hyoid(rng, bone, verts[1], look)
    _draw_atlas(bone, c2, dens_height, look)
    spinous = _SPINOUS_LENGTH * rng.uniform(0.85, 1.15, 6)
    for i, vert in enumerate(verts):
        disc_below = discs_px[i] if i < len(discs_px) else 0.3 * vert.height
        _draw_posterior_elements(bone, vert, i, disc_below, look, spinous[i] * vert.depth)
    _draw_dens(bone, c2, dens_height, look)
    for i, vert in enumerate(verts):
        _draw_body(bone, vert, look)
        _draw_osteophytes(bone, vert, disease.osteophytes[i], look)
        _draw_sclerosis(bone, vert, float(disease.sclerosis[i]), disease.sclerosis_density, look)
    # Trabecular bone: fine mottle inside every bone, coarser density variation on top.
    cell = max(2.5, c2.height / 16)
    texture = smooth_noise(rng, shape, cell, cv2.INTER_LINEAR)
    bone *= 1.0 + look.trabecular * texture
    return bone


# -----------------------------------------------------------------------------------------------
# Film and exposure
# -----------------------------------------------------------------------------------------------


def _film_base(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Unexposed-film level with a slow exposure gradient (heel effect) and mottle."""
    h, w = shape
    direction = rng.uniform(0, 2 * np.pi)
    ys = np.linspace(-0.5, 0.5, h, dtype=np.float32)[:, None]
    xs = np.linspace(-0.5, 0.5, w, dtype=np.float32)[None, :]
    ramp = (math.cos(direction) * xs + math.sin(direction) * ys) * rng.uniform(0.02, 0.08)
    mottle = 0.012 * smooth_noise(rng, shape, max(shape) / 8, cv2.INTER_CUBIC)
    return ramp + mottle


def _expose(rng: np.random.Generator, attenuation: np.ndarray, look: Look) -> np.ndarray:
    """Blur, film response curve and grain; returns uint8."""
    img = cv2.GaussianBlur(attenuation, (0, 0), look.blur_sigma)
    img = look.offset + look.contrast * np.clip(img, 0.0, None)
    img = np.power(np.clip(img, 0.0, 1.0), look.gamma)
    # Grain is a little coarser than a pixel; drawn at half resolution keeps PNGs small.
    img += look.grain * smooth_noise(rng, img.shape, 2.0, cv2.INTER_LINEAR)
    return np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)


# -----------------------------------------------------------------------------------------------
# Public entry point
# -----------------------------------------------------------------------------------------------


def render_radiograph(
    rng: np.random.Generator,
    *,
    width: int,
    height: int,
    diseased: bool,
    severity: float,
    curvature: int,
    inverted: bool,
    lower_bold: bool = False,
    unit_px: float | None = None,
    c2_y: float | None = None,
) -> tuple[np.ndarray, dict[str, tuple[float, float]]]:
    """Returns (gray uint8 array of shape (height, width), {label: (x, y)} for the 23 labels).

    The planted effect's films (layout.plan_cases): lower_bold draws bold signs at C5-C7 only
    (anatomy.sample_disease), unit_px fixes the typical body height in pixels and c2_y the row
    of the C2 body's center; by default the spine's size follows the film's and the column
    sits in the middle."""
    if curvature not in (LORDOTIC, STRAIGHT, SIGMOID, REVERSE_SIGMOID, KYPHOTIC):
        raise ValueError(f"curvature must be 1..5, got {curvature}")
    shape = (height, width)
    severity = float(np.clip(severity, 0.0, 1.0))
    disease = sample_disease(rng, diseased, severity, lower_bold)
    heights, depths, discs = sample_sizes(rng, disease)
    span = 0.5 * heights[0] + heights[1:].sum() + discs.sum()  # C2 center to C7 bottom
    unit = min(height * rng.uniform(0.36, 0.52) / span, width / 9.5)
    if unit_px is not None:
        unit = unit_px
    length = float((heights.sum() - 0.5 * heights[0] + discs.sum()) * unit)
    curve = build_curve(rng, curvature, length, 3.0 * max(shape))
    verts = build_vertebrae(rng, curve, heights, depths, discs, unit)
    offset = placement_offset(rng, verts, width, height, c2_y)
    curve, verts = curve.shifted(offset), [v.shifted(offset) for v in verts]

    look = _sample_look(rng)
    attenuation = _film_base(rng, shape)
    attenuation += _soft_tissue_layer(rng, curve, verts, look, shape)
    attenuation += _bone_layer(rng, verts, discs * unit, disease, look, shape)
    add_ruler(rng, attenuation)
    if rng.random() < 0.35:
        add_collimation(rng, attenuation)
    image = _expose(rng, attenuation, look)
    if rng.random() < 0.25:
        add_black_frame(rng, image)
    burn_in_text(rng, image)  # annotations are added after digitisation, over any padding
    if inverted:
        image = 255 - image
    return image, keypoints(verts)
