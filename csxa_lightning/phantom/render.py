"""Draw one synthetic lateral cervical-spine radiograph and the 23 landmarks it contains.

The geometry (spine curve, bodies, disease signs, landmarks) comes from
:mod:`csxa_lightning.phantom.anatomy`; this module draws it, one layer after the other, each
layer from the module named. The patient faces image-left, so "left" is anterior. Everything is
drawn as attenuation in float32 (0 = no absorption) and tone-mapped to a film-like gray image at
the end. Back to front:

* film (film.py): a dark base with a slow exposure gradient and mottle;
* soft tissue (soft_tissue.py, drawn at quarter resolution, it is blurred anyway): the neck as a
  broad band that follows the column and widens into the head above and the shoulders below,
  the darker air column of pharynx and trachea in front of the bodies, and the shoulders
  brightening the bottom;
* bone (bone.py; the head's bones from head.py): the skull base with clivus and mastoid, the
  hard palate with teeth, the mandible in front of C2/C3, the hyoid, the atlas (C1) arches,
  posterior elements (pedicle, articular pillar, lamina with spinous process, long at C7), the
  dens, and the C2-C7 vertebral bodies with a bright cortical rim and trabecular texture; discs
  are simply the soft-tissue gaps between bodies;
* disease (bone.py), as sampled by the anatomy: narrowed discs (in the geometry already),
  anterior osteophytes growing out of the body corners, and sclerotic (thick, bright) endplates;
* acquisition: a radiographed ruler, sometimes a bright collimation edge, blur, exposure
  (offset, contrast, gamma) and film grain (film.py); then burned-in text, sometimes a black
  frame, and finally the optional inversion (white background, dark bone). Ruler, collimation,
  text and frame come from :mod:`csxa_lightning.phantom.clutter`.

The landmarks returned are the drawn corners of the C3-C7 bodies plus the centroid and the two
inferior corners of the C2 body, in pixel coordinates (x right, y down). Osteophytes grow outside
the corners, so the landmarks stay on the body. All randomness comes from the ``rng`` argument.
"""

from __future__ import annotations

import numpy as np

from csxa_lightning.phantom.anatomy import (
    KYPHOTIC,
    LORDOTIC,
    REVERSE_SIGMOID,
    SIGMOID,
    STRAIGHT,
    build_curve,
    build_vertebrae,
    keypoints,
    placement_offset,
    sample_disease,
    sample_sizes,
)
from csxa_lightning.phantom.bone import bone_layer
from csxa_lightning.phantom.clutter import add_black_frame, add_collimation, add_ruler, burn_in_text
from csxa_lightning.phantom.film import expose, film_base, sample_look
from csxa_lightning.phantom.soft_tissue import soft_tissue_layer


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

    look = sample_look(rng)
    attenuation = film_base(rng, shape)
    attenuation += soft_tissue_layer(rng, curve, verts, look, shape)
    attenuation += bone_layer(rng, verts, discs * unit, disease, look, shape)
    add_ruler(rng, attenuation)
    if rng.random() < 0.35:
        add_collimation(rng, attenuation)
    image = expose(rng, attenuation, look)
    if rng.random() < 0.25:
        add_black_frame(rng, image)
    burn_in_text(rng, image)  # annotations are added after digitisation, over any padding
    if inverted:
        image = 255 - image
    return image, keypoints(verts)
