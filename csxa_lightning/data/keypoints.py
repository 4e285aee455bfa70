"""The 23 canonical CSXA landmark labels and how raw LabelMe labels map onto them."""

from __future__ import annotations

import re

CORNERS = ("top left", "top right", "bottom left", "bottom right")

# "left" is anterior: the patient faces image-left (csxa-format.md).
KEYPOINT_LABELS: tuple[str, ...] = (
    "C2 centroid",
    "C2 bottom left",
    "C2 bottom right",
    *(f"C{n} {corner}" for n in range(3, 8) for corner in CORNERS),
)
assert len(KEYPOINT_LABELS) == 23

_SPACES = re.compile(r"\s+")


def normalize_label(raw: str) -> str:
    """Casefold and collapse whitespace, the two label quirks of the real annotation files."""
    return _SPACES.sub(" ", raw).strip().casefold()


CANONICAL_BY_NORMALIZED: dict[str, str] = {normalize_label(k): k for k in KEYPOINT_LABELS}
