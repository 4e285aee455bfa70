"""Training throughput on whatever device is present, side by side in one run.

    python -m csxa_lightning.bench [--quick] [--model resnet50] [--image-size 224] ...

Five numbers (images per second), each over the same number of timed training steps after
warm-up steps, with the device synchronized at both ends:

- model_only_img_s    training steps on one batch already on the device (the ceiling);
- end_to_end_img_s    training steps fed by the real CSXADataModule (cache, SMOTE, the
                      paper's augmentation, normalization), with the pipeline the config
                      picks for this device (data.augment_on=auto);
- naive_img_s         the same model fed as most published code does: per-image PNG decode,
                      preprocessing and albumentations in DataLoader workers, float32 inputs,
                      float32 training (precision 32-true, no channels_last);
- loader_cached_img_s the real pipeline alone, no model: batches to the device, augmented
                      and normalized there when the device path is used;
- loader_naive_img_s  the naive pipeline alone, batches to the device.

On a CPU the network dominates both training numbers; the loader numbers show the data side.
Results: a table on stdout and <out>/bench.json. One function per measurement below; the sizes
come from settings.py, the clocks from timing.py, the naive baseline from naive.py.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import lightning as L
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import DictConfig
from torch.utils.data import DataLoader, Dataset

from csxa_lightning.bench.naive import naive_loader, naive_model, naive_training_items
from csxa_lightning.bench.settings import Settings, chosen_parts, epoch_window
from csxa_lightning.bench.timing import (
    loader_images_per_second,
    peak_memory_gib,
    reset_peak_memory,
    timed_fit,
)
from csxa_lightning.bench.training_report import report, with_ratios
from csxa_lightning.config.location import CONFIG_DIR
from csxa_lightning.config.resolvers import register_resolvers
from csxa_lightning.data.datamodule import CSXADataModule
from csxa_lightning.models.classifier import CSXAClassifier
from csxa_lightning.phantom import CSXA_HEALTHY_FRACTION, ensure_phantom
from csxa_lightning.runs.environment import run_environment


def run(args: argparse.Namespace) -> dict:
    """The benchmark as `make bench` runs it: the table on stdout, the results in bench.json."""
    results = bench_training(args)
    print(report(results), flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nresults: {out / 'bench.json'}", file=sys.stderr)
    return results


def bench_training(args: argparse.Namespace) -> dict:
    """Every measurement in one process, one after the other on the same data and device, so
    that their ratios compare like with like. The order matters: model_only's untimed first
    fit pays the process's one-time costs for all of them."""
    settings = Settings.for_device(args, torch.cuda.is_available())
    parts = chosen_parts(args.parts)
    with tempfile.TemporaryDirectory(prefix="csxa-bench-") as scratch:
        bench = load_data(args, settings, Path(scratch))
        results = describe(bench)
        results.update(measure_model_only(bench))
        window = epoch_window(settings, bench.datamodule, bench.cuda)
        results.update(measure_end_to_end(bench, window))
        if "naive" in parts:
            naive_items = naive_training_items(bench.datamodule)  # shared by both naive parts
            results.update(measure_naive(bench, naive_items))
            if "loaders" in parts:
                results.update(measure_loaders(bench, naive_items))
        if args.compile:
            results.update(measure_compiled_end_to_end(bench, window))
        return with_ratios(results)


@dataclass
class TrainingBench:
    """What every measurement times with: the sizes, the composed config, the phantom set's
    data module (set up for fitting) and the device."""

    settings: Settings
    cfg: DictConfig
    datamodule: CSXADataModule
    device: torch.device

    @property
    def cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def precision(self) -> str:
        return self.cfg.trainer.precision

    @property
    def benchmark(self) -> bool:
        return self.cfg.trainer.benchmark


def load_data(args: argparse.Namespace, settings: Settings, scratch: Path) -> TrainingBench:
    """The phantom set (made once into the cache), the training config composed for it, and its
    data module set up for fitting: cache, split, SMOTE, as a training run does."""
    root = ensure_phantom(
        args.cache_dir, n=settings.n, seed=0, healthy_fraction=CSXA_HEALTHY_FRACTION
    )
    cfg = compose_config(settings, root, Path(args.cache_dir), scratch / "run")
    L.seed_everything(0, workers=True)
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return TrainingBench(settings, cfg, datamodule, device)


def describe(bench: TrainingBench) -> dict:
    """What was measured, and with what: the head of bench.json."""
    datamodule = bench.datamodule
    return {
        "device": device_name(),
        "precision": bench.precision,
        "batch_size": bench.settings.batch_size,
        "input_pipeline": "device" if datamodule.batches_on_device else "loader",
        "loader_workers": 0 if datamodule.batches_on_device else datamodule.num_workers,
        "settings": asdict(bench.settings),
        "train_samples": len(datamodule.datasets["train"]),
        # what measured it: the record every run's metrics.json keeps (runs/environment.py)
        "versions": run_environment("cuda" if torch.cuda.is_available() else "cpu"),
    }


