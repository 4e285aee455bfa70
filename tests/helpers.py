"""What tests share besides fixtures: the phantom set's size, the real config shrunk to seconds
(TINY_TRAINING, compose_train_config), that tiny run on a phantom set (phantom_training,
phantom_command_line), test-only Lightning callbacks built from config like the real ones, and
run_module for the command line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import lightning as L
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from csxa_lightning.config.location import CONFIG_DIR

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


def phantom_training(root: str | os.PathLike, base: Path) -> list[str]:
    """TINY_TRAINING on the phantom set at `root`, for a run composed and trained in this
    process: the run written to base/run, caches under base/cache. The phantom_run_overrides
    fixture (tests/conftest.py) is this for the session's set in tmp_path; add a test's own
    overrides after it (Hydra: of two values for one key, or two choices for one group, the
    later wins)."""
    return [
        *TINY_TRAINING,
        "data=csxa",
        f"data.root={root}",
        f"paths.output_dir={base / 'run'}",
        f"paths.cache_dir={base / 'cache'}",
    ]


def phantom_command_line(
    root: str | os.PathLike, cache_dir: Path, log_dir: Path | None = None
) -> list[str]:
    """The same tiny run as command-line arguments (run_module, a --multirun): TINY_TRAINING on
    the phantom set at `root`, caches under cache_dir, and no paths.output_dir -- Hydra makes
    the run folder, under paths.log_dir=log_dir where one is given, else where the caller's
    hydra.run.dir or hydra.sweep.dir says. data.root and both paths are left out of the run
    folder's name (conf/hydra/default.yaml: exclude_keys)."""
    arguments = [*TINY_TRAINING, "data=csxa", f"data.root={root}", f"paths.cache_dir={cache_dir}"]
    if log_dir is not None:
        arguments.append(f"paths.log_dir={log_dir}")
    return arguments


REPOSITORY = Path(__file__).resolve().parents[1]


def git_head() -> str:
    """The commit this checkout is at; "" when the tests run outside a git checkout."""
    if not (REPOSITORY / ".git").exists():
        return ""
    done = subprocess.run(
        ["git", "-C", str(REPOSITORY), "rev-parse", "HEAD"], capture_output=True, text=True
    )
    return done.stdout.strip()


def compose_config(config_name: str, overrides: list[str]) -> DictConfig:
    """A command's real conf/<config_name>.yaml (train, predict, evaluate ...), composed as its
    command line would, with test overrides."""
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name=config_name, overrides=overrides)


def compose_train_config(overrides: list[str]) -> DictConfig:
    """The real conf/train.yaml, composed as the command line would, with test overrides."""
    return compose_config("train", overrides)


class SimulatedKill(RuntimeError):
    pass


class KillAtEpochStart(L.Callback):
    """Stops the run when epoch `epoch` starts, after the previous epoch was checkpointed:
    what a killed job leaves behind."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.current_epoch == self.epoch:
            raise SimulatedKill(f"simulated kill at the start of epoch {self.epoch}")


class NaNWeightsAt(L.Callback):
    """Fills every weight with NaN before training batch `batch` of epoch `epoch`: what a
    diverging run does, on demand."""

    def __init__(self, epoch: int, batch: int = 0) -> None:
        self.epoch, self.batch = epoch, batch

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        if (trainer.current_epoch, batch_idx) == (self.epoch, self.batch):
            with torch.no_grad():
                for parameter in pl_module.parameters():
                    parameter.fill_(float("nan"))


class SignalOnce(L.Callback):
    """Sends this process `signal` (e.g. SIGINT: Ctrl-C) when epoch `epoch` starts -- only in
    a run that started from epoch 0, so that the resumed run, given the same overrides,
    trains on."""

    def __init__(self, epoch: int, signal: str = "SIGINT") -> None:
        self.epoch, self.signal = epoch, signal
        self.first_epoch = 0

    def on_train_start(self, trainer, pl_module) -> None:
        self.first_epoch = trainer.current_epoch

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        if self.first_epoch == 0 and trainer.current_epoch == self.epoch:
            os.kill(os.getpid(), getattr(signal, self.signal))
            time.sleep(1)  # the signal arrives here


class SleepAtFitStart(L.Callback):
    """Holds a job at the start of fitting: another job can start meanwhile."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def on_fit_start(self, trainer, pl_module) -> None:
        time.sleep(self.seconds)


class BugAtFitStart(L.Callback):
    """Raises a plain ValueError when fitting starts: what a bug in the package looks like."""

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        raise ValueError("simulated bug: a plain ValueError is not a UserError")


class RecordBatches(L.Callback):
    """Appends the epoch of every training batch to a text file: shows what a run trained."""

    def __init__(self, path: str) -> None:
        self.path = path

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        with open(self.path, "a") as f:
            f.write(f"{trainer.current_epoch}\n")


class RecordBatchKeys(L.Callback):
    """Writes the keys of every training batch as the model receives it (after the transfer
    and the datamodule's on_after_batch_transfer)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        with open(self.path, "a") as f:
            f.write(",".join(sorted(batch)) + "\n")


class RecordBatchIndices(L.Callback):
    """Writes `epoch:i,j,...` (the batch's training-set indices, sorted) for every training
    batch: shows which films a run trained on, batch by batch."""

    def __init__(self, path: str) -> None:
        self.path = path

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        indices = ",".join(map(str, sorted(batch["index"].tolist())))
        with open(self.path, "a") as f:
            f.write(f"{trainer.current_epoch}:{indices}\n")


REPO = Path(__file__).resolve().parents[1]


def module_command(module: str, *arguments: str) -> list[str]:
    """`python -m module arguments...` with this interpreter."""
    return [sys.executable, "-m", module, *arguments]


def module_env(full_error: bool = False) -> dict[str, str]:
    """The environment a command runs in under test: the repository root on the path (test-only
    callbacks in tests/ can be named in overrides), output unbuffered (read as it comes), and
    Hydra's short errors whatever the caller's HYDRA_FULL_ERROR (full_error=True:
    HYDRA_FULL_ERROR=1, every traceback shown)."""
    return dict(
        os.environ,
        PYTHONUNBUFFERED="1",
        PYTHONPATH=str(REPO),
        HYDRA_FULL_ERROR="1" if full_error else "0",
    )


def run_module(
    module: str, *arguments: str, cwd: Path, timeout: int = 600, full_error: bool = False
):
    """`python -m module arguments...` as a user runs it, output captured (see module_env).
    Ctrl-C works in it as in a terminal, even when the tests themselves were started in the
    background (`make test &`, nohup), where the shell hands every child SIGINT ignored and
    Python then installs no KeyboardInterrupt handler."""
    return subprocess.run(
        module_command(module, *arguments),
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env=module_env(full_error),
        preexec_fn=default_sigint,
    )


def default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
