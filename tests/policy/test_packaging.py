"""What the wheel carries and where an installed package looks: pyproject.toml's package list
names every package folder and config group (conf/ ships as csxa_lightning.conf), every console
script names an existing main, the configs are found beside the code however it was installed,
and the cache dir follows $CSXA_CACHE_DIR, then $XDG_CACHE_HOME, then ~/.cache."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from csxa_lightning.config.location import CONFIG_DIR, find_config_dir
from csxa_lightning.utils.paths import default_cache_dir
from tests.helpers import REPO, compose_train_config

tomllib = pytest.importorskip("tomllib")  # Python 3.11+; 3.10 skips
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def test_the_package_list_names_every_package_folder_and_config_group():
    code = {
        ".".join(p.parent.relative_to(REPO).parts)
        for p in (REPO / "csxa_lightning").rglob("__init__.py")
    }
    groups = {f"csxa_lightning.conf.{d.name}" for d in (REPO / "conf").iterdir() if d.is_dir()}
    groups -= {"csxa_lightning.conf.__pycache__"}
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    assert listed == code | groups | {"csxa_lightning.conf"}
    assert PYPROJECT["tool"]["setuptools"]["package-dir"] == {"csxa_lightning.conf": "conf"}


def test_every_command_has_a_console_script_naming_its_main():
    scripts = PYPROJECT["project"]["scripts"]
    expected = {"train", "predict", "evaluate", "export", "preview", "report", "phantom", "bench"}
    assert set(scripts) == {f"csxa-{name}" for name in expected}
    for target in scripts.values():
        module, _, function = target.partition(":")
        assert callable(getattr(importlib.import_module(module), function)), target


def test_the_checkout_finds_its_top_level_conf():
    assert Path(CONFIG_DIR) == REPO / "conf"


def test_an_installed_package_finds_the_conf_inside_it(tmp_path):
    package = tmp_path / "site" / "csxa_lightning"
    (package / "conf").mkdir(parents=True)
    assert find_config_dir(package) == tmp_path / "site" / "conf"  # no train.yaml: not it
    (package / "conf" / "train.yaml").write_text("task_name: train\n")
    assert find_config_dir(package) == package / "conf"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"CSXA_CACHE_DIR": "/c", "XDG_CACHE_HOME": "/x"}, "/c"),
        ({"XDG_CACHE_HOME": "/x"}, "/x/csxa_lightning"),
        # The XDG spec: a relative value is invalid and ignored.
        ({"XDG_CACHE_HOME": "rel"}, "{home}/.cache/csxa_lightning"),
        ({}, "{home}/.cache/csxa_lightning"),
    ],
)
def test_the_cache_dir_follows_the_environment(monkeypatch, tmp_path, env, expected):
    for name in ("CSXA_CACHE_DIR", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert default_cache_dir() == expected.format(home=tmp_path)
    # The config's default is that same function.
    cfg = compose_train_config([])
    assert cfg.paths.cache_dir == expected.format(home=tmp_path)
    assert cfg.data.cache_dir == cfg.paths.cache_dir


def test_the_version_is_the_package_metadata():
    from importlib.metadata import version

    import csxa_lightning

    assert csxa_lightning.__version__ == version("csxa-lightning")
    assert (REPO / "csxa_lightning" / "py.typed").is_file()
