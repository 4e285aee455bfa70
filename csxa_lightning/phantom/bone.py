"""The bone layer of a phantom radiograph: the head's bones (head.py), the atlas (C1) arches,
posterior elements (pedicle, articular pillar, lamina with spinous process, long at C7), the
dens, and the C2-C7 vertebral bodies with a bright cortical rim and trabecular texture; discs are
simply the soft-tissue gaps between bodies. Disease, as sampled by the anatomy: narrowed discs
(in the geometry already), anterior osteophytes growing out of the body corners, and sclerotic
(thick, bright) endplates."""

from __future__ import annotations

import cv2
import numpy as np

from csxa_lightning.phantom.anatomy import DiseaseSigns, Vertebra
from csxa_lightning.phantom.drawing import ellipse, fill, outline, smooth_noise
from csxa_lightning.phantom.film import Look
from csxa_lightning.phantom.head import draw_face, draw_hyoid, draw_skull_base

# Spinous process length per level in body depths: C2 is big, C7 ("vertebra prominens") longest.
_SPINOUS_LENGTH = np.array([1.0, 0.6, 0.62, 0.7, 0.85, 1.45])


def bone_layer(
    rng: np.random.Generator,
    verts: list[Vertebra],
    discs_px: np.ndarray,
    disease: DiseaseSigns,
    look: Look,
    shape: tuple[int, int],
) -> np.ndarray:
    """The attenuation of every bone on a (height, width) canvas, back to front: head, atlas,
    posterior elements, dens, then the bodies with their disease signs; trabecular texture
    over all of it."""
    bone = np.zeros(shape, np.float32)
    c2 = verts[0]
    dens_height = c2.height * rng.uniform(0.6, 0.75)
    dens_top = _dens_top(c2, dens_height)
    draw_skull_base(rng, bone, c2, dens_top, look)
    draw_face(rng, bone, c2, verts[1], dens_top, look)
    draw_hyoid(rng, bone, verts[1], look)
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
