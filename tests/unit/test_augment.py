"""The paper's augmentation: layout, determinism, flip and angle distributions, the exact
rotation applied, border modes, and per-worker reseeding."""

from __future__ import annotations

import random
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset, Subset

from csxa_lightning.data import augment as augment_module
from csxa_lightning.data.augment import NoAugmentation, PaperAugmentation, seed_worker


def _image(channels: int, height: int = 12, width: int = 16, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(channels, height, width), dtype=np.uint8)


def _rotate(image_hwc: np.ndarray, angle: float, border: int) -> np.ndarray:
    """Rotate about the pixel-grid centre with OpenCV's own matrix (positive: counter-clockwise)."""
    height, width = image_hwc.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2 - 0.5, height / 2 - 0.5), angle, 1.0)
    out = cv2.warpAffine(
        image_hwc, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=border, borderValue=0
    )
    return out.reshape(image_hwc.shape)  # cv2 drops a single channel


@pytest.mark.parametrize("channels", [1, 3])
def test_shape_dtype_and_input_preserved(channels):
    image = _image(channels)
    image.flags.writeable = False  # as served from a read-only memory map
    original = image.copy()
    aug = PaperAugmentation()
    aug.reseed(0)
    for _ in range(5):
        out = aug(image)
        assert out.shape == image.shape and out.dtype == np.uint8
        assert out.flags.c_contiguous and out.flags.writeable
        assert not np.shares_memory(out, image)
    np.testing.assert_array_equal(image, original)


