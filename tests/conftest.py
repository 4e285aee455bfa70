"""Shared fixtures: one small phantom CSXA per test session, and the real config composed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from csxa_lightning.config import CONFIG_DIR
from csxa_lightning.phantom import PhantomSummary, generate_phantom

PHANTOM_N = 40
PHANTOM_SEED = 7
PHANTOM_HEALTHY = 0.3
# The real config shrunk to seconds on a CPU: ResNet18 from scratch, 32 px, one epoch. The
# tests built on it were written for a stratified split with a validation slice (and the
# README's troubleshooting rows for split errors quote the stratified split's messages):
# protocol=strict says so; tests of the default protocol (paper) name it themselves.
TINY_TRAINING = [
    "protocol=strict",
    "model=resnet18",
    "model.pretrained=none",
    "image_size=32",
    "trainer=cpu",
    "trainer.max_epochs=1",
    "data.batch_size=16",
]


@pytest.fixture(scope="session")
def phantom(tmp_path_factory) -> PhantomSummary:
    """A 40-image phantom set; treat as read-only (copy it with `phantom_copy` to alter it)."""
    root = tmp_path_factory.mktemp("phantom") / "CSXA"
    return generate_phantom(root, n=PHANTOM_N, seed=PHANTOM_SEED, healthy_fraction=PHANTOM_HEALTHY)


@pytest.fixture
def phantom_copy(phantom, tmp_path) -> Path:
    target = tmp_path / "CSXA"
    shutil.copytree(phantom.root, target)
    return target


def compose_train_config(overrides: list[str]) -> DictConfig:
    """The real conf/train.yaml, composed as the command line would, with test overrides."""
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name="train", overrides=overrides)
