"""Class balancing of the training split: none, random oversampling, SMOTE, or loss weights.

Each strategy is built by Hydra from ``conf/balance/*.yaml`` and offers
``resample(images, labels, seed) -> BalancedSet`` and ``class_weights(labels)``. Resampled sets
keep the N originals first, in order, followed by the new samples of every class that was grown
(ascending class id), so that every class ends with as many samples as the largest one.

SMOTE with bounded memory
-------------------------
The real training split is 3722 films of 2 x 3 x 224 x 224 uint8 (301056 features); SMOTE must
add 3454 healthy ones. A plain ``SMOTE().fit_resample(X, y)`` needs tens of GB: it copies X,
builds the new samples in float64 (8 GB), and, measured with imbalanced-learn 0.14 and
scikit-learn 1.9, its brute-force neighbour search alone peaks 2.3 GB above the data for the
134 healthy films in float32 (per-thread float64 buffers). So SMOTE is used like this:

* Neighbours are computed here, once per grown class, from exact squared Euclidean distances
  (a float64 Gram matrix of uint8 pixels, accumulated over column blocks: every partial sum is an
  integer below 2**53, hence exact). The sample itself is put first, and ties are broken by
  index. They reach imblearn through ``k_neighbors=``, which accepts any object with
  ``kneighbors``/``kneighbors_graph``; ``_PrecomputedNeighbours`` returns the table.
* imblearn's ``SMOTE`` then generates the samples, one block of feature columns at a time.
  ``SMOTE._fit_resample`` (imblearn/over_sampling/_smote/base.py) fits the neighbour object on
  the rows of the grown class only (X_class), takes ``kneighbors(X_class)[:, 1:]`` as the k
  neighbours, draws ``rows, cols = divmod(randint(0, n_c * k, n), k)`` and
  ``steps = uniform(size=n)`` from ``check_random_state(random_state)``, and returns
  ``X_class[rows] + steps * (X_class[nn[rows, cols]] - X_class[rows])``, i.e. x_i + lambda
  (x_nn - x_i) with x_nn among the k nearest neighbours of x_i in the same class. The draws
  depend only on the seed, n_c, k and n, never on the number of columns, and the
  interpolation is element-wise; so with the same integer seed for every block, the blocks
  put together are exactly the samples one call on all columns would give (the tests check
  this against a plain ``SMOTE.fit_resample``). The result is therefore the same for any
  ``memory_budget_mb``.
* imblearn needs at least two classes in y, so each call gets the n_c rows of the grown class
  plus one all-zero placeholder row labelled as another class. The placeholder is never read
  for neighbours or interpolation (only X_class is), so no majority film enters a synthetic one.
* Features go to imblearn as float32 (uint8 values are exact in it, and SMOTE keeps the input
  dtype), and the new samples are rounded (``np.rint``) and clipped to uint8, not truncated.
* The output is allocated once (M x sample bytes), by the caller if it likes (``n_new`` says
  how many rows to add; the DataModule reads the originals from the cache straight into the
  front of it, so they are never held twice); each block of synthetic columns is written
  straight into it. ``memory_budget_mb`` bounds the working
  memory of one SMOTE call (see ``_smote_bytes_per_column``); the output array and one uint8
  copy of the grown class come on top.

Measured on the real size with random pixels (2 CPU cores, default budget): the whole process
peaks at 3768 MiB RSS (1069 MiB input and 2060 MiB output included) and takes 15 s; SMOTE's own
working memory stays near 430 MiB.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from imblearn.over_sampling import SMOTE, RandomOverSampler
from sklearn.base import BaseEstimator

from csxa_lightning.utils.errors import ConfigValueError, UserError

_MIB = 1024 * 1024
# Rows copied per step when duplicating samples: bounds the temporary of fancy indexing.
_COPY_CHUNK_BYTES = 64 * _MIB


@dataclass(frozen=True)
class BalancedSet:
    """A training set after balancing: the N originals first, in order, then new samples."""

    images: np.ndarray  # (M, *sample_shape), the input's dtype (uint8)
    labels: np.ndarray  # (M,) int64
    synthetic: np.ndarray  # (M,) bool, True for generated or duplicated samples


class NoBalancing:
    """balance=none: the training set as it is."""

    label = "no balancing"  # in log lines

    def resample(
        self, images: np.ndarray, labels: np.ndarray, seed: int, out: np.ndarray | None = None
    ) -> BalancedSet:
        return _unchanged(*_check_inputs(images, labels))

    def n_new(self, labels: np.ndarray) -> int:
        """How many samples resample() adds: lets the caller allocate the output once."""
        return 0

    def class_weights(self, labels: np.ndarray) -> list[float] | None:
        return None


class ClassWeighting(NoBalancing):
    """balance=weighted: no resampling; cross-entropy weighted by n / (n_classes * n_c)."""

    label = "class weighting"  # in log lines

    def class_weights(self, labels: np.ndarray) -> list[float] | None:
        labels = _as_labels(labels)
        if len(labels) == 0:
            raise ValueError("class weights need at least one training label; got none")
        # At least two entries: the task is binary, and the loss wants one weight per class.
        counts = np.bincount(labels, minlength=2)
        present = counts > 0
        weights = len(labels) / (present.sum() * np.maximum(counts, 1))
        # A class absent from training never is a target there; weight 1 keeps it neutral.
        return [float(w) for w in np.where(present, weights, 1.0)]


class RandomOversampling(NoBalancing):
    """balance=oversample: imblearn's RandomOverSampler duplicates samples of the smaller classes.

    The sampler is run on row indices instead of pixels (it would copy the whole set twice);
    its ``sample_indices_`` then say which films to copy into the preallocated output.
    """

    label = "random oversampling"  # in log lines

    def resample(
        self, images: np.ndarray, labels: np.ndarray, seed: int, out: np.ndarray | None = None
    ) -> BalancedSet:
        images, labels = _check_inputs(images, labels)
        if not _deficits(labels):
            return _unchanged(images, labels)
        n = len(labels)
        sampler = RandomOverSampler(random_state=seed)
        sampler.fit_resample(np.arange(n).reshape(-1, 1), labels)
        picks = sampler.sample_indices_[n:]
        out = _allocate(images, len(picks), out)
        _copy_rows(out[n:], images, picks)
        return _grown(out, labels, labels[picks])

    def n_new(self, labels: np.ndarray) -> int:
        return sum(_deficits(_as_labels(labels)).values())


# The smallest settings SMOTE works with (config/checks.py states the same rules from these).
MIN_K_NEIGHBORS = 1
MIN_MEMORY_BUDGET_MB = 1


class SMOTEBalancing(NoBalancing):
    """balance=smote (the paper): imblearn's SMOTE, memory-bounded; see the module docstring."""

    label = "SMOTE"  # in log lines

    def __init__(self, k_neighbors: int = 5, memory_budget_mb: int = 512) -> None:
        if int(k_neighbors) < MIN_K_NEIGHBORS:
            raise ConfigValueError(
                f"balance.k_neighbors={k_neighbors}: must be at least {MIN_K_NEIGHBORS}"
            )
        if int(memory_budget_mb) < MIN_MEMORY_BUDGET_MB:
            raise ConfigValueError(
                f"balance.memory_budget_mb={memory_budget_mb}: must be at least "
                f"{MIN_MEMORY_BUDGET_MB}"
            )
        self.k_neighbors = int(k_neighbors)
        self.memory_budget_mb = int(memory_budget_mb)

    def __repr__(self) -> str:
        return (
            f"SMOTEBalancing(k_neighbors={self.k_neighbors}, "
            f"memory_budget_mb={self.memory_budget_mb})"
        )

    def resample(
        self, images: np.ndarray, labels: np.ndarray, seed: int, out: np.ndarray | None = None
    ) -> BalancedSet:
        images, labels = _check_inputs(images, labels)
        deficits = _deficits(labels)
        if not deficits:
            return _unchanged(images, labels)
        if images.dtype != np.uint8:
            raise ValueError(
                f"SMOTE balancing expects uint8 images (it rounds new samples to uint8); got "
                f"{images.dtype}. Pass the preprocessed uint8 cache, or use balance=oversample."
            )
        self._check_class_sizes(labels, deficits)
        n = len(labels)
        out = _allocate(images, sum(deficits.values()), out)
        new_rows = out.reshape(len(out), -1)[n:]  # a view: SMOTE writes straight into `out`
        start = 0
        for cls, count in deficits.items():
            members = images[np.flatnonzero(labels == cls)].reshape(-1, new_rows.shape[1])
            table = _neighbour_table(members, self.k_neighbors, self._budget_bytes)
            self._generate(members, table, count, seed, new_rows[start : start + count])
            start += count
        new_labels = np.concatenate([np.full(c, cls, np.int64) for cls, c in deficits.items()])
        return _grown(out, labels, new_labels)

    def n_new(self, labels: np.ndarray) -> int:
        return sum(_deficits(_as_labels(labels)).values())

    @property
    def _budget_bytes(self) -> int:
        return self.memory_budget_mb * _MIB

    def _check_class_sizes(self, labels: np.ndarray, deficits: dict[int, int]) -> None:
        need = self.k_neighbors + 1  # the sample itself plus its k neighbours
        for cls in deficits:
            have = int((labels == cls).sum())
            if have < need:
                raise UserError(
                    f"SMOTE with k_neighbors={self.k_neighbors} needs at least {need} samples of "
                    f"class {cls} in the training split, but it has {have}. Use "
                    f"balance=oversample or lower balance.k_neighbors"
                    + (f" (to at most {have - 1})." if have > 1 else ".")
                )

    def _generate(
        self, members: np.ndarray, table: np.ndarray, count: int, seed: int, dest: np.ndarray
    ) -> None:
        """Write `count` SMOTE samples of `members` (n_c, F) uint8 into `dest` (count, F) uint8."""
        n_c, n_features = members.shape
        width = max(1, self._budget_bytes // _smote_bytes_per_column(n_c, count))
        # Local labels: 0 = the grown class, 1 = the placeholder row imblearn needs.
        y = np.zeros(n_c + 1, np.int64)
        y[-1] = 1
        for a in range(0, n_features, width):
            b = min(n_features, a + width)
            x = np.zeros((n_c + 1, b - a), np.float32)
            x[:n_c] = members[:, a:b]
            # Same integer seed in every block: the same draws, hence column blocks of one result.
            smote = SMOTE(
                sampling_strategy={0: n_c + count},
                random_state=seed,
                k_neighbors=_PrecomputedNeighbours(table),
            )
            x_res, _ = smote.fit_resample(x, y)
            block = x_res[n_c + 1 :]  # imblearn returns the input rows first, then the new ones
            np.rint(block, out=block)
            np.clip(block, 0, 255, out=block)
            dest[:, a:b] = block


class _PrecomputedNeighbours(BaseEstimator):
    """A nearest-neighbour "search" that answers from a precomputed (n, k + 1) index table.

    Only for the set it was computed on, queried with itself, as SMOTE does:
    ``fit(X_class)`` then ``kneighbors(X_class, return_distance=False)``.
    """

    def __init__(self, table: np.ndarray) -> None:
        self.table = table

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> _PrecomputedNeighbours:
        if X.shape[0] != len(self.table):
            raise ValueError(f"neighbour table is for {len(self.table)} rows, got {X.shape[0]}")
        self.n_samples_fit_ = X.shape[0]
        return self

    def kneighbors(
        self,
        X: np.ndarray | None = None,
        n_neighbors: int | None = None,
        return_distance: bool = True,
    ) -> np.ndarray:
        if X is None or X.shape[0] != self.n_samples_fit_:
            raise ValueError("precomputed neighbours answer only for the fitted rows themselves")
        if n_neighbors not in (None, self.table.shape[1]) or return_distance:
            raise ValueError("precomputed neighbours hold k + 1 indices and no distances")
        return self.table.copy()

    def kneighbors_graph(
        self,
        X: np.ndarray | None = None,
        n_neighbors: int | None = None,
        mode: str = "connectivity",
    ) -> None:
        # Present because imblearn checks for it; SMOTE itself only calls kneighbors.
        raise NotImplementedError("precomputed neighbours serve kneighbors only")


def _smote_bytes_per_column(n_c: int, count: int) -> int:
    """Peak bytes per feature column of one SMOTE call growing n_c float32 rows by `count`.

    Old rows: our input, imblearn's X.copy() and X_class, then the vstack output: 16 (n_c + 1).
    Per new sample, while generating: diffs (float32), steps * diffs and its sum with
    X_class[rows] (float64 each), X_class[rows] (float32): 24; at the vstack only 8 remain.
    """
    return 16 * (n_c + 1) + 24 * count


def _neighbour_table(members: np.ndarray, k: int, budget_bytes: int) -> np.ndarray:
    """(n_c, k + 1) indices: each row itself, then its k nearest rows by Euclidean distance."""
    n_c, n_features = members.shape
    gram = np.zeros((n_c, n_c), np.float64)
    width = max(1, budget_bytes // (8 * n_c))
    for a in range(0, n_features, width):
        block = members[:, a : a + width].astype(np.float64)
        gram += block @ block.T  # integer-valued and < 2**53: exact
    sq = np.diag(gram)
    dist = sq[:, None] + sq[None, :] - 2.0 * gram
    # The sample itself first even among exact duplicates: SMOTE drops column 0 as "itself".
    np.fill_diagonal(dist, -1.0)
    return np.argsort(dist, axis=1, kind="stable")[:, : k + 1]


def _check_inputs(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    images = np.asarray(images)  # a view, also of a (read-only) memmap: no copy
    labels = _as_labels(labels)
    if images.ndim < 1 or len(images) != len(labels):
        raise ValueError(
            f"images has {len(images) if images.ndim else 'no'} samples but labels has "
            f"{len(labels)}; pass one label per image (images of shape (N, ...), labels (N,))"
        )
    return images, labels


def _as_labels(labels: np.ndarray) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be one-dimensional (N,), got shape {labels.shape}")
    integral = labels.dtype.kind in "biu" or (
        labels.dtype.kind == "f" and bool(np.all(labels == np.round(labels)))
    )
    if not integral:
        raise ValueError(
            f"labels must be integer class ids (0 = healthy, 1 = diseased), got {labels.dtype}"
        )
    labels = labels.astype(np.int64)
    if labels.size and labels.min() < 0:
        raise ValueError(f"labels must be class ids >= 0, got {labels.min()}")
    return labels


def _deficits(labels: np.ndarray) -> dict[int, int]:
    """Samples each smaller class needs to match the largest; empty if nothing to balance."""
    classes, counts = np.unique(labels, return_counts=True)
    target = counts.max(initial=0)
    return {int(c): int(target - n) for c, n in zip(classes, counts, strict=True) if n < target}


def _unchanged(images: np.ndarray, labels: np.ndarray) -> BalancedSet:
    return BalancedSet(images, labels, np.zeros(len(labels), dtype=bool))


def _allocate(images: np.ndarray, n_new: int, out: np.ndarray | None = None) -> np.ndarray:
    """The output with the originals at its front: `out` when the caller preallocated it (and
    may already have put the originals there: then nothing is copied), else a new array."""
    shape = (len(images) + n_new, *images.shape[1:])
    if out is None:
        out = np.empty(shape, dtype=images.dtype)
    elif out.shape != shape or out.dtype != images.dtype:
        raise ValueError(
            f"preallocated output has shape {out.shape} {out.dtype}; resample needs {shape} "
            f"{images.dtype} (allocate len(images) + n_new(labels) rows)"
        )
    if not np.shares_memory(out[: len(images)], images):
        out[: len(images)] = images
    return out


def _copy_rows(dest: np.ndarray, images: np.ndarray, rows: np.ndarray) -> None:
    step = max(1, _COPY_CHUNK_BYTES // max(1, images[:1].nbytes))
    for a in range(0, len(rows), step):
        dest[a : a + step] = images[rows[a : a + step]]


def _grown(out: np.ndarray, labels: np.ndarray, new_labels: np.ndarray) -> BalancedSet:
    n = len(labels)
    synthetic = np.arange(len(out)) >= n
    return BalancedSet(out, np.concatenate([labels, new_labels]).astype(np.int64), synthetic)