def test_rejects_wrong_layout_and_config():
    with pytest.raises(ValueError, match="uint8"):
        PaperAugmentation()(np.zeros((8, 8), dtype=np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        PaperAugmentation()(np.zeros((1, 8, 8), dtype=np.float32))
    with pytest.raises(ValueError, match="border_mode"):
        PaperAugmentation(border_mode="wrap")
    with pytest.raises(ValueError, match="hflip_p"):
        PaperAugmentation(hflip_p=1.5)


def test_same_seed_same_stream_other_seed_differs():
    image = _image(3)
    aug = PaperAugmentation()

    def run(seed: int) -> np.ndarray:
        aug.reseed(seed)
        return np.stack([aug(image) for _ in range(4)])

    first = run(11)
    np.testing.assert_array_equal(run(11), first)
    assert not np.array_equal(run(12), first)
    assert not np.array_equal(first[0], first[1])  # the stream moves on between calls


def test_flips_each_half_the_time_and_independently():
    image = np.arange(64, dtype=np.uint8).reshape(1, 8, 8)  # every pixel distinct
    candidates = {
        (False, False): image,
        (True, False): np.flip(image, axis=2),  # horizontal: mirror along the width
        (False, True): np.flip(image, axis=1),  # vertical: mirror along the height
        (True, True): np.flip(image, axis=(1, 2)),
    }
    aug = PaperAugmentation(first_rotation=0, second_rotation=0)
    aug.reseed(5)
    seen = []
    for _ in range(2000):
        out = aug(image)
        matches = [key for key, expected in candidates.items() if np.array_equal(out, expected)]
        assert len(matches) == 1, "output is not an exact flip of the input"
        seen.append(matches[0])
    flips = np.array(seen)
    assert abs(flips[:, 0].mean() - 0.5) < 0.05
    assert abs(flips[:, 1].mean() - 0.5) < 0.05
    # Independent draws: both flips together a quarter of the time (a shared seed per
    # transform, as Compose(seed=...) gives, makes this 0.5).
    assert abs((flips[:, 0] & flips[:, 1]).mean() - 0.25) < 0.04


def test_angles_ranges_and_trapezoid():
    aug = PaperAugmentation()
    aug.reseed(2)
    angles = aug.sample_angles(20_000)
    assert angles.shape == (20_000, 2)
    assert np.all(np.abs(angles[:, 0]) <= 20) and np.all(np.abs(angles[:, 1]) <= 60)
    assert angles[:, 0].std() > 10 and angles[:, 1].std() > 30  # spread over the ranges
    assert abs(np.corrcoef(angles.T)[0, 1]) < 0.05  # independent draws
    total = angles.sum(axis=1)
    assert np.all(np.abs(total) <= 80)
    assert abs(total.mean()) < 1.5  # sd of the mean: 36.5 / sqrt(20000) = 0.26
    # Trapezoid density: 1/120 per degree on |a| < 40, falling linearly to 0 at |a| = 80.
    density = lambda counts, width: counts / (len(total) * width)  # noqa: E731
    flat, _ = np.histogram(total, bins=np.arange(-30, 31, 10))
    np.testing.assert_allclose(density(flat, 10), 1 / 120, rtol=0.15)
    shoulder = np.sum((np.abs(total) > 50) & (np.abs(total) < 70))
    ratio = density(np.sum(np.abs(total) < 30), 60) / density(shoulder, 40)
    assert 1.75 < ratio < 2.25  # expected 2: the mean density on 50..70 is 1/240


@pytest.mark.parametrize(
    ("border_mode", "border"),
    [
        ("reflect", cv2.BORDER_REFLECT),
        ("constant", cv2.BORDER_CONSTANT),
        ("replicate", cv2.BORDER_REPLICATE),
    ],
)
def test_applied_rotation_is_two_opencv_warps(border_mode, border):
    aug = PaperAugmentation(hflip_p=0, vflip_p=0, border_mode=border_mode)
    aug.reseed(7)
    image = _image(3, seed=1)
    angles = aug.sample_angles(3)
    np.testing.assert_array_equal(aug.sample_angles(3), angles)  # the stream did not move
    for first, second in angles:  # sample_angles predicts the next calls
        hwc = image.transpose(1, 2, 0)
        expected = _rotate(_rotate(hwc, first, border), second, border).transpose(2, 0, 1)
        out = aug(image)
        # Same cv2 call with the same matrix up to the float64 round trip of the angle.
        assert np.abs(out.astype(int) - expected).max() <= 1
        assert np.mean(out == expected) > 0.99  # in practice all equal
        assert not np.array_equal(out, image)


def test_border_modes_fill_differently():
    image = np.full((1, 16, 16), 255, dtype=np.uint8)
    outputs = {}
    for mode in ["constant", "reflect", "replicate"]:
        aug = PaperAugmentation(hflip_p=0, vflip_p=0, first_rotation=0, border_mode=mode)
        aug.reseed(3)
        # > 10 degrees: the corner pixel's source lies over a pixel outside the 16x16 frame.
        assert abs(aug.sample_angles(1)[0, 1]) > 10
        outputs[mode] = aug(image)
    assert outputs["constant"][0, 0, 0] == 0  # the corner is filled with 0
    assert np.all(outputs["reflect"] == 255) and np.all(outputs["replicate"] == 255)


def test_no_augmentation_is_identity():
    image = _image(3)
    aug = NoAugmentation()
    aug.reseed(1)
    assert aug(image) is image


class _Images(Dataset):
    def __init__(self, n: int) -> None:
        self.image = np.arange(64, dtype=np.uint8).reshape(1, 8, 8)
        self.n = n
        self.augment = PaperAugmentation()

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> torch.Tensor:
        return torch.from_numpy(self.augment(self.image))


@pytest.fixture
def restore_global_rngs():
    """seed_worker seeds torch/numpy/random globally; keep that out of other tests."""
    np_state, py_state = np.random.get_state(), random.getstate()
    with torch.random.fork_rng(devices=[]):
        yield
    np.random.set_state(np_state)
    random.setstate(py_state)


def test_seed_worker_reseeds_the_workers_copy(monkeypatch, restore_global_rngs):
    dataset = _Images(4)
    wrapped = Subset(dataset, [0, 1])  # augment found through the wrapper

    def draw_in_worker(seed: int) -> np.ndarray:
        torch.manual_seed(seed)  # in a worker, torch.initial_seed() = base_seed + worker_id
        monkeypatch.setattr(
            augment_module, "get_worker_info", lambda: SimpleNamespace(dataset=wrapped)
        )
        seed_worker(0)
        return dataset.augment.sample_angles(3)

    assert np.array_equal(draw_in_worker(100), draw_in_worker(100))
    assert not np.array_equal(draw_in_worker(100), draw_in_worker(101))
    assert np.random.random() == np.random.RandomState(101).random()
    assert random.random() == random.Random(101).random()


def _loader_run(seed: int, worker_init_fn=seed_worker) -> np.ndarray:
    torch.manual_seed(seed)
    loader = DataLoader(_Images(8), batch_size=1, num_workers=2, worker_init_fn=worker_init_fn)
    return torch.cat(list(loader)).numpy()  # items 0, 2, ... from worker 0; 1, 3, ... worker 1


def test_dataloader_workers_differ_and_runs_repeat(restore_global_rngs):
    run = _loader_run(0)
    assert not np.array_equal(run[0::2], run[1::2])  # the two workers draw differently
    np.testing.assert_array_equal(_loader_run(0), run)  # the global seed fixes the run
    assert not np.array_equal(_loader_run(1), run)
    # Control: without seed_worker both workers replay the dataset's copied stream.
    unseeded = _loader_run(0, worker_init_fn=None)
    np.testing.assert_array_equal(unseeded[0::2], unseeded[1::2])
