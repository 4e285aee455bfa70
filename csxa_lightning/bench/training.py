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
Results: a table on stdout and <out>/bench.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import lightning as L
import torch
from hydra.utils import instantiate
from torch.utils.data import DataLoader, Dataset

from csxa_lightning.bench.data import NaiveDataset
from csxa_lightning.data.augment import PaperAugmentation
from csxa_lightning.models.classifier import IMAGENET_MEAN, IMAGENET_STD, CSXAClassifier
from csxa_lightning.phantom import CSXA_HEALTHY_FRACTION, CSXA_IMAGES, ensure_phantom
from csxa_lightning.runs.environment import run_environment
from csxa_lightning.utils.paths import default_cache_dir


@dataclass
class Settings:
    model: str
    image_size: int
    batch_size: int
    warmup: int
    steps: int
    n: int  # phantom images
    workers: int  # naive loader processes

    @classmethod
    def for_device(cls, args: argparse.Namespace, cuda: bool) -> Settings:
        """Sizes that give stable numbers in reasonable time: large batches and many steps on a
        GPU; on a CPU (ResNet50 at 224 px trains ~4 images/s on 2 cores) a few small ones."""
        if cuda:
            # CSXA's size: the same phantom set as the device check's baseline run, made once.
            default = cls(
                args.model, args.image_size, 256, 10, 40, CSXA_IMAGES, os.cpu_count() or 1
            )
            if args.quick:
                default.warmup, default.steps, default.n = 5, 15, 1000
        else:
            default = cls(args.model, args.image_size, 16, 1, 5, 500, os.cpu_count() or 1)
            if args.quick:
                default.batch_size, default.steps, default.n = 8, 3, 300
        for name in ("batch_size", "warmup", "steps", "n", "workers"):
            value = getattr(args, name)
            if value is not None:
                setattr(default, name, value)
        return default


class Throughput(L.Callback):
    """Images per second over the training steps after `warmup` steps."""

    def __init__(self, warmup: int, steps: int) -> None:
        self.warmup, self.steps = warmup, steps
        self.start = self.end = None
        self.images = 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        step = trainer.global_step  # already counts this step
        if step == self.warmup:
            synchronize(pl_module.device)
            self.start = time.perf_counter()
        elif step > self.warmup:
            self.images += len(batch["label"])
            if step == self.warmup + self.steps:
                synchronize(pl_module.device)
                self.end = time.perf_counter()
                trainer.should_stop = True

    @property
    def images_per_second(self) -> float:
        if self.end is None:
            raise RuntimeError("the run ended before the timed steps were done")
        return self.images / (self.end - self.start)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class RepeatedBatch(Dataset):
    """One batch, already on the device, served `length` times (model_only)."""

    def __init__(self, batch: dict[str, torch.Tensor], length: int) -> None:
        self.batch, self.length = batch, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return self.batch


class NaiveTrainingDataset(Dataset):
    """decode -> preprocess -> albumentations -> float32 normalized 3-channel tensor, per item,
    in the loader's worker processes: the input pipeline of most published code."""

    def __init__(self, naive: NaiveDataset) -> None:
        self.naive = naive
        self.mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
        self.std = torch.tensor(IMAGENET_STD).view(3, 1, 1)

    def __len__(self) -> int:
        return len(self.naive)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        item = self.naive[i]
        image = item["image"].float().div(255.0)
        if image.shape[0] == 1:
            image = image.expand(3, -1, -1)
        return {"image": (image - self.mean) / self.std, "label": item["label"]}


class NaiveClassifier(CSXAClassifier):
    """The same network, taking float32 inputs normalized in the loader."""

    def prepare_input(self, images: torch.Tensor) -> torch.Tensor:
        return images


def trainer_for(settings: Settings, precision: str, benchmark: bool, timer: Throughput):
    return L.Trainer(
        accelerator="auto",
        devices=1,
        precision=precision,
        benchmark=benchmark,
        max_steps=settings.warmup + settings.steps,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[timer],
    )


def timed_fit(settings, precision, benchmark, model, **fit_kwargs) -> float:
    timer = Throughput(settings.warmup, settings.steps)
    trainer_for(settings, precision, benchmark, timer).fit(model, **fit_kwargs)
    return timer.images_per_second


def reset_peak_memory() -> None:
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()


