"""Shared fixtures: one small phantom CSXA per test session (helpers and constants: helpers.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from csxa_lightning.config.resolvers import register_resolvers
from csxa_lightning.phantom import PhantomSummary, generate_phantom
from csxa_lightning.utils.quiet import silence_known_noise
from tests.helpers import PHANTOM_HEALTHY, PHANTOM_N, PHANTOM_SEED

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
