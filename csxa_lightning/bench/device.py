"""The GPU check in one command (make bench-device): the training benchmark, then one
full-length run of the paper's baseline at CSXA scale on a phantom, results under --out.

    python -m csxa_lightning.bench device --out $OUT [--quick]

The run is the paper's: ResNet50 (random initialization: the machine cannot download ImageNet
weights, and speed does not depend on them), crop=none, color=none, 224 px, SMOTE, the paper's
augmentation, 30 epochs, the paper's 75/25 split (no validation), on a 4963-image phantom.
First the GPU tests (pytest -m gpu, into gpu-tests.txt). --quick shrinks the benchmark and
the run to a CPU-sized check (a slow test runs it). Writes gpu-tests.txt, bench.json,
device.json (all parts), device.txt (the table) and run.log (the run's output); at most 8
files, as the device tool brings back.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from csxa_lightning.bench import training

FULL_RUN = [
    "data.phantom.n=4963",
    "data.val_fraction=0",
    "model=resnet50",
    "model.pretrained=none",
    "trainer.max_epochs=30",
]
QUICK_RUN = [
    "data.phantom.n=300",
    "data.val_fraction=0",
    "model=resnet18",
    "model.pretrained=none",
    "image_size=64",
    "trainer.max_epochs=1",
]


def baseline_run(out: Path, cache_dir: str, quick: bool) -> dict:
    """The 30-epoch run as a user starts it (python -m csxa_lightning.train ...), timed."""
    with tempfile.TemporaryDirectory(prefix="csxa-device-run-") as scratch:
        return _baseline_run(out, cache_dir, quick, Path(scratch) / "run")


def _baseline_run(out: Path, cache_dir: str, quick: bool, run_dir: Path) -> dict:
    command = [
        sys.executable,
        "-m",
        "csxa_lightning.train",
        *(QUICK_RUN if quick else FULL_RUN),
        f"paths.cache_dir={cache_dir}",
        f"hydra.run.dir={run_dir}",
    ]
    start = time.perf_counter()
    with open(out / "run.log", "w") as log:
        log.write(" ".join(command) + "\n\n")
        log.flush()
        finished = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - start
    if finished.returncode != 0:
        raise SystemExit(
            f"error: the baseline run failed (exit {finished.returncode}); see {out}/run.log"
        )
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return {
        "command": " ".join(command[1:]),
        "wall_seconds": round(wall, 1),
        "seconds": {part: metrics[f"seconds_{part}"] for part in ("data", "fit", "test")},
        "epochs": metrics["epochs"],
        "train_samples_per_epoch": metrics["train_samples"],
        "train_img_s": round(
            metrics["train_samples"] * metrics["epochs"] / metrics["seconds_fit"], 1
        ),
        "precision": metrics["precision"],
        "input_pipeline": metrics["input_pipeline"],
        "device": metrics["device"],
        "test": {k: metrics[k] for k in ("n", "accuracy", "balanced_accuracy", "auroc")},
    }


def table(bench: dict, run: dict) -> str:
    seconds = run["seconds"]
    return "\n".join(
        [
            training.report(bench),
            "",
            f"baseline run ({run['epochs']} epochs x {run['train_samples_per_epoch']} samples, "
            f"{run['precision']}, input pipeline {run['input_pipeline']}, {run['device']}):",
            f"  data {seconds['data']:.1f} s (phantom, cache, SMOTE), fit {seconds['fit']:.1f} s "
            f"({run['train_img_s']:.0f} img/s), test {seconds['test']:.1f} s, whole command "
            f"{run['wall_seconds']:.1f} s",
            f"  test balanced accuracy {run['test']['balanced_accuracy']:.3f}, AUROC "
            f"{run['test']['auroc']:.3f} (n = {run['test']['n']}; a phantom, not CSXA)",
        ]
    )


def gpu_tests(out: Path) -> dict:
    """The repository's GPU tests (pytest -m gpu), when run from a checkout that has them."""
    tests = Path("tests/integration/test_gpu.py")
    if not tests.exists():
        return {"ran": False, "why": f"{tests} not found (not run from the repository root)"}
    command = [sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider"]
    with open(out / "gpu-tests.txt", "w") as log:
        finished = subprocess.run([*command, str(tests)], stdout=log, stderr=subprocess.STDOUT)
    last = (out / "gpu-tests.txt").read_text().strip().splitlines()[-1:]
    return {"ran": True, "exit_code": finished.returncode, "summary": " ".join(last)}


def run_device(args: argparse.Namespace) -> dict:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tests = gpu_tests(out)  # first: a broken GPU path shows before minutes of benchmark
    print(f"gpu tests: {tests}", flush=True)
    bench = training.run(args)  # writes out/bench.json
    run = baseline_run(out, args.cache_dir, args.quick)
    summary = {"gpu_tests": tests, "bench": bench, "baseline_run": run}
    (out / "device.json").write_text(json.dumps(summary, indent=2) + "\n")
    text = table(bench, run)
    (out / "device.txt").write_text(text + "\n")
    print("\n" + text, flush=True)
    return summary