def peak_memory_gib() -> float | None:
    """torch.cuda.max_memory_allocated since the last reset, in GiB (None without CUDA)."""
    if not torch.cuda.is_available():
        return None
    return round(torch.cuda.max_memory_allocated() / 2**30, 2)


# A loader alone is fast: time more batches than training steps, after its worker processes
# have all delivered a first batch.
LOADER_BATCHES = 50


def loader_images_per_second(loader, settings, device, on_device=lambda batch: batch) -> float:
    """Batches to the device (and through `on_device`), no model; cycles the loader."""
    warmup = max(settings.warmup, 2 * max(loader.num_workers, 1))
    seen, start, batches = 0, None, 0
    while True:
        for batch in loader:
            batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
            on_device(batch)
            batches += 1
            if batches == warmup:
                synchronize(device)
                start = time.perf_counter()
            elif batches > warmup:
                seen += len(batch["label"])
                if batches == warmup + LOADER_BATCHES:
                    synchronize(device)
                    return seen / (time.perf_counter() - start)


def compose(settings: Settings, root: Path, cache_dir: Path, out: Path):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from csxa_lightning.config.location import CONFIG_DIR

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return hydra_compose(
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


def device_name() -> str:
    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def bench_training(args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory(prefix="csxa-bench-") as scratch:
        return _bench_training(args, Path(scratch))


def _bench_training(args: argparse.Namespace, scratch: Path) -> dict:
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    settings = Settings.for_device(args, cuda)
    parts = set(args.parts.split(",")) if args.parts else set(OPTIONAL_PARTS)
    if parts - set(OPTIONAL_PARTS) or ("loaders" in parts and "naive" not in parts):
        raise SystemExit(
            f"error: --parts {args.parts}: a comma list of {', '.join(OPTIONAL_PARTS)} "
            "(loaders needs naive)"
        )
    root = ensure_phantom(
        args.cache_dir, n=settings.n, seed=0, healthy_fraction=CSXA_HEALTHY_FRACTION
    )
    cfg = compose(settings, root, Path(args.cache_dir), scratch / "run")
    L.seed_everything(0, workers=True)
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    precision, benchmark = cfg.trainer.precision, cfg.trainer.benchmark

    def real_model() -> CSXAClassifier:
        # A fit with the datamodule wires the model to it (CSXAClassifier.setup); the others
        # time the same work with ImageNet's statistics.
        return instantiate(cfg.model)

    results: dict = {
        "device": device_name(),
        "precision": precision,
        "batch_size": settings.batch_size,
        "input_pipeline": "device" if datamodule.batches_on_device else "loader",
        "loader_workers": 0 if datamodule.batches_on_device else datamodule.num_workers,
        "settings": asdict(settings),
        "train_samples": len(datamodule.datasets["train"]),
        # what measured it: the record every run's metrics.json keeps (runs/environment.py)
        "versions": run_environment("cuda" if torch.cuda.is_available() else "cpu"),
    }
    sample_shape = tuple(next(iter(datamodule.train_dataloader()))["image"].shape[1:])

    # model_only: one batch on the device, the real model, the real precision.
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (settings.batch_size, *sample_shape), generator=generator)
    labels = torch.randint(0, 2, (settings.batch_size,), generator=generator)
    batch = {"image": images.to(torch.uint8).to(device), "label": labels.to(device)}
    steps = settings.warmup + settings.steps
    repeated = DataLoader(RepeatedBatch(batch, steps), batch_size=None)
    # The first fit of a process pays one-time costs beyond its warm-up steps (oneDNN/cuDNN
    # kernel selection, allocator growth): one untimed fit first, then the timed ones.
    timed_fit(settings, precision, benchmark, real_model(), train_dataloaders=repeated)
    reset_peak_memory()
    results["model_only_img_s"] = timed_fit(
        settings, precision, benchmark, real_model(), train_dataloaders=repeated
    )
    results["model_only_peak_gib"] = peak_memory_gib()

    # end_to_end: the real DataModule.
    epoch = epoch_window(settings, datamodule, cuda)
    results["end_to_end_window"] = {"warmup": epoch.warmup, "steps": epoch.steps}
    reset_peak_memory()
    results["end_to_end_img_s"] = timed_fit(
        epoch, precision, benchmark, real_model(), datamodule=datamodule
    )
    results["end_to_end_peak_gib"] = peak_memory_gib()
    if "naive" not in parts:
        return finish(results, args, epoch, precision, benchmark, cfg, datamodule)

    # naive: per-image decode + preprocess + albumentations in workers, float32 throughout.
    train_frame = datamodule.frames["train"]
    naive_items = NaiveTrainingDataset(
        NaiveDataset(train_frame, datamodule.preprocess, PaperAugmentation())
    )

    def naive_loader() -> DataLoader:
        return DataLoader(
            naive_items,
            batch_size=settings.batch_size,
            shuffle=True,
            num_workers=settings.workers,
            pin_memory=cuda,
            persistent_workers=settings.workers > 0,
            drop_last=True,
        )

    naive_model = NaiveClassifier(
        arch=settings.model, pretrained="none", channels_last=False, optimizer=None
    )
    results["naive_img_s"] = timed_fit(
        settings, "32-true", False, naive_model, train_dataloaders=naive_loader()
    )

    if "loaders" not in parts:
        return finish(results, args, epoch, precision, benchmark, cfg, datamodule)

    # The two pipelines alone.
    model = real_model().to(device)

    def device_side(batch: dict) -> None:
        augmented = datamodule.on_after_batch_transfer(batch, 0)
        model.prepare_input(augmented["image"])

    results["loader_cached_img_s"] = loader_images_per_second(
        datamodule.train_dataloader(), settings, device, device_side
    )
    results["loader_naive_img_s"] = loader_images_per_second(naive_loader(), settings, device)
    return finish(results, args, epoch, precision, benchmark, cfg, datamodule)


# Parts that --parts can leave out, each needing the ones before it; model_only and end_to_end
# always run.
OPTIONAL_PARTS = ("naive", "loaders")


def finish(results, args, epoch, precision, benchmark, cfg, datamodule) -> dict:
    """The compiled figure (--compile) and the ratios of whatever was measured."""
    if args.compile:
        results.update(compiled_end_to_end(epoch, precision, benchmark, cfg, datamodule))
    for over, (a, b) in RATIOS.items():
        if a in results and b in results:
            results[over] = results[a] / results[b]
    return results


RATIOS = {
    "end_to_end_over_model_only": ("end_to_end_img_s", "model_only_img_s"),
    "end_to_end_over_naive": ("end_to_end_img_s", "naive_img_s"),
    "loader_cached_over_naive": ("loader_cached_img_s", "loader_naive_img_s"),
    "end_to_end_compiled_over_model_only": ("end_to_end_compiled_img_s", "model_only_img_s"),
}


def epoch_window(settings: Settings, datamodule, cuda: bool) -> Settings:
    """On a GPU, end_to_end is timed over one whole epoch after a warm-up epoch. The last batch
    of an epoch is smaller: its first appearance costs cuDNN autotuning (and a recompilation
    under torch.compile), a one-time cost that a fixed step count would sometimes time and
    sometimes not. The timed epoch holds one epoch boundary and one smaller batch, as every
    epoch of a run does. On a CPU (no autotuning) the fixed count is kept: an epoch is minutes."""
    if not cuda:
        return settings
    steps = len(datamodule.train_dataloader())
    return replace(settings, warmup=steps, steps=steps)


def compiled_end_to_end(settings, precision, benchmark, cfg, datamodule) -> dict:
    """end_to_end with model.compile=true. The first warm-up step compiles; the fit's wall time
    (compilation included) is reported beside the rate. A failure to compile is recorded, not
    raised: the other numbers stand without it."""
    model = instantiate(cfg.model, compile=True)  # setup() takes the datamodule's statistics
    start = time.perf_counter()
    reset_peak_memory()
    try:
        rate = timed_fit(settings, precision, benchmark, model, datamodule=datamodule)
    except Exception as err:  # noqa: BLE001  (inductor needs a compiler toolchain)
        return {"end_to_end_compiled_error": f"{type(err).__name__}: {err}"[:2000]}
    return {
        "end_to_end_compiled_img_s": rate,
        "end_to_end_compiled_fit_seconds": round(time.perf_counter() - start, 1),
        "end_to_end_compiled_peak_gib": peak_memory_gib(),
    }


def report(results: dict) -> str:
    """The table on stdout: the rates measured, then their ratios."""
    s = results["settings"]
    window = results.get("end_to_end_window", {"warmup": s["warmup"], "steps": s["steps"]})
    rows = {
        "model_only_img_s": ("model_only", "batch already on the device"),
        "end_to_end_img_s": (
            "end_to_end",
            f"real DataModule; {window['steps']} timed steps after {window['warmup']}",
        ),
        "naive_img_s": (
            "naive",
            f"per-image decode + preprocess + albumentations, {s['workers']} workers, fp32",
        ),
        "loader_cached_img_s": (
            "loader_cached",
            f"pipeline alone, {results['loader_workers']} workers",
        ),
        "loader_naive_img_s": ("loader_naive", f"pipeline alone, {s['workers']} workers"),
    }
    lines = [
        f"training throughput on {results['device']}: {s['model']} at {s['image_size']} px, "
        f"batch {results['batch_size']}, {results['precision']}, input pipeline "
        f"{results['input_pipeline']}, {s['steps']} timed steps after {s['warmup']}",
        "",
        *(
            f"  {name:<14} {results[key]:9.1f} img/s  ({what})"
            for key, (name, what) in rows.items()
            if key in results
        ),
        *compiled_lines(results),
        "",
        *(
            f"  {over.replace('_over_', ' / '):<36} {results[over]:6.2f}"
            for over in RATIOS
            if over in results
        ),
    ]
    if results.get("model_only_peak_gib") is not None:
        lines.append(
            f"  peak GPU memory (max_memory_allocated): model_only "
            f"{results['model_only_peak_gib']:.2f} GiB, end_to_end "
            f"{results['end_to_end_peak_gib']:.2f} GiB"
        )
    return "\n".join(lines)


def compiled_lines(results: dict) -> list[str]:
    if "end_to_end_compiled_img_s" in results:
        return [
            f"  end_to_end compiled {results['end_to_end_compiled_img_s']:9.1f} img/s  "
            f"(model.compile=true; fit incl. compilation "
            f"{results['end_to_end_compiled_fit_seconds']:.0f} s)"
        ]
    if "end_to_end_compiled_error" in results:
        return [f"  end_to_end compiled: failed: {results['end_to_end_compiled_error'][:200]}"]
    return []


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The training benchmark's options. The sizes left unset (None) come from
    Settings.for_device: on a GPU batch 256, 10 warm-up and 40 timed steps on a CSXA-sized
    phantom (4963 films); on a CPU batch 16, 1 and 5 steps, 500 films; --quick shrinks both."""
    parser.add_argument(
        "--quick", action="store_true", help="small sizes: under 2 min on a CPU, a short GPU check"
    )
    parser.add_argument(
        "--model",
        default="resnet50",
        help="any torchvision classifier (model.arch), e.g. resnet50, vgg19 (default: %(default)s)",
    )
    parser.add_argument(
        "--image-size", type=int, default=224, help="model input side, px (default: %(default)s)"
    )
    parser.add_argument(
        "--batch-size", type=int, default=None, help="images per step (GPU 256, CPU 16; quick 8)"
    )
    parser.add_argument(
        "--warmup", type=int, default=None, help="untimed steps first (GPU 10, quick 5; CPU 1)"
    )
    parser.add_argument(
        "--steps", type=int, default=None, help="timed steps (GPU 40, quick 15; CPU 5, quick 3)"
    )
    parser.add_argument(
        "--n",
        type=int,
        default=None,
        help="phantom films (GPU 4963, quick 1000; CPU 500, quick 300)",
    )
    parser.add_argument(
        "--workers", type=int, default=None, help="naive loader processes (default: CPU count)"
    )
    parser.add_argument(
        "--compile", action="store_true", help="also end_to_end with model.compile=true"
    )
    parser.add_argument(
        "--parts",
        default=None,
        help="what to time beside model_only and end_to_end: naive[,loaders] (default: both)",
    )
    parser.add_argument(
        "--cache-dir",
        default=default_cache_dir(),
        help="phantom sets and input caches (default: %(default)s)",
    )
    parser.add_argument(
        "--out", default="outputs/bench", help="folder for bench.json (default: %(default)s)"
    )


def run(args: argparse.Namespace) -> dict:
    results = bench_training(args)
    print(report(results), flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nresults: {out / 'bench.json'}", file=sys.stderr)
    return results
