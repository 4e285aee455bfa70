"""Class balancing: SMOTE (exactly imblearn's samples, memory-bounded), oversampling, weights."""

from __future__ import annotations

import numpy as np
import pytest
from imblearn.over_sampling import SMOTE
from sklearn.neighbors import NearestNeighbors

from csxa_lightning.data import balance
from csxa_lightning.data.balance import (
    ClassWeighting,
    NoBalancing,
    RandomOversampling,
    SMOTEBalancing,
)

SHAPE = (2, 3, 16, 16)  # a film with two channel orders, like color=enhanced orders=both
K = 3


def make_set(n_min: int = 10, n_maj: int = 150, shape=SHAPE, seed: int = 0):
    """Healthy (0) pixels in [0, 100], diseased (1) in [155, 255], shuffled: a synthetic sample
    that touched a diseased film would show values above 100."""
    rng = np.random.default_rng(seed)
    healthy = rng.integers(0, 101, (n_min, *shape))
    diseased = rng.integers(155, 256, (n_maj, *shape))
    images = np.concatenate([healthy, diseased]).astype(np.uint8)
    labels = np.r_[np.zeros(n_min, np.int64), np.ones(n_maj, np.int64)]
    order = rng.permutation(len(labels))
    return images[order], labels[order]


def segment_lambda(sample: np.ndarray, xi: np.ndarray, xj: np.ndarray) -> float | None:
    """A lambda in [0, 1] with rint(xi + lambda (xj - xi)) == sample everywhere, else None."""
    s, a, d = sample.astype(float), xi.astype(float), xj.astype(float) - xi
    tol = 0.5 + 1e-3  # rounding to uint8, plus float32 error
    flat = d == 0
    if np.any(np.abs(s[flat] - a[flat]) > tol):
        return None
    bounds = np.stack([(s[~flat] - tol - a[~flat]), (s[~flat] + tol - a[~flat])]) / d[~flat]
    lo = max(0.0, bounds.min(axis=0).max(initial=0.0))
    hi = min(1.0, bounds.max(axis=0).min(initial=1.0))
    return lo if lo <= hi else None


def plain_smote(images, labels, k: int, seed: int) -> np.ndarray:
    """What imblearn's SMOTE gives on the whole flattened set, rounded to uint8."""
    x = images.reshape(len(images), -1).astype(np.float32)
    x_res, _ = SMOTE(k_neighbors=k, random_state=seed).fit_resample(x, labels)
    return np.clip(np.rint(x_res[len(x) :]), 0, 255).astype(np.uint8)


# --- SMOTE -----------------------------------------------------------------------------------


def test_smote_balances_and_keeps_originals_first():
    images, labels = make_set()
    out = SMOTEBalancing(k_neighbors=K).resample(images, labels, seed=0)
    n, n_new = len(labels), 150 - 10
    assert out.images.shape == (n + n_new, *SHAPE) and out.images.dtype == np.uint8
    assert out.labels.dtype == np.int64 and np.bincount(out.labels).tolist() == [150, 150]
    np.testing.assert_array_equal(out.images[:n], images)
    np.testing.assert_array_equal(out.labels[:n], labels)
    assert (out.labels[n:] == 0).all()
    np.testing.assert_array_equal(out.synthetic, np.arange(n + n_new) >= n)


def test_smote_samples_lie_between_a_healthy_film_and_one_of_its_k_nearest():
    images, labels = make_set()
    out = SMOTEBalancing(k_neighbors=K).resample(images, labels, seed=1)
    new = out.images[len(labels) :].reshape(-1, np.prod(SHAPE))
    healthy = images[labels == 0].reshape(-1, np.prod(SHAPE))
    assert new.max() <= 100  # no diseased pixel values leaked in
    knn = NearestNeighbors(n_neighbors=K + 1).fit(healthy.astype(float))
    neighbours = knn.kneighbors(healthy.astype(float), return_distance=False)[:, 1:]
    lambdas = []
    for sample in new:
        fits = [
            segment_lambda(sample, healthy[i], healthy[j])
            for i in range(len(healthy))
            for j in neighbours[i]
        ]
        found = [lam for lam in fits if lam is not None]
        assert found, "a synthetic sample is not on any healthy film-to-neighbour segment"
        lambdas.append(found[0])
    assert 0.2 < np.mean(lambdas) < 0.8  # steps are uniform on [0, 1), not all at the ends


@pytest.mark.parametrize("budget_mb", [1, 512])
def test_smote_equals_imblearn_on_the_whole_set_for_any_budget(monkeypatch, budget_mb):
    images, labels = make_set()
    calls = []

    class CountingSMOTE(SMOTE):
        def fit_resample(self, X, y, **params):
            calls.append(X.shape)
            return super().fit_resample(X, y, **params)

    monkeypatch.setattr(balance, "SMOTE", CountingSMOTE)
    out = SMOTEBalancing(k_neighbors=K, memory_budget_mb=budget_mb).resample(images, labels, 4)
    new = out.images[len(labels) :].reshape(-1, np.prod(SHAPE))
    np.testing.assert_array_equal(new, plain_smote(images, labels, K, seed=4))
    # Every call sees the 10 healthy films plus one placeholder row, never the diseased ones.
    assert {rows for rows, _ in calls} == {11}
    assert sum(cols for _, cols in calls) == np.prod(SHAPE)
    if budget_mb == 1:  # 1 MiB forces the column-block path
        assert len(calls) > 3
    else:
        assert len(calls) == 1


