"""What this machine must offer the config, checked before any data work (the index, the
preprocessed cache, the phantom set, the split, SMOTE): a run that cannot train stops in a
second, not after minutes of preparation.

- the initial weights: the weights_path file, or the ImageNet file (downloaded as
  torchvision does when absent, unless model.download=false);
- output folders that can be written (paths.output_dir, paths.cache_dir);
- the packages the configured loggers need;
- a requested accelerator (trainer=gpu) and its device count.

Nothing here resolves cfg.data.root: with data=phantom that builds the phantom set.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import torch
from hydra.utils import get_class
from omegaconf import DictConfig, OmegaConf

from csxa_lightning.models.backbones import weights_file
from csxa_lightning.utils.errors import UserError
from csxa_lightning.utils.paths import writable_folder

# The packages a Lightning logger imports when it starts (any one of them will do).
LOGGER_PACKAGES = {
    "TensorBoardLogger": ("tensorboard", "tensorboardX"),
    "WandbLogger": ("wandb",),
    "MLFlowLogger": ("mlflow",),
    "CometLogger": ("comet_ml",),
    "NeptuneLogger": ("neptune",),
}
# What MLflow's SQLite store (conf/logger/mlflow.yaml) imports beside mlflow itself: the full
# mlflow package brings them, mlflow-skinny does not.
SQL_STORE_PACKAGES = ("sqlalchemy", "alembic")
WRITTEN_FOLDERS = ("paths.output_dir", "paths.cache_dir")


class MachineSetupError(UserError):
    """This machine lacks what the config asks for (a GPU, a package, a writable folder)."""


def preflight(cfg: DictConfig) -> None:
    """Raise the problem of the weights (WeightsNotFoundError), then MachineSetupError listing
    every other problem, before any data is read."""
    model = cfg.get("model")
    if model is not None:
        weights_file(
            str(model.arch),
            str(model.get("pretrained", "none")),
            model.get("weights_path"),
            bool(model.get("download", True)),
        )
    problems = [
        *folder_problems(cfg),
        *logger_problems(cfg),
        *accelerator_problems(cfg),
        *memory_problems(cfg),
    ]
    problems = [p if p.endswith(".") else p + "." for p in problems]  # each one a sentence
    if len(problems) == 1:
        raise MachineSetupError(problems[0])
    if problems:
        listed = "\n  ".join(problems)
        raise MachineSetupError(f"{len(problems)} problems of this machine:\n  {listed}")


def folder_problems(cfg: DictConfig) -> list[str]:
    problems = []
    for key in WRITTEN_FOLDERS:
        value = OmegaConf.select(cfg, key, default=None)
        if value is not None:
            problem = writable_folder(Path(str(value)).expanduser().resolve())
            if problem:
                problems.append(f"{key}={value}: {problem}; choose a folder you can write to")
    return problems


def logger_problems(cfg: DictConfig) -> list[str]:
    problems = []
    for key, logger in (cfg.get("logger") or {}).items():
        target = str(logger.get("_target_", ""))
        try:
            name = get_class(target).__name__
        except Exception as err:  # noqa: BLE001  (a missing module or class, a typo)
            problems.append(f"logger.{key}._target_={target}: cannot be imported ({err})")
            continue
        needed = LOGGER_PACKAGES.get(name, ())
        if needed and not any(importlib.util.find_spec(p) for p in needed):
            problems.append(
                f"logger.{key} ({name}) needs the package {' or '.join(needed)}, which is not "
                f"installed: pip install 'csxa-lightning[tracking]' (or pip install "
                f"{needed[0]}), or leave the logger out (~logger.{key})"
            )
        uri = str(logger.get("tracking_uri") or "")
        if name != "MLFlowLogger" or not uri.startswith("sqlite:"):
            continue
        missing = [p for p in SQL_STORE_PACKAGES if not importlib.util.find_spec(p)]
        if missing:
            problems.append(
                f"logger.{key}.tracking_uri={uri} needs {' and '.join(missing)}, which "
                "mlflow-skinny leaves out: pip install 'csxa-lightning[tracking]' (the full "
                f"mlflow brings them; or pip install {' '.join(missing)})"
            )
    return problems


def accelerator_problems(cfg: DictConfig) -> list[str]:
    trainer = cfg.get("trainer")
    if trainer is None:
        return []
    accelerator = str(trainer.get("accelerator", "auto"))
    if accelerator in ("gpu", "cuda"):
        count = torch.cuda.device_count()
        built = "" if torch.version.cuda else ", a build without CUDA"
        return device_count_problems(
            accelerator,
            trainer.get("devices", 1),
            count,
            f"CUDA GPU (torch {torch.__version__}{built})",
        )
    if accelerator == "mps":
        count = int(torch.backends.mps.is_available())
        return device_count_problems(accelerator, trainer.get("devices", 1), count, "MPS device")
    return []


def memory_problems(cfg: DictConfig) -> list[str]:
    """image_size and data.batch_size that cannot fit: the float32 inputs of one batch alone
    (a floor: the network's activations take many times more) against the GPU's memory, or
    this machine's RAM on a CPU. image_size=100000 used to pass every check and be ended by
    the out-of-memory killer."""
    size = OmegaConf.select(cfg, "image_size", default=None)
    batch = OmegaConf.select(cfg, "data.batch_size", default=None)
    if not (isinstance(size, int) and isinstance(batch, int)) or size < 1 or batch < 1:
        return []  # check_config names impossible values
    accelerator = str(OmegaConf.select(cfg, "trainer.accelerator", default="auto"))
    on_gpu = accelerator in ("gpu", "cuda") or (accelerator == "auto" and cuda_available())
    where, capacity = ("GPU memory", gpu_memory()) if on_gpu else ("RAM", machine_memory())
    return batch_memory_problems(size, batch, where, capacity)


def cuda_available() -> bool:
    return torch.cuda.is_available()


def gpu_memory() -> int | None:
    return torch.cuda.get_device_properties(0).total_memory if torch.cuda.is_available() else None


def machine_memory() -> int | None:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # not a POSIX system that says
        return None


# Pure functions.


INPUT_BYTES = 3 * 4  # three float32 channels per pixel, as the model receives them


def batch_memory_problems(size: int, batch: int, where: str, capacity: int | None) -> list[str]:
    need = batch * size * size * INPUT_BYTES
    if capacity is None or need <= capacity:
        return []
    return [
        f"image_size={size} with data.batch_size={batch}: the inputs of one batch alone take "
        f"{need / 2**30:.1f} GiB as float32, more than this machine's {capacity / 2**30:.1f} "
        f"GiB of {where} (the network needs many times more); lower image_size (the paper "
        "uses 224) or data.batch_size"
    ]


def device_count_problems(accelerator: str, devices, available: int, what: str) -> list[str]:
    """trainer.accelerator / trainer.devices against the devices this machine has."""
    if available == 0:
        return [
            f"trainer.accelerator={accelerator}: this machine has no {what}; train on the CPU "
            "with trainer=cpu (or trainer.accelerator=auto: the GPU where there is one)"
        ]
    if isinstance(devices, int) and not isinstance(devices, bool) and devices > available:
        return [
            f"trainer.devices={devices}: this machine has {available} {what.split(' (')[0]}(s); "
            f"use trainer.devices={available} or fewer"
        ]
    return []
