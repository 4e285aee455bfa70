"""The GPU path's batched augmentation is the paper's augmentation: the same warps as
albumentations for the same parameters, and the same distribution of parameters."""

from __future__ import annotations

import albumentations as A
import cv2
import numpy as np
import pytest
import torch
from scipy import stats

from csxa_lightning.data.augment import BORDER_MODES, PaperAugmentation
from csxa_lightning.data.device_augment import DeviceAugmentation


def film(channels: int = 1, size: int = 64, seed: int = 0) -> np.ndarray:
    """(C, S, S) uint8 with structure everywhere: gradients, a bright block, noise."""
    yy, xx = np.mgrid[0:size, 0:size]
    base = (xx * 3 + yy * 2) % 256
    base[8:20, 40:52] = 255
    noise = np.random.default_rng(seed).integers(0, 40, (channels, size, size))
    return ((base[None] + noise) % 256).astype(np.uint8)


def albumentations_reference(image, hflip, vflip, first, second, border_mode) -> np.ndarray:
    """albumentations with fixed parameters: what PaperAugmentation does for these draws."""

    def rotate(angle):
        return A.Rotate(
            limit=(angle, angle),
            interpolation=cv2.INTER_LINEAR,
            border_mode=BORDER_MODES[border_mode],
            fill=0,
            crop_border=False,
            p=1.0,
        )

    pipeline = A.Compose(
        [
            A.HorizontalFlip(p=float(hflip)),
            A.VerticalFlip(p=float(vflip)),
            rotate(first),
            rotate(second),
        ]
    )
    hwc = np.ascontiguousarray(image.transpose(1, 2, 0))
    out = pipeline(image=hwc)["image"]
    return out.reshape(hwc.shape).transpose(2, 0, 1)


@pytest.mark.parametrize("border_mode", ["reflect", "constant", "replicate"])
@pytest.mark.parametrize("channels", [1, 3])
def test_each_image_of_a_batch_matches_albumentations_with_its_parameters(border_mode, channels):
    params = np.array(
        [
            [0, 0, 0.0, 0.0],
            [1, 0, 13.5, -41.0],
            [0, 1, -19.9, 59.0],
            [1, 1, 7.25, 30.0],
        ],
        dtype=np.float32,
    )
    images = np.stack([film(channels, seed=i) for i in range(len(params))])
    device = DeviceAugmentation(border_mode=border_mode)
    out = device(torch.from_numpy(images), torch.from_numpy(params)).numpy()
    assert out.dtype == np.uint8 and out.shape == images.shape
    np.testing.assert_array_equal(out[0], images[0])  # no flip, no rotation: untouched
    for image, row, got in zip(images, params, out, strict=True):
        expected = albumentations_reference(image, *row, border_mode)
        difference = np.abs(got.astype(int) - expected.astype(int))
        # OpenCV interpolates with 1/32-pixel fixed-point weights; grid_sample in float.
        assert difference.max() <= 2 and difference.mean() < 0.05, (row, difference.mean())


def test_flips_alone_are_exact():
    images = np.stack([film(3, seed=i) for i in range(4)])
    params = torch.tensor([[1, 0, 0, 0], [0, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0]]).float()
    out = DeviceAugmentation()(torch.from_numpy(images), params).numpy()
    np.testing.assert_array_equal(out[0], images[0][:, :, ::-1])
    np.testing.assert_array_equal(out[1], images[1][:, ::-1, :])
    np.testing.assert_array_equal(out[2], images[2][:, ::-1, ::-1])
    np.testing.assert_array_equal(out[3], images[3])


def test_draws_have_the_distribution_albumentations_draws():
    paper = PaperAugmentation()
    paper.reseed(3)
    reference = paper.sample_angles(3000)  # angles albumentations actually applied
    drawn = DeviceAugmentation.like(paper).draw(np.random.default_rng(5), 20_000)
    for column, limit in ((2, 20.0), (3, 60.0)):
        assert np.abs(drawn[:, column]).max() <= limit
        assert stats.ks_2samp(drawn[:, column], reference[:, column - 2]).pvalue > 0.001
    # Flips: Bernoulli(0.5) each, independent of each other (4 equally likely combinations).
    combos = np.bincount((drawn[:, 0] * 2 + drawn[:, 1]).astype(int), minlength=4)
    assert stats.chisquare(combos).pvalue > 0.001
    total = drawn[:, 2] + drawn[:, 3]  # trapezoid on [-80, 80], flat on [-40, 40]
    inner = np.histogram(total, bins=8, range=(-40, 40))[0]
    assert inner.min() > 0.85 * inner.max()
    assert (np.abs(total) > 40).mean() == pytest.approx(1 / 3, abs=0.02)  # the two tails


def test_parameters_come_from_the_configured_augmentation():
    paper = PaperAugmentation(hflip_p=0.0, vflip_p=1.0, first_rotation=5, second_rotation=0)
    device = DeviceAugmentation.like(paper)
    drawn = device.draw(np.random.default_rng(0), 500)
    assert (drawn[:, 0] == 0).all() and (drawn[:, 1] == 1).all()
    assert np.abs(drawn[:, 2]).max() <= 5 and (drawn[:, 3] == 0).all()
    with pytest.raises(ValueError, match="hflip_p must lie in"):
        DeviceAugmentation(hflip_p=1.5)
    with pytest.raises(ValueError, match="expected square images"):
        device(torch.zeros(1, 1, 4, 6, dtype=torch.uint8), torch.zeros(1, 4))