def test_smote_is_deterministic_per_seed():
    images, labels = make_set()
    smote = SMOTEBalancing(k_neighbors=K)
    a, b, c = (smote.resample(images, labels, seed=s).images for s in (7, 7, 8))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_smote_reads_a_read_only_memmap_and_a_slice_of_it(tmp_path):
    images, labels = make_set()
    np.save(tmp_path / "x.npy", images)
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
    smote = SMOTEBalancing(k_neighbors=K, memory_budget_mb=1)
    for view, y in ((mapped, labels), (mapped[5:], labels[5:])):
        out = smote.resample(view, y, seed=2)
        np.testing.assert_array_equal(out.images, smote.resample(np.array(view), y, 2).images)
        assert out.images.flags.writeable
    np.testing.assert_array_equal(mapped, images)


def test_smote_grows_every_smaller_class_from_its_own_films():
    images, labels = make_set(n_min=8, n_maj=30, shape=(1, 4, 4))
    labels = labels.copy()
    labels[np.flatnonzero(labels == 1)[:9]] = 2  # classes 0: 8, 1: 21, 2: 9
    out = SMOTEBalancing(k_neighbors=K).resample(images, labels, seed=0)
    assert np.bincount(out.labels).tolist() == [21, 21, 21]
    for cls, grown in ((0, out.images[38:51]), (2, out.images[51:])):
        own = images[labels == cls]
        lo, hi = own.min(axis=0), own.max(axis=0)  # inside the class's bounding box
        assert ((grown >= lo) & (grown <= hi)).all(), cls
    np.testing.assert_array_equal(out.labels[38:], [0] * 13 + [2] * 12)


def test_smote_explains_too_few_healthy_films():
    images, labels = make_set(n_min=4, n_maj=20)
    with pytest.raises(
        ValueError, match=r"at least 6 samples of class 0.*has 4.*balance=oversample"
    ):
        SMOTEBalancing(k_neighbors=5).resample(images, labels, seed=0)
    out = SMOTEBalancing(k_neighbors=3).resample(images, labels, seed=0)  # 4 = k + 1 suffices
    assert np.bincount(out.labels).tolist() == [20, 20]


def test_smote_rejects_bad_settings_and_inputs():
    images, labels = make_set(n_min=6, n_maj=10, shape=(4,))
    with pytest.raises(ValueError, match="k_neighbors=0"):
        SMOTEBalancing(k_neighbors=0)
    with pytest.raises(ValueError, match="memory_budget_mb=0"):
        SMOTEBalancing(memory_budget_mb=0)
    with pytest.raises(ValueError, match="16 samples but labels has 15"):
        SMOTEBalancing(k_neighbors=K).resample(images, labels[:-1], seed=0)
    with pytest.raises(ValueError, match="uint8"):
        SMOTEBalancing(k_neighbors=K).resample(images.astype(np.float32), labels, seed=0)


# --- the other strategies and the shared edge cases ------------------------------------------


def test_oversampling_duplicates_healthy_films():
    images, labels = make_set()
    out = RandomOversampling().resample(images, labels, seed=0)
    n = len(labels)
    assert np.bincount(out.labels).tolist() == [150, 150]
    np.testing.assert_array_equal(out.images[:n], images)
    np.testing.assert_array_equal(out.synthetic, np.arange(len(out.labels)) >= n)
    healthy = images[labels == 0].reshape(10, -1)
    copies = out.images[n:].reshape(len(out.labels) - n, 1, -1)
    assert (copies == healthy[None]).all(axis=2).any(axis=1).all()  # each one is an exact copy
    again = RandomOversampling().resample(images, labels, seed=0)
    np.testing.assert_array_equal(again.images, out.images)


def test_class_weights_are_n_over_two_n_c():
    labels = np.r_[np.zeros(134, np.int64), np.ones(3588, np.int64)]
    weights = ClassWeighting().class_weights(labels)
    assert weights == pytest.approx([3722 / (2 * 134), 3722 / (2 * 3588)])
    assert ClassWeighting().class_weights(np.ones(5, np.int64)) == [1.0, 1.0]
    for other in (NoBalancing(), RandomOversampling(), SMOTEBalancing()):
        assert other.class_weights(labels) is None


@pytest.mark.parametrize("strategy", [NoBalancing(), ClassWeighting()])
def test_strategies_without_resampling_return_the_input(strategy):
    images, labels = make_set()
    out = strategy.resample(images, labels, seed=0)
    assert np.shares_memory(out.images, images)  # no copy of the whole training set
    np.testing.assert_array_equal(out.labels, labels)
    assert not out.synthetic.any() and len(out.synthetic) == len(labels)


@pytest.mark.parametrize("strategy", [RandomOversampling(), SMOTEBalancing()])
@pytest.mark.parametrize("counts", [(0, 7), (7, 0), (5, 5)], ids=["one", "other", "balanced"])
def test_single_class_or_balanced_input_is_returned_unchanged(strategy, counts):
    images, labels = make_set(n_min=counts[0], n_maj=counts[1], shape=(3,))
    out = strategy.resample(images, labels, seed=0)
    np.testing.assert_array_equal(out.images, images)
    np.testing.assert_array_equal(out.labels, labels)
    assert not out.synthetic.any()


@pytest.mark.parametrize("strategy", [SMOTEBalancing(), RandomOversampling()])
def test_preallocated_output_is_filled_in_place_without_copying_the_originals(strategy):
    images, labels = make_set()
    n = len(labels)
    out = np.empty((n + strategy.n_new(labels), *images.shape[1:]), dtype=np.uint8)
    out[:n] = images
    expected = strategy.resample(images, labels, seed=3)
    result = strategy.resample(out[:n], labels, seed=3, out=out)
    assert result.images is out
    assert strategy.n_new(labels) == 140
    assert (out == expected.images).all()
    with pytest.raises(ValueError, match="preallocated output"):
        strategy.resample(images, labels, seed=3, out=out[:-1])
