"""Online per-channel mean/std against numpy over the same pixels."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from csxa_lightning.data.normalization import RunningChannelStats, channel_stats


def _reference(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = images.astype(np.float64) / 255.0
    return x.mean(axis=(0, 2, 3)), x.std(axis=(0, 2, 3))


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("batch_size", [1, 4, 7, 256])  # 7 does not divide 23
def test_matches_numpy(channels, batch_size):
    rng = np.random.default_rng(channels)
    images = rng.integers(0, 256, size=(23, channels, 9, 11), dtype=np.uint8)
    images[:, 0] //= 4  # channels with different statistics
    mean, std = channel_stats(images, batch_size=batch_size)
    ref_mean, ref_std = _reference(images)
    assert len(mean) == len(std) == channels
    np.testing.assert_allclose(mean, ref_mean, rtol=0, atol=1e-9)
    np.testing.assert_allclose(std, ref_std, rtol=0, atol=1e-9)


def test_read_only_memmap(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(10, 3, 8, 8), dtype=np.uint8)
    np.save(tmp_path / "x.npy", images)
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
    assert not mapped.flags.writeable
    mean, std = channel_stats(mapped, batch_size=3)
    ref_mean, ref_std = _reference(images)
    np.testing.assert_allclose(mean, ref_mean, rtol=0, atol=1e-9)
    np.testing.assert_allclose(std, ref_std, rtol=0, atol=1e-9)


def test_float_and_tensor_batches_agree_with_uint8():
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(12, 3, 5, 5), dtype=np.uint8)
    stats = RunningChannelStats()
    stats.update(images[:4])  # uint8 array
    stats.update(torch.from_numpy(images[4:8]))  # uint8 tensor
    stats.update(torch.from_numpy(images[8:]).float() / 255)  # float tensor, already scaled
    ref_mean, ref_std = _reference(images)
    assert stats.count == 12 * 5 * 5
    np.testing.assert_allclose(stats.mean, ref_mean, rtol=0, atol=1e-7)  # float32 input
    np.testing.assert_allclose(stats.std, ref_std, rtol=0, atol=1e-7)


def test_constant_image_has_zero_std():
    images = np.full((5, 3, 6, 6), 200, dtype=np.uint8)
    mean, std = channel_stats(images, batch_size=2)
    assert std == (0.0, 0.0, 0.0)
    np.testing.assert_allclose(mean, 200 / 255, rtol=0, atol=1e-12)


def test_nearly_constant_channel_keeps_its_small_std():
    # Mean far from 0 and a tiny spread: where E[x^2] - E[x]^2 would cancel.
    images = np.full((1000, 1, 4, 4), 250, dtype=np.uint8)
    images[0, 0, 0, 0] = 251
    _, std = channel_stats(images, batch_size=64)
    _, ref_std = _reference(images)
    assert std[0] > 0
    np.testing.assert_allclose(std, ref_std, rtol=1e-9)


def test_empty_set_raises():
    with pytest.raises(ValueError, match="no pixels seen"):
        channel_stats(np.zeros((0, 3, 8, 8), dtype=np.uint8))
    with pytest.raises(ValueError, match="no pixels seen"):
        _ = RunningChannelStats().mean


def test_rejects_bad_input():
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        channel_stats(np.zeros((3, 8, 8), dtype=np.uint8))
    with pytest.raises(TypeError, match="uint8 or floating"):
        RunningChannelStats().update(np.zeros((1, 1, 2, 2), dtype=np.int32))
    stats = RunningChannelStats()
    stats.update(np.zeros((1, 3, 2, 2), dtype=np.uint8))
    with pytest.raises(ValueError, match="channels"):
        stats.update(np.zeros((1, 1, 2, 2), dtype=np.uint8))
