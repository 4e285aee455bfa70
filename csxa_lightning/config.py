"""OmegaConf resolvers the configs use; imported by every entry point before Hydra composes."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from omegaconf import OmegaConf

from csxa_lightning.quiet import silence_known_noise


def find_config_dir(package_dir: Path) -> Path:
    """The configs beside the code: inside the package where a wheel installed them
    (csxa_lightning/conf, pyproject.toml's package-dir), else the checkout's top-level conf/
    (a checkout on sys.path, or an editable install, whose modules stay in the checkout)."""
    installed = package_dir / "conf"
    return installed if (installed / "train.yaml").is_file() else package_dir.parent / "conf"


# An absolute folder, so every entry point's @hydra.main(config_path=CONFIG_DIR) and the tests
# compose the same files however the package was installed or run.
CONFIG_DIR = str(find_config_dir(Path(__file__).resolve().parent))
_UNSAFE = re.compile(r"[^A-Za-z0-9=,._+\-\[\]]")
MAX_NAME = 200  # file systems allow 255 bytes per name


def default_cache_dir() -> str:
    """Where phantom sets and cached model inputs go unless paths.cache_dir says otherwise:
    $CSXA_CACHE_DIR, else $XDG_CACHE_HOME/csxa_lightning, else ~/.cache/csxa_lightning (the XDG
    base directory convention). The one definition: conf/paths/default.yaml and the benchmarks
    both use it."""
    if os.environ.get("CSXA_CACHE_DIR"):
        return os.environ["CSXA_CACHE_DIR"]
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return str(base / "csxa_lightning")


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
    if not OmegaConf.has_resolver("csxa_cache_dir"):
        OmegaConf.register_new_resolver("csxa_cache_dir", default_cache_dir)
    if not OmegaConf.has_resolver("csxa_cudnn_benchmark"):
        OmegaConf.register_new_resolver("csxa_cudnn_benchmark", cudnn_benchmark)


register_resolvers()
silence_known_noise()  # every entry point imports this module before Lightning starts
