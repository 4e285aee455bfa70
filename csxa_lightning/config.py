"""OmegaConf resolvers the configs use; imported by every entry point before Hydra composes."""

from __future__ import annotations

import hashlib
import os
import re

from omegaconf import OmegaConf

CONFIG_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "conf")
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


def register_resolvers() -> None:
    if not OmegaConf.has_resolver("csxa_run_name"):
        OmegaConf.register_new_resolver("csxa_run_name", run_name)
    if not OmegaConf.has_resolver("csxa_pid"):
        OmegaConf.register_new_resolver("csxa_pid", lambda: os.getpid(), use_cache=True)
    if not OmegaConf.has_resolver("csxa_precision"):
        OmegaConf.register_new_resolver("csxa_precision", default_precision)
    if not OmegaConf.has_resolver("csxa_on_gpu"):
        OmegaConf.register_new_resolver("csxa_on_gpu", on_gpu)
    if not OmegaConf.has_resolver("csxa_input_pipeline"):
        OmegaConf.register_new_resolver("csxa_input_pipeline", input_pipeline)
    if not OmegaConf.has_resolver("csxa_joblib_devices"):
        OmegaConf.register_new_resolver("csxa_joblib_devices", joblib_devices)
    if not OmegaConf.has_resolver("csxa_phantom_root"):
        OmegaConf.register_new_resolver("csxa_phantom_root", phantom_root)
    if not OmegaConf.has_resolver("csxa_cudnn_benchmark"):
        OmegaConf.register_new_resolver("csxa_cudnn_benchmark", cudnn_benchmark)


register_resolvers()
