"""Checks that need a CUDA device (pytest -m gpu; make bench-device runs them first on a lent
GPU machine). Skipped elsewhere."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from csxa_lightning.data.batches import BatchedDataset
from csxa_lightning.data.device_augment import DeviceAugmentation
from csxa_lightning.training.run import train
from tests.helpers import compose_train_config

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
@pytest.mark.parametrize("border_mode", ["constant", "reflect", "replicate"])
def test_device_augmentation_on_cuda_matches_the_cpu(interpolation, border_mode):
    augment = DeviceAugmentation(
        interpolation=interpolation, border_mode=border_mode, scale_limit=0.2
    )
    images = torch.randint(0, 256, (64, 3, 96, 96), dtype=torch.uint8)
    params = torch.from_numpy(augment.draw(np.random.default_rng(0), 64))
    on_cpu = augment(images, params)  # = albumentations' pixels (tests/unit/test_device_augment)
    on_gpu = augment(images.cuda(), params.cuda()).cpu()
    # Same float32 / float64 arithmetic on both (IEEE, separate eager ops, no fma contraction);
    # only cos / sin may differ in the last bit of a float64 matrix, which moves a pixel only at
    # an exact tie. Bound: 1e-5 of the 1.8 million values.
    assert (on_gpu != on_cpu).float().mean() <= 1e-5


def test_batches_are_gathered_into_pinned_memory():
    images = np.zeros((10, 1, 8, 8), dtype=np.uint8)
    dataset = BatchedDataset(images, np.zeros(10), DeviceAugmentation().draw, pin_memory=True)
    assert dataset.images.is_pinned()
    batch = dataset[(0, 0, np.array([3, 1]))]
    # Every tensor: one copy from pageable memory would make the CPU wait for the GPU.
    assert {key: value.is_pinned() for key, value in batch.items()} == {
        "image": True,
        "label": True,
        "index": True,
        "augment": True,
    }


def test_a_run_on_the_gpu_uses_bf16_and_the_device_path(phantom_run_overrides):
    # trainer=gpu replaces the fixture's trainer=cpu: of two choices for a group, the later wins.
    metrics = train(
        compose_train_config(
            [*phantom_run_overrides, "trainer=gpu", "color=enhanced", "trainer.max_epochs=2"]
        )
    )
    assert metrics["trainer_precision"] == "bf16-mixed"
    assert metrics["input_pipeline"] == "device" and metrics["device"].startswith("cuda")
    assert metrics["epochs"] == 2 and metrics["n"] > 0