def measure_model_only(bench: TrainingBench) -> dict:
    """Training steps on one batch already on the device: the real model at the real precision,
    with no input pipeline at all (the ceiling)."""
    settings = bench.settings
    sample_shape = tuple(next(iter(bench.datamodule.train_dataloader()))["image"].shape[1:])
    batch = random_batch(settings.batch_size, sample_shape, bench.device)
    repeated = DataLoader(RepeatedBatch(batch, settings.warmup + settings.steps), batch_size=None)
    precision, benchmark = bench.precision, bench.benchmark
    # The first fit of a process pays one-time costs beyond its warm-up steps (oneDNN/cuDNN
    # kernel selection, allocator growth): one untimed fit first, then the timed ones.
    timed_fit(settings, precision, benchmark, real_model(bench.cfg), train_dataloaders=repeated)
    reset_peak_memory()
    rate = timed_fit(
        settings, precision, benchmark, real_model(bench.cfg), train_dataloaders=repeated
    )
    return {"model_only_img_s": rate, "model_only_peak_gib": peak_memory_gib()}


def measure_end_to_end(bench: TrainingBench, window: Settings) -> dict:
    """Training steps fed by the real data module, over `window` (settings.epoch_window)."""
    results: dict = {"end_to_end_window": {"warmup": window.warmup, "steps": window.steps}}
    reset_peak_memory()
    results["end_to_end_img_s"] = timed_fit(
        window, bench.precision, bench.benchmark, real_model(bench.cfg), datamodule=bench.datamodule
    )
    results["end_to_end_peak_gib"] = peak_memory_gib()
    return results


def measure_naive(bench: TrainingBench, naive_items: Dataset) -> dict:
    """The same network fed and trained as most published code does: per-image decode,
    preprocessing and albumentations in loader workers, float32 throughout."""
    settings = bench.settings
    rate = timed_fit(
        settings,
        "32-true",
        False,  # no cuDNN autotuning either
        naive_model(settings),
        train_dataloaders=naive_loader(naive_items, settings, bench.cuda),
    )
    return {"naive_img_s": rate}


def measure_loaders(bench: TrainingBench, naive_items: Dataset) -> dict:
    """The two input pipelines alone, no training: batches to the device; the real one also
    through the device-side augmentation and normalization a training step starts with."""
    model = real_model(bench.cfg).to(bench.device)

    def device_side(batch: dict) -> None:
        augmented = bench.datamodule.on_after_batch_transfer(batch, 0)
        model.prepare_input(augmented["image"])

    settings, device = bench.settings, bench.device
    cached = loader_images_per_second(
        bench.datamodule.train_dataloader(), settings, device, device_side
    )
    naive = naive_loader(naive_items, settings, bench.cuda)
    return {
        "loader_cached_img_s": cached,
        "loader_naive_img_s": loader_images_per_second(naive, settings, device),
    }


def measure_compiled_end_to_end(bench: TrainingBench, window: Settings) -> dict:
    """end_to_end with model.compile=true. The first warm-up step compiles; the fit's wall time
    (compilation included) is reported beside the rate. A failure to compile is recorded, not
    raised: the other numbers stand without it."""
    model = instantiate(bench.cfg.model, compile=True)  # setup() takes the datamodule's statistics
    start = time.perf_counter()
    reset_peak_memory()
    try:
        rate = timed_fit(
            window, bench.precision, bench.benchmark, model, datamodule=bench.datamodule
        )
    except Exception as err:  # noqa: BLE001  (inductor needs a compiler toolchain)
        return {"end_to_end_compiled_error": f"{type(err).__name__}: {err}"[:2000]}
    return {
        "end_to_end_compiled_img_s": rate,
        "end_to_end_compiled_fit_seconds": round(time.perf_counter() - start, 1),
        "end_to_end_compiled_peak_gib": peak_memory_gib(),
    }


def real_model(cfg: DictConfig) -> CSXAClassifier:
    """The configured classifier, new for each fit. A fit with the datamodule wires the model to
    it (CSXAClassifier.setup); the others time the same work with ImageNet's statistics."""
    return instantiate(cfg.model)


class RepeatedBatch(Dataset):
    """One batch, already on the device, served `length` times (model_only)."""

    def __init__(self, batch: dict[str, torch.Tensor], length: int) -> None:
        self.batch, self.length = batch, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return self.batch


def compose_config(settings: Settings, root: Path, cache_dir: Path, out: Path) -> DictConfig:
    """The training command's config for the phantom set at the benchmark's sizes."""
    register_resolvers()  # conf/ interpolates ${csxa_...:}; nothing registers them on import
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(
            config_name="train",
            overrides=[
                "data=csxa",
                f"data.root={root}",
                f"paths.cache_dir={cache_dir}",
                f"paths.output_dir={out}",
                f"model={settings.model}",
                "model.pretrained=none",  # speed does not depend on the starting weights
                f"image_size={settings.image_size}",
                f"data.batch_size={settings.batch_size}",
                "data.val_fraction=0",  # the paper's split; validation is not timed
            ],
        )


def random_batch(size: int, sample_shape: tuple, device: torch.device) -> dict:
    """A fixed batch of uint8 images and labels, as the data module delivers them."""
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (size, *sample_shape), generator=generator)
    labels = torch.randint(0, 2, (size,), generator=generator)
    return {"image": images.to(torch.uint8).to(device), "label": labels.to(device)}


def device_name() -> str:
    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
