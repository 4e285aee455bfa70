"""The built-in synthetic CSXA set ("phantom"): same layout and quirks, drawn, not real patients."""

from csxa_lightning.phantom.layout import (
    CSXA_HEALTHY_FRACTION,
    CSXA_IMAGES,
    PhantomSummary,
    generate_phantom,
)
from csxa_lightning.phantom.store import ensure_phantom

__all__ = [
    "CSXA_HEALTHY_FRACTION",
    "CSXA_IMAGES",
    "PhantomSummary",
    "ensure_phantom",
    "generate_phantom",
]
