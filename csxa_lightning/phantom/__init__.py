"""The built-in synthetic CSXA set ("phantom"): same layout and quirks, drawn, not real patients."""

from __future__ import annotations

from csxa_lightning.phantom.csxa_counts import CSXA_HEALTHY_FRACTION, CSXA_IMAGES

__all__ = [
    "CSXA_HEALTHY_FRACTION",
    "CSXA_IMAGES",
    "PhantomSummary",
    "ensure_phantom",
    "generate_phantom",
]


def __getattr__(name: str) -> object:
    """The renderer's names, imported on first use (PEP 562): `csxa-phantom --help`, and the
    bench's, which import this package, answer without loading OpenCV, pandas and openpyxl."""
    if name in ("PhantomSummary", "generate_phantom"):
        from csxa_lightning.phantom import layout

        return getattr(layout, name)
    if name == "ensure_phantom":
        from csxa_lightning.phantom import store

        return store.ensure_phantom
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
