"""Shared fixtures: one small phantom CSXA per test session, and the overrides (or the config)
that train a tiny model on it into a test's tmp_path (helpers and constants: helpers.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from omegaconf import DictConfig

from csxa_lightning.config.resolvers import register_resolvers
from csxa_lightning.phantom import PhantomSummary, generate_phantom
from csxa_lightning.utils.quiet import silence_known_noise
from tests.helpers import (
    PHANTOM_HEALTHY,
    PHANTOM_N,
    PHANTOM_SEED,
    compose_train_config,
    phantom_training,
)

# What every command does first (config/resolvers.py): the tests compose and run the same
# configs in this process.
register_resolvers()
silence_known_noise()


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


@pytest.fixture
def phantom_run_overrides(phantom, tmp_path) -> list[str]:
    """The overrides that train a tiny model (TINY_TRAINING) on the session's phantom set into
    tmp_path: the run to tmp_path/run, caches to tmp_path/cache. A test adds its own after them,
    e.g. [*phantom_run_overrides, "trainer.max_epochs=3"] (the later value wins), and a
    paths.output_dir of its own where its run goes elsewhere. For a command in a subprocess:
    helpers.phantom_command_line."""
    return phantom_training(phantom.root, tmp_path)


@pytest.fixture
def phantom_run_cfg(phantom_run_overrides) -> DictConfig:
    """conf/train.yaml composed with phantom_run_overrides and nothing else."""
    return compose_train_config(phantom_run_overrides)
