"""The wheel as a new user gets it: built from the checkout, installed with --no-deps into a
scratch folder outside it, and run through its console scripts from another working directory
with the checkout off sys.path (dependencies come from this environment)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.helpers import PHANTOM_HEALTHY, PHANTOM_N, PHANTOM_SEED, REPO


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    scratch = tmp_path_factory.mktemp("wheel")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(scratch / "dist"), str(REPO)],
        capture_output=True, text=True, cwd=scratch, timeout=300,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr
    (wheel,) = (scratch / "dist").glob("csxa_lightning-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "csxa_lightning/conf/train.yaml" in names and "csxa_lightning/py.typed" in names
    shipped = {n for n in names if n.startswith("csxa_lightning/conf/") and n.endswith(".yaml")}
    assert len(shipped) == len(list((REPO / "conf").rglob("*.yaml")))
    site = scratch / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site),
         str(wheel)],
        capture_output=True, text=True, cwd=scratch, timeout=300,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr
    return site


def run_script(site: Path, cwd: Path, script: str, *arguments: str, timeout: int = 600):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HYDRA_FULL_ERROR")}
    env.update(PYTHONPATH=str(site), PYTHONUNBUFFERED="1", CSXA_CACHE_DIR=str(cwd / "cache"))
    return subprocess.run(
        [str(site / "bin" / script), *arguments],
        capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout,
    )  # fmt: skip


@pytest.mark.slow
def test_the_installed_wheel_runs_from_anywhere(installed, tmp_path):
    where = run_script(
        installed, tmp_path, "csxa-train", "--cfg", "job", "--package", "_global_",
        "logger=tensorboard", "model=densenet121",
    )  # fmt: skip
    assert where.returncode == 0, where.stderr
    assert "arch: densenet121" in where.stdout and "TensorBoardLogger" in where.stdout
    assert str(REPO) not in where.stdout  # paths and configs come from the install, not here

    usage = run_script(installed, tmp_path, "csxa-train", "--help")
    assert usage.returncode == 0 and "csxa-train" in usage.stdout, usage.stderr

    run = run_script(
        installed, tmp_path, "csxa-train",
        "protocol=strict", "model=resnet18", "model.pretrained=none", "image_size=32",
        "trainer=cpu", "trainer.max_epochs=1", "data.batch_size=16",
        f"data.phantom.n={PHANTOM_N}", f"data.phantom.seed={PHANTOM_SEED}",
        f"data.phantom.healthy_fraction={PHANTOM_HEALTHY}", "hydra.run.dir=run",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert 0 <= metrics["balanced_accuracy"] <= 1
    # The configs and the code it ran came from the scratch install.
    saved = (tmp_path / "run" / ".hydra" / "hydra.yaml").read_text()
    assert str(installed / "csxa_lightning" / "conf") in saved


@pytest.mark.slow
def test_an_editable_install_finds_the_checkouts_conf_from_anywhere(tmp_path):
    # A scratch venv whose only package of its own is the editable install; the dependencies
    # are this environment's, seen through a .pth file.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    here = subprocess.run(
        [sys.executable, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    (Path(site) / "dependencies.pth").write_text(here + "\n")
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "-e",
         str(REPO)],
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HYDRA_FULL_ERROR")}
    shown = subprocess.run(
        [str(venv / "bin" / "csxa-train"), "--info", "searchpath", "model=densenet121"],
        capture_output=True, text=True, cwd=elsewhere, env=env, timeout=300,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert str(REPO / "conf") in shown.stdout  # the checkout's conf/, edited in place
