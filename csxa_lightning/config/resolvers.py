"""The OmegaConf resolvers the configs use (${csxa_...:}), registered from one table.

Nothing is registered on import: every command calls register_resolvers() at the top of its
module, before Hydra composes. The top of the module, not main(): Hydra's launchers (joblib,
submitit) import the command's module in their worker processes and resolve the run folder's
name there before any of our code runs.
"""

from __future__ import annotations

import hashlib
import os
import re

from omegaconf import OmegaConf

from csxa_lightning.utils.paths import default_cache_dir

_UNSAFE = re.compile(r"[^A-Za-z0-9=,._+\-\[\]]")
MAX_NAME = 200  # file systems allow 255 bytes per name


def run_name(override_dirname: str) -> str:
    """A folder name from the overrides: 'default' when none, unsafe characters replaced,
    long names shortened with a hash so that distinct overrides stay distinct."""
    name = _UNSAFE.sub("_", override_dirname) or "default"
    if len(name) > MAX_NAME:
        digest = hashlib.sha1(name.encode()).hexdigest()[:10]
        name = f"{name[: MAX_NAME - 11]}-{digest}"
    return name


def default_precision() -> str:
    """bf16 mixed precision where CUDA supports it (half the activation memory, tensor cores),
    full fp32 elsewhere (bf16 on a CPU is slower, not faster)."""
    import torch

    if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return "bf16-mixed"
    return "32-true"


def cudnn_benchmark(deterministic: bool) -> bool:
    """cuDNN picks the fastest convolution algorithms for the input shape (fixed here), but
    the pick may differ between runs: off when the run must be deterministic."""
    import torch

    return torch.cuda.is_available() and not deterministic


def joblib_devices(job_num: int) -> list[int] | int:
    """launcher=joblib: job k on GPU k mod #GPUs (parallel jobs spread over the GPUs); on a
    machine without CUDA, 1 (one CPU process)."""
    import torch

    count = torch.cuda.device_count()
    return [int(job_num) % count] if count else 1


def interactive() -> bool:
    """Whether standard output is a terminal (a person watching), not a file or a pipe."""
    import sys

    return sys.stdout.isatty()


def on_gpu(accelerator: str) -> bool:
    """Whether the trainer will run on CUDA (SyncBatchNorm exists only there)."""
    import torch

    if accelerator in ("gpu", "cuda"):
        return True
    return accelerator == "auto" and torch.cuda.is_available()


def input_pipeline(accelerator: str) -> str:
    """data.augment_on for a trainer accelerator: batches augmented on the GPU when training
    on CUDA, per-image augmentation in the loader otherwise (faster on CPUs)."""
    return "device" if on_gpu(accelerator) else "loader"


def phantom_root(
    cache_dir: str, n: int, seed: int, healthy_fraction: float, effect: str = "natural"
) -> str:
    """data=phantom's data.root: the phantom set's folder under cache_dir, generated on first
    use (once, under a lock: phantom.store.ensure_phantom) and reused after. Resolved when the
    datamodule is built, after train() checked the config (a bad data.phantom.n generates
    nothing)."""
    from csxa_lightning.phantom.store import ensure_phantom  # the renderer only when needed

    return str(
        ensure_phantom(cache_dir, n=n, seed=seed, healthy_fraction=healthy_fraction, effect=effect)
    )


PHANTOM_RESOLVER = "csxa_phantom_root"  # conf/data/phantom.yaml's data.root
# name -> (function, use_cache). Every one computes a value and writes nothing, except
# csxa_phantom_root, which generates the phantom set on first use: a saved config that a report
# reads may not name it (SAVED_CONFIG_RESOLVERS).
RESOLVERS = {
    "csxa_run_name": (run_name, False),
    "csxa_pid": (os.getpid, True),
    "csxa_precision": (default_precision, False),
    "csxa_on_gpu": (on_gpu, False),
    "csxa_input_pipeline": (input_pipeline, False),
    "csxa_joblib_devices": (joblib_devices, False),
    PHANTOM_RESOLVER: (phantom_root, False),
    "csxa_cache_dir": (default_cache_dir, False),
    "csxa_cudnn_benchmark": (cudnn_benchmark, False),
    "csxa_interactive": (interactive, False),
}
# What a run folder's saved config may interpolate when the report reads it: our resolvers that
# only compute, Hydra's, and OmegaConf's built-ins (runs.folder.load_saved_config checks).
SAVED_CONFIG_RESOLVERS = frozenset(
    [name for name in RESOLVERS if name != PHANTOM_RESOLVER]
    + ["hydra", "now", "oc.env", "oc.decode", "oc.select", "oc.create", "oc.deprecated"]
    + ["oc.dict.keys", "oc.dict.values"]
)


def register_resolvers() -> None:
    """Registers RESOLVERS (those already registered are kept). The commands call it before
    Hydra composes; a library caller that composes or resolves our configs calls it too."""
    for name, (function, use_cache) in RESOLVERS.items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, function, use_cache=use_cache)
