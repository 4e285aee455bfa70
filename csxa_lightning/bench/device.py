"""The GPU check in one command (make bench-device): the training benchmark, then one
full-length run of the paper's baseline at CSXA scale on a phantom, results under --out.

    python -m csxa_lightning.bench device --out $OUT [--quick]

The run is the paper's: ResNet50 (random initialization: the machine cannot download ImageNet
weights, and speed does not depend on them), crop=none, color=none, 224 px, SMOTE, the paper's
augmentation, 30 epochs, the paper's 75/25 split (no validation), on a 4963-image phantom.
The run has Lightning's simple profiler on (`+trainer.profiler=simple`, at the end of
run.log): where an epoch's time goes, data wait against the training step.

First the GPU tests (pytest -m gpu, into gpu-tests.txt), while the phantom set is generated
beside them. --compile adds the benchmark's compiled end-to-end figure and, where --budget
seconds leave room for it, the same run with model.compile=true (run-compile.log). --quick
shrinks the benchmark and the run to a CPU-sized check (a slow test runs it). Writes
gpu-tests.txt, bench.json, device.json (all parts, rewritten after each), device.txt (the
table) and run.log; at most 8 files, as the device tool brings back.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from csxa_lightning.bench import training
from csxa_lightning.bench.training_report import report
from csxa_lightning.phantom import CSXA_HEALTHY_FRACTION, CSXA_IMAGES, ensure_phantom

FULL_RUN = [
    f"data.phantom.n={CSXA_IMAGES}",
    "data.val_fraction=0",
    "model=resnet50",
    "model.pretrained=none",
    "trainer.max_epochs=30",
    "+trainer.profiler=simple",
]
QUICK_RUN = [
    "data.phantom.n=300",
    "data.val_fraction=0",
    "model=resnet18",
    "model.pretrained=none",
    "image_size=64",
    "trainer.max_epochs=1",
    "+trainer.profiler=simple",
]
QUICK_IMAGES = 300
GPU_TESTS_TIMEOUT_S = 300


def run_device(args: argparse.Namespace) -> dict:
    start = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    summary: dict = {"started": time.strftime("%Y-%m-%d %H:%M:%S %Z")}

    def save(key: str, value) -> None:  # after each part: a timeout keeps what was done
        summary[key] = value
        summary["elapsed_s"] = round(time.perf_counter() - start, 1)
        (out / "device.json").write_text(json.dumps(summary, indent=2) + "\n")

    phantom = phantom_in_background(args.cache_dir, args.quick)
    tests = gpu_tests(out)  # first: a broken GPU path shows before minutes of benchmark
    save("gpu_tests", tests)
    print(f"gpu tests: {tests}", flush=True)
    phantom.join()
    try:
        bench = training.run(args)  # writes out/bench.json
    except Exception as err:  # the baseline run still tells whether the GPU path trains
        bench = {"error": f"{type(err).__name__}: {err}"[:2000]}
        print(f"benchmark failed: {bench['error']}", flush=True)
    save("bench", bench)
    run = baseline_run(out, args.cache_dir, args.quick)
    save("baseline_run", run)
    runs = [run]
    if args.compile:
        # The compiled run costs about one more run, plus compilation.
        needed = 1.2 * run["wall_seconds"] + 90
        if seconds_left(start, args.budget) > needed:
            compiled = baseline_run(
                out, args.cache_dir, args.quick, ("model.compile=true",), "run-compile.log"
            )
            save("baseline_run_compiled", compiled)
            runs.append(compiled)
        else:
            save("baseline_run_compiled", {"skipped": f"--budget leaves under {needed:.0f} s"})
    text = table(bench, *runs)
    (out / "device.txt").write_text(text + "\n")
    print("\n" + text, flush=True)
    return summary


def baseline_run(
    out: Path, cache_dir: str, quick: bool, extra: tuple[str, ...] = (), log_name: str = "run.log"
) -> dict:
    """The 30-epoch run as a user starts it (python -m csxa_lightning.train ...), timed."""
    with tempfile.TemporaryDirectory(prefix="csxa-device-run-") as scratch:
        return _baseline_run(out, cache_dir, quick, Path(scratch) / "run", extra, log_name)


def _baseline_run(
    out: Path, cache_dir: str, quick: bool, run_dir: Path, extra: tuple[str, ...], log_name: str
) -> dict:
    command = [
        sys.executable,
        "-m",
        "csxa_lightning.train",
        *(QUICK_RUN if quick else FULL_RUN),
        *extra,
        f"paths.cache_dir={cache_dir}",
        f"hydra.run.dir={run_dir}",
    ]
    start = time.perf_counter()
    with open(out / log_name, "w") as log:
        log.write(" ".join(command) + "\n\n")
        log.flush()
        finished = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - start
    if finished.returncode != 0:
        raise SystemExit(
            f"error: the baseline run failed (exit {finished.returncode}); see {out}/{log_name}"
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
        "precision": metrics["trainer_precision"],
        "input_pipeline": metrics["input_pipeline"],
        "device": metrics["device"],
        "test": {k: metrics[k] for k in ("n", "accuracy", "balanced_accuracy", "auroc")},
    }


def gpu_tests(out: Path) -> dict:
    """The repository's GPU tests (pytest -m gpu), when run from a checkout that has them."""
    tests = Path("tests/integration/test_gpu.py")
    if not tests.exists():
        return {"ran": False, "why": f"{tests} not found (not run from the repository root)"}
    command = [sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider"]
    with open(out / "gpu-tests.txt", "w") as log:
        try:
            finished = subprocess.run(
                [*command, str(tests)],
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=GPU_TESTS_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired:
            return {"ran": True, "exit_code": None, "summary": f"timeout {GPU_TESTS_TIMEOUT_S} s"}
    last = (out / "gpu-tests.txt").read_text().strip().splitlines()[-1:]
    return {"ran": True, "exit_code": finished.returncode, "summary": " ".join(last)}


def phantom_in_background(cache_dir: str, quick: bool) -> threading.Thread:
    """The baseline run's phantom set (the benchmark uses the same one on a GPU), generated
    in its worker processes while the GPU tests run."""
    n = QUICK_IMAGES if quick else CSXA_IMAGES
    thread = threading.Thread(
        target=ensure_phantom, args=(cache_dir, n, 0, CSXA_HEALTHY_FRACTION), daemon=True
    )
    thread.start()
    return thread


def table(bench: dict, *runs: dict) -> str:
    head = f"benchmark failed: {bench['error']}" if "error" in bench else report(bench)
    return "\n\n".join([head, *(run_lines(run) for run in runs)])


def run_lines(run: dict) -> str:
    seconds = run["seconds"]
    compiled = " compiled" if "model.compile=true" in run["command"] else ""
    return "\n".join(
        [
            f"baseline run{compiled} ({run['epochs']} epochs x "
            f"{run['train_samples_per_epoch']} samples, "
            f"{run['precision']}, input pipeline {run['input_pipeline']}, {run['device']}):",
            f"  data {seconds['data']:.1f} s (phantom, cache, SMOTE), fit {seconds['fit']:.1f} s "
            f"({run['train_img_s']:.0f} img/s), test {seconds['test']:.1f} s, whole command "
            f"{run['wall_seconds']:.1f} s",
            f"  test balanced accuracy {run['test']['balanced_accuracy']:.3f}, AUROC "
            f"{run['test']['auroc']:.3f} (n = {run['test']['n']}; a phantom, not CSXA)",
        ]
    )


def seconds_left(start: float, budget: float | None) -> float:
    return float("inf") if budget is None else budget - (time.perf_counter() - start)
