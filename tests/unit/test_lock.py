"""requirements.lock is the environment CI tests and `make venv` installs: it pins every
dependency pyproject.toml names (the dev extra included) to one exact version, hash-checked,
inside pyproject's ranges, and this environment is that lock."""

from __future__ import annotations

import importlib.metadata
import re

import pytest
import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.helpers import REPOSITORY

LOCK = REPOSITORY / "requirements.lock"
# One entry: "name==version \" then its "--hash=sha256:..." lines (pip-compile's layout).
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+?)\s*\\?$")


def locked() -> dict[str, tuple[str, int]]:
    """{canonical name: (version, number of hashes)} of every entry of the lock."""
    found: dict[str, tuple[str, int]] = {}
    name = None
    for line in LOCK.read_text().splitlines():
        match = PIN.match(line)
        if match:
            name = canonicalize_name(match[1])
            assert name not in found, f"{name} is pinned twice"
            found[name] = (match[2], 0)
        elif name and line.strip().startswith("--hash=sha256:"):
            version, hashes = found[name]
            found[name] = (version, hashes + 1)
        elif line.strip() and not line.lstrip().startswith("#"):
            raise AssertionError(f"requirements.lock: unexpected line {line!r}")
    return found


def declared() -> list[Requirement]:
    project = tomllib.loads((REPOSITORY / "pyproject.toml").read_text())["project"]
    listed = project["dependencies"] + project["optional-dependencies"]["dev"]
    return [Requirement(r) for r in listed]


def test_every_dependency_and_dev_dependency_is_locked_exactly_within_its_range():
    lock = locked()
    requirements = declared()
    names = {canonicalize_name(r.name) for r in requirements}
    assert {"torch", "grad-cam", "pytest", "alembic"} <= names  # runtime and dev, both read
    for requirement in requirements:
        name = canonicalize_name(requirement.name)
        assert name in lock, f"{requirement.name} is not in requirements.lock: run make lock"
        version, hashes = lock[name]
        assert Version(version) in requirement.specifier, (requirement, version)
        assert hashes >= 1, f"{name}=={version} has no hash"
    # Every entry has a hash, so pip's hash-checking mode accepts the file as a whole.
    assert all(hashes >= 1 for _, hashes in lock.values())


def test_the_lock_keeps_the_torch_pair_of_this_machine_and_opencv_before_5_1():
    lock = locked()
    assert (lock["torch"][0], lock["torchvision"][0]) == ("2.14.1", "0.29.1")
    assert Version(lock["opencv-python-headless"][0]) < Version("5.1")  # README: OpenCV versions
    assert "opencv-python" not in lock  # the GUI build would overwrite the headless cv2


def test_installed_matches_the_lock():
    """make venv installed the lock: every locked package at its locked version. (make
    test-latest, which installs the newest versions on purpose, deselects this test.)"""
    differing = {}
    for name, (version, _) in locked().items():
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            installed = "not installed"
        if installed.split("+")[0] != version:  # a local tag (+cu130) is the same release
            differing[name] = (version, installed)
    assert differing == {}, "the environment differs from requirements.lock: run make venv"


@pytest.mark.parametrize("target", ["venv", "test", "demo"])
def test_the_make_targets_install_from_the_lock(target):
    makefile = (REPOSITORY / "Makefile").read_text()
    recipe = makefile.split("$(STAMP): $(LOCK) pyproject.toml\n")[1].split("\n\n")[0]
    assert "--require-hashes --no-deps -r $(LOCK)" in recipe
    assert re.search(rf"(?m)^{target}: \$\(STAMP\)", makefile), target
