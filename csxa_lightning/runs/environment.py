"""What produced a run: the interpreter, the versions of the packages that shape its numbers, the
accelerator it ran on and this package's own version and commit.

Training (runs/summary.py) and evaluation (results/evaluation.py) record
``run_environment(device)`` in metrics.json (key ENVIRONMENT_KEY); the report shows it per run
and warns when the runs of one sweep differ (``differences``), because their comparisons are
then confounded: OpenCV 5.1, for one, moved the pixels of albumentations' rotation (README,
"OpenCV versions").

Reads installed metadata and, for a checkout, ``git``; writes nothing.
"""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path

import torch

import csxa_lightning

ENVIRONMENT_KEY = "environment"
# Distribution names, in the order the report lists them: the stack whose versions change what
# a run computes (OpenCV is read from cv2 itself: opencv-python and its headless twin both
# provide it).
PACKAGES = (
    "torch",
    "torchvision",
    "lightning",
    "torchmetrics",
    "albumentations",
    "numpy",
    "scikit-learn",
    "imbalanced-learn",
    "statsmodels",
    "hydra-core",
    "grad-cam",
)
NOT_INSTALLED = "not installed"
NOT_RECORDED = "not recorded"
GIT_SECONDS = 5


def run_environment(device: torch.device | str = "cpu") -> dict[str, str | None]:
    """A flat record, every value a string (None where it does not apply: cuda and cudnn on a
    CPU, commit outside a git checkout). ``device``: where the run computed (the trainer's
    root device, evaluate's device)."""
    import cv2  # imported here: this module is read by the report, which needs no OpenCV

    found: dict[str, str | None] = {
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    for name in PACKAGES:
        found[name] = package_version(name)
    found["opencv"] = cv2.__version__
    found.update(accelerator(torch.device(device)))
    found["csxa-lightning"] = csxa_lightning.__version__
    found["commit"] = source_commit(Path(csxa_lightning.__file__).resolve().parent.parent)
    return found


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return NOT_INSTALLED


def accelerator(device: torch.device) -> dict[str, str | None]:
    """The device's name, and the CUDA and cuDNN versions torch uses on it (None on a CPU)."""
    if device.type != "cuda":
        return {"accelerator": device.type, "cuda": None, "cudnn": None}
    index = device.index if device.index is not None else torch.cuda.current_device()
    cudnn = torch.backends.cudnn.version()
    return {
        "accelerator": torch.cuda.get_device_name(index),
        "cuda": str(torch.version.cuda),
        "cudnn": None if cudnn is None else str(cudnn),
    }


def source_commit(root: Path) -> str | None:
    """HEAD of the git checkout the package runs from, with "+modified" when tracked files
    differ from it; None for an installed copy (no .git beside it) or without git."""
    if not (root / ".git").exists():
        return None
    try:
        head = _git(root, "rev-parse", "HEAD")
        changed = _git(root, "status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+modified" if changed else "")


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(root), *args],
        capture_output=True,
        text=True,
        timeout=GIT_SECONDS,
        check=True,
    )
    return done.stdout.strip()


def recorded_environment(metrics: dict) -> dict[str, str | None]:
    """The environment a metrics.json recorded; {} for runs written before it was recorded."""
    recorded = metrics.get(ENVIRONMENT_KEY)
    return recorded if isinstance(recorded, dict) else {}


def differences(environments: dict[str, dict]) -> dict[str, dict[str, list[str]]]:
    """{key: {value: [names of the runs with it]}} for every key whose value is not the same
    in all runs. ``environments``: run name -> its recorded environment; a key a run did not
    record counts as NOT_RECORDED, so a sweep of old and new runs is flagged too."""
    keys = list(dict.fromkeys(k for env in environments.values() for k in env))
    found: dict[str, dict[str, list[str]]] = {}
    for key in keys:
        by_value: dict[str, list[str]] = {}
        for name, env in environments.items():
            value = env.get(key, NOT_RECORDED) if env else NOT_RECORDED
            by_value.setdefault(str(value), []).append(name)
        if len(by_value) > 1:
            found[key] = by_value
    return found
