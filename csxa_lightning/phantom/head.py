"""The bones of a phantom radiograph around the cervical spine: the skull base with clivus and
mastoid, the mandible in front of C2/C3 with both tooth rows and the hard palate, and the hyoid.
Each is placed in the frame of the C2 or C3 body."""

from __future__ import annotations

import math

import numpy as np

from csxa_lightning.phantom.anatomy import Frame, Vertebra
from csxa_lightning.phantom.drawing import ellipse, fill, outline
from csxa_lightning.phantom.film import Look


def draw_skull_base(
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


def draw_face(
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


def draw_hyoid(rng: np.random.Generator, bone: np.ndarray, c3: Vertebra, look: Look) -> None:
    """Hyoid body at about C3-C4, well in front of the airway."""
    f = c3.frame
    center = f.at(-c3.depth * rng.uniform(2.2, 2.8), c3.height * rng.uniform(0.3, 0.9))
    axes = (0.28 * c3.depth, 0.14 * c3.height)
    fill(bone, ellipse(center, axes, f.theta + math.radians(rng.uniform(-30, 10))), look.bone * 0.9)
