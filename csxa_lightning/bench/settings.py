"""What the training benchmark is asked to time: its command-line options, the sizes they pick
on this device (Settings), the optional parts, and the window end_to_end is timed over."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, replace

from csxa_lightning.phantom import CSXA_IMAGES
from csxa_lightning.utils.paths import default_cache_dir

# Parts that --parts can leave out, each needing the ones before it; model_only and end_to_end
# always run.
OPTIONAL_PARTS = ("naive", "loaders")


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


def chosen_parts(parts: str | None) -> set[str]:
    """The optional parts --parts names (all when unset); a part without the one it needs is
    refused before minutes of measuring."""
    chosen = set(parts.split(",")) if parts else set(OPTIONAL_PARTS)
    if chosen - set(OPTIONAL_PARTS) or ("loaders" in chosen and "naive" not in chosen):
        raise SystemExit(
            f"error: --parts {parts}: a comma list of {', '.join(OPTIONAL_PARTS)} "
            "(loaders needs naive)"
        )
    return chosen


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
