"""Per-channel mean and standard deviation of a set of images, computed online.

Pixels are on the [0, 1] scale (uint8 / 255; float input is taken as already scaled). Batches
are reduced one at a time, so a large (memory-mapped) set is never converted to float at once.

Each batch is reduced to (count, mean, M2 = sum of squared deviations) per channel and merged
with Chan et al.'s pairwise update, in float64. For uint8 batches the sums of x and x^2 are exact
integers and the batch M2 is formed from them exactly (n * sum(x^2) - sum(x)^2 in Python ints),
so there is no E[x^2] - E[x]^2 cancellation for nearly constant channels.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _as_array(batch: Any) -> np.ndarray:
    """numpy view of a (B, C, H, W) array or torch tensor, uint8 or float."""
    if hasattr(batch, "detach"):  # a torch tensor; duck-typed so torch is not imported here
        batch = batch.detach().cpu()
        if batch.is_floating_point():
            batch = batch.double()  # also covers float16/bfloat16, which numpy may lack
        batch = batch.numpy()
    array = np.asarray(batch)
    if array.ndim != 4:
        raise ValueError(f"expected a (B, C, H, W) batch, got shape {array.shape}")
    if array.dtype != np.uint8 and not np.issubdtype(array.dtype, np.floating):
        # Other integer types have no agreed scale to [0, 1].
        raise TypeError(f"expected uint8 or floating pixels, got {array.dtype}")
    return array


def _uint8_moments(array: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """(pixels per channel, mean, M2) of a uint8 batch on the [0, 1] scale, from exact sums."""
    n = array.shape[0] * array.shape[2] * array.shape[3]
    sums = np.sum(array, axis=(0, 2, 3), dtype=np.uint64)
    squares = np.sum(np.square(array, dtype=np.uint16), axis=(0, 2, 3), dtype=np.uint64)
    mean = sums.astype(np.float64) / (255.0 * n)
    # n * M2 * 255^2 = n * sum(x^2) - sum(x)^2 exactly, in Python ints (no overflow).
    m2 = np.array(
        [(n * int(q) - int(s) ** 2) / (n * 255.0**2) for s, q in zip(sums, squares, strict=True)]
    )
    return n, mean, m2


def _float_moments(array: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """(pixels per channel, mean, M2) of a float batch, two-pass in float64."""
    n = array.shape[0] * array.shape[2] * array.shape[3]
    x = array.astype(np.float64, copy=False)
    mean = x.mean(axis=(0, 2, 3))
    m2 = np.square(x - mean[None, :, None, None]).sum(axis=(0, 2, 3))
    return n, mean, m2


class RunningChannelStats:
    """Running per-channel mean and population std over batches of (B, C, H, W) images."""

    def __init__(self) -> None:
        self.count = 0  # pixels seen per channel
        self._mean: np.ndarray | None = None
        self._m2: np.ndarray | None = None

    def update(self, batch: Any) -> None:
        """Add a uint8 or float (B, C, H, W) array or tensor; uint8 is divided by 255."""
        array = _as_array(batch)
        if array.size == 0:
            return
        moments = _uint8_moments if array.dtype == np.uint8 else _float_moments
        n, mean, m2 = moments(array)
        if self._mean is None:
            self.count, self._mean, self._m2 = n, mean, m2
            return
        if mean.shape != self._mean.shape:
            raise ValueError(f"batch has {mean.size} channels, earlier ones had {self._mean.size}")
        # Chan et al.: merge (count, mean, M2) of two disjoint sets without cancellation.
        total = self.count + n
        delta = mean - self._mean
        self._mean = self._mean + delta * (n / total)
        self._m2 = self._m2 + m2 + delta**2 * (self.count * n / total)
        self.count = total

    def _require_data(self) -> None:
        if self.count == 0:
            raise ValueError("no pixels seen: channel statistics of an empty set are undefined")

    @property
    def mean(self) -> tuple[float, ...]:
        self._require_data()
        return tuple(float(m) for m in self._mean)

    @property
    def std(self) -> tuple[float, ...]:
        """Population standard deviation (divides by the pixel count)."""
        self._require_data()
        # Rounding can leave M2 a hair below 0 for a constant channel.
        return tuple(float(np.sqrt(max(m2, 0.0) / self.count)) for m2 in self._m2)


def channel_stats(
    images: Any, batch_size: int = 256
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean, std) per channel of (N, C, H, W) images (uint8, possibly a read-only memmap),
    reading ``batch_size`` images at a time."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if np.ndim(images) != 4:
        raise ValueError(f"expected (N, C, H, W) images, got shape {np.shape(images)}")
    stats = RunningChannelStats()
    for start in range(0, len(images), batch_size):
        stats.update(images[start : start + batch_size])
    return stats.mean, stats.std
