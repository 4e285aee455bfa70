"""The landmark report's pictures: one test film in grey with its annotated landmarks (green),
the model's predicted ones (red) and a line joining each pair, so that a reader sees where and
how far the model missed. Drawn with matplotlib's Agg backend (figures.pyplot) from a film and
landmarks.csv's rows of it; nothing here computes an error."""

from __future__ import annotations

import numpy as np

from csxa_lightning.results.figures import png_bytes, pyplot

ANNOTATED_COLOR = "#2ca02c"  # green
PREDICTED_COLOR = "#d62728"  # red
PAIR_COLOR = "#ffd700"  # the miss between the two, visible on bone and on background
# Shown around the landmarks, as a share of their extent: the spine fills a small part of a
# lateral film, and a whole film at report size would shrink a 2 mm miss below one pixel.
MARGIN = 0.35
MIN_MARGIN_PX = 40
FIGURE_HEIGHT_IN = 7.0


def film_overlay(
    gray: np.ndarray, annotated: np.ndarray, predicted: np.ndarray, title: str
) -> bytes:
    """PNG bytes of the film (8-bit grey, H x W) cropped around its landmarks, annotated (K, 2)
    in green, predicted (K, 2) in red, both (x, y) film pixels; a NaN annotated point (not
    annotated) shows its prediction only."""
    annotated = np.asarray(annotated, dtype=float)
    predicted = np.asarray(predicted, dtype=float)
    x0, x1, y0, y1 = view_window(gray.shape, np.concatenate([annotated, predicted]))
    plt = pyplot()
    aspect = (x1 - x0) / max(y1 - y0, 1)
    fig, ax = plt.subplots(figsize=(min(max(FIGURE_HEIGHT_IN * aspect, 3.0), 12.0), 7.5))
    ax.imshow(gray, cmap="gray", vmin=0, vmax=255, interpolation="lanczos")
    for (xa, ya), (xp, yp) in zip(annotated, predicted, strict=True):
        if np.isfinite([xa, ya]).all():
            ax.plot([xa, xp], [ya, yp], color=PAIR_COLOR, lw=1.0)
    ax.scatter(*annotated.T, s=22, c=ANNOTATED_COLOR, edgecolors="black", linewidths=0.4,
               label="annotated", zorder=3)  # fmt: skip
    ax.scatter(*predicted.T, s=30, c=PREDICTED_COLOR, marker="x", linewidths=1.4,
               label="predicted", zorder=4)  # fmt: skip
    ax.set_xlim(x0, x1)
    ax.set_ylim(y1, y0)  # image rows grow downwards
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="upper right")
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    return png_bytes(fig)


def view_window(shape: tuple[int, ...], points: np.ndarray) -> tuple[float, float, float, float]:
    """(x0, x1, y0, y1): the landmarks' extent with a margin, cut to the film -- but never
    cutting off a prediction that fell outside it (that miss is what the picture is for); the
    whole film when no point is finite."""
    height, width = shape[:2]
    finite = points[np.isfinite(points).all(axis=1)]
    if not len(finite):
        return -0.5, width - 0.5, -0.5, height - 0.5
    (left, top), (right, bottom) = finite.min(axis=0), finite.max(axis=0)
    margin = max(MARGIN * max(right - left, bottom - top), MIN_MARGIN_PX)
    pad = MIN_MARGIN_PX / 2  # a point outside the film keeps a little room
    return (
        max(left - margin, min(-0.5, left - pad)),
        min(right + margin, max(width - 0.5, right + pad)),
        max(top - margin, min(-0.5, top - pad)),
        min(bottom + margin, max(height - 0.5, bottom + pad)),
    )
