"""python -m csxa_lightning.bench data [--n 4963] [--image-size 224] [--naive-items 320]

Speed of the data pipeline on a phantom set the size of CSXA, measured side by side in one run:
cache build images/s (cold), a training epoch's loader from the cache versus a naive loader
that decodes the PNG and preprocesses every item every epoch (same augmentation), and the peak
memory (RSS) of SMOTE on the full training split in a fresh process, as training runs it.
Results are printed and written to outputs/bench/data-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from torch.utils.data import DataLoader, Dataset

from csxa_lightning.bench.naive import NaiveDataset
from csxa_lightning.data.augment import PaperAugmentation
from csxa_lightning.data.balance import SMOTEBalancing
from csxa_lightning.data.cache import CachedArray, cached_inputs
from csxa_lightning.data.csxa import load_index
from csxa_lightning.data.dataset import ArrayDataset
from csxa_lightning.data.preprocess import Preprocessor
from csxa_lightning.data.split import make_split
from csxa_lightning.data.transforms import CenterCrop, EnhancedColor, GrayColor, KeypointCrop
from csxa_lightning.phantom import CSXA_HEALTHY_FRACTION, ensure_phantom

VARIANTS = {
    "crop=none,color=none": lambda size: Preprocessor(CenterCrop(500), GrayColor(), size),
    "crop=wide,color=enhanced": lambda size: Preprocessor(
        KeypointCrop(50, 100, "wide"), EnhancedColor("both"), size
    ),
}


def run(args: argparse.Namespace) -> dict:
    """The benchmark as `make bench-data` runs it: the report on stdout, the results in
    OUT/data-<time>.json."""
    results = bench_data(args)
    report(results)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"data-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nresults: {path}")
    return results


def bench_data(args: argparse.Namespace) -> dict:
    results: dict = {"n": args.n, "image_size": args.image_size, "cpus": os.cpu_count()}
    start = time.perf_counter()
    root = ensure_phantom(args.cache_dir, n=args.n, seed=0, healthy_fraction=CSXA_HEALTHY_FRACTION)
    results["phantom_seconds"] = time.perf_counter() - start
    index = load_index(root)
    split = make_split(index, seed=42)
    train_mask = (split["split"] == "train").to_numpy()
    rows = np.flatnonzero(train_mask)
    scratch = Path(tempfile.mkdtemp(prefix="csxa-bench-"))
    try:
        for name, make in VARIANTS.items():
            preprocessor = make(args.image_size)
            results[name] = bench_variant(index, rows, preprocessor, scratch, args.naive_items)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return results


def bench_variant(
    index: pd.DataFrame, rows: np.ndarray, preprocessor: Preprocessor, scratch: Path, naive_items
) -> dict:
    """One preprocessing variant: its cache built cold, an epoch's loader from that cache
    against the naive loader (the same augmentation), and SMOTE on its training rows."""
    labels = index["label"].to_numpy()[rows]
    start = time.perf_counter()
    entry = cached_inputs(index, preprocessor, scratch)  # cold: empty cache dir
    build = time.perf_counter() - start
    augment = PaperAugmentation()
    augment.reseed(0)
    cached = ArrayDataset(entry.read(rows)[:, 0], labels, augment=augment)
    naive = NaiveDataset(index.iloc[rows], preprocessor, augment)
    cached_ips = images_per_second(cached, len(cached))
    naive_ips = images_per_second(naive, naive_items)
    return {
        "cache_build_seconds": build,
        "cache_build_images_per_s": len(index) / build,
        "cached_loader_images_per_s": cached_ips,
        "naive_loader_images_per_s": naive_ips,
        "cached_over_naive": cached_ips / naive_ips,
        "smote": smote_in_fresh_process(entry.path, rows, labels, scratch),
    }


def smote_in_fresh_process(entry: Path, rows: np.ndarray, labels: np.ndarray, scratch: Path):
    """smote_child's measurement, in a new Python: its peak memory is SMOTE's, not this
    process's (which has held the caches and loaders above)."""
    np.savez(scratch / "rows.npz", rows=rows, labels=labels)
    child = subprocess.run(
        [
            sys.executable,
            "-m",
            "csxa_lightning.bench",
            "smote-child",
            str(entry),
            str(scratch / "rows.npz"),
        ],
        capture_output=True,
        text=True,
    )
    if child.returncode != 0:
        raise RuntimeError(f"SMOTE measurement failed:\n{child.stderr[-2000:]}")
    return json.loads(child.stdout.strip().splitlines()[-1])


def smote_child(entry: str, rows_file: str) -> None:
    """In a fresh process, as CSXADataModule._setup_train does it: read the training rows from
    the cache into the preallocated balanced array, then SMOTE. Prints JSON."""
    import csxa_lightning.models.classifier  # noqa: F401  (torch and lightning loaded, as in training)

    saved = np.load(rows_file)
    rows, labels = saved["rows"], saved["labels"]
    baseline = peak_rss_mb()
    inputs = CachedArray(Path(entry))
    balance = SMOTEBalancing()
    start = time.perf_counter()
    films = np.empty((len(rows) + balance.n_new(labels), *inputs.shape[1:]), np.uint8)
    inputs.read(rows, out=films[: len(rows)])
    balanced = balance.resample(films[: len(rows)], labels, seed=42, out=films)
    print(
        json.dumps(
            {
                "seconds": time.perf_counter() - start,
                "peak_rss_mb": peak_rss_mb(),
                "rss_before_mb": baseline,
                "train_films": len(rows),
                "synthetic": int(balanced.synthetic.sum()),
                "array_mb": films.nbytes / 2**20,
            }
        )
    )


def report(results: dict) -> None:
    print(
        f"\ndata pipeline on a {results['n']}-image phantom, {results['image_size']} px, "
        f"{results['cpus']} CPUs (phantom ready in {results['phantom_seconds']:.1f} s)"
    )
    for name, r in results.items():
        if not isinstance(r, dict):
            continue
        s = r["smote"]
        print(f"\n  {name}")
        print(
            f"    cache build        {r['cache_build_seconds']:7.1f} s  "
            f"({r['cache_build_images_per_s']:.0f} images/s, cold)"
        )
        print(
            f"    loader, cached     {r['cached_loader_images_per_s']:7.0f} images/s  "
            "(paper augmentation, one full epoch)"
        )
        print(
            f"    loader, naive      {r['naive_loader_images_per_s']:7.1f} images/s  "
            "(decode + preprocess + augmentation per item)"
        )
        print(f"    cached / naive     {r['cached_over_naive']:7.1f} x")
        print(
            f"    SMOTE              {s['seconds']:7.1f} s, peak RSS {s['peak_rss_mb']:.0f} MB "
            f"(process with torch before: {s['rss_before_mb']:.0f} MB; "
            f"{s['train_films']} films + {s['synthetic']} synthetic = {s['array_mb']:.0f} MB)"
        )


def images_per_second(dataset: Dataset, limit: int, batch_size: int = 32) -> float:
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=0)
    seen, start = 0, time.perf_counter()
    for batch in loader:
        seen += len(batch["label"])
        if seen >= limit:
            break
    return seen / (time.perf_counter() - start)


def peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM belongs to the process image: unlike
    ru_maxrss, it does not inherit the peak of the parent that forked it."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB
