"""python -m csxa_lightning.bench [--quick] ...          training throughput (bench.json)
python -m csxa_lightning.bench device --out DIR [...]  the GPU check: bench + 30-epoch run
python -m csxa_lightning.bench data [...]              data pipeline and SMOTE memory"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from csxa_lightning.bench import data, device, training
from csxa_lightning.utils.errors import exit_on_user_error
from csxa_lightning.utils.paths import default_cache_dir

MODES = """modes:
  (none)   training throughput: images/s of the model alone (model_only), of a real training
           step with its data pipeline (end_to_end), of a naive PNG loader and of the loader
           settings (--parts). Writes OUT/bench.json (--out, default outputs/bench).
  data     the data pipeline at CSXA size: cache build images/s, a training epoch's loader
           from the cache against a naive loader, peak memory (RSS) of SMOTE on the full
           training split. Writes OUT/data-<time>.json. Options: bench data --help.
  device   the GPU check (make bench-device): the GPU tests, this benchmark, then the paper's
           30-epoch ResNet50 run on a 4963-image phantom with Lightning's profiler. Writes
           gpu-tests.txt, bench.json, device.json, device.txt and run.log into --out.
           Options: bench device --help.

example:
  python -m csxa_lightning.bench --quick
  python -m csxa_lightning.bench data --n 1000
  python -m csxa_lightning.bench device --out /tmp/device --budget 600
"""


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """argparse's "(default: X)" after each option's help, except where the default is None:
    those sizes are chosen by the device, and their help says how."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None:
            return action.help
        return super()._get_help_string(action)


def main(argv: list[str] | None = None) -> None:
    """Problems the user can fix (a bad folder or option) end as one `error:` line."""
    with exit_on_user_error():
        run(sys.argv[1:] if argv is None else argv)


def run(argv: list[str]) -> None:
    if argv[:1] == ["smote-child"]:  # the fresh process bench_data measures SMOTE in
        data.smote_child(*argv[1:3])
        return
    if argv[:1] == ["data"]:
        parser = argparse.ArgumentParser(
            prog="python -m csxa_lightning.bench data",
            description="Data pipeline speed and SMOTE memory on a CSXA-sized phantom: cache "
            "build images/s, a training epoch's loader from the cache against a naive loader "
            "(PNG decoded every item), peak RSS of SMOTE. Writes OUT/data-<time>.json.",
            formatter_class=DefaultsHelpFormatter,
        )
        parser.add_argument("--n", type=int, default=4963, help="phantom images (CSXA: 4963)")
        parser.add_argument("--image-size", type=int, default=224, help="model input side, px")
        parser.add_argument(
            "--naive-items", type=int, default=320, help="items the (slow) naive loader is timed on"
        )
        parser.add_argument(
            "--cache-dir", default=default_cache_dir(), help="phantom sets and input caches"
        )
        parser.add_argument("--out", default="outputs/bench", help="folder for the results")
        args = parser.parse_args(argv[1:])
        results = data.bench_data(args)
        data.report(results)
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"data-{time.strftime('%Y%m%d-%H%M%S')}.json"
        path.write_text(json.dumps(results, indent=2) + "\n")
        print(f"\nresults: {path}")
        return
    if argv[:1] == ["device"]:
        parser = argparse.ArgumentParser(
            prog="python -m csxa_lightning.bench device",
            description="The GPU check: the GPU tests (gpu-tests.txt), the training benchmark "
            "(bench.json), then the paper's 30-epoch ResNet50 run on a 4963-image phantom with "
            "Lightning's profiler (run.log); all parts in device.json and device.txt, in --out.",
            formatter_class=DefaultsHelpFormatter,
        )
        training.add_arguments(parser)
        parser.add_argument(
            "--budget",
            type=float,
            default=None,
            help="seconds for the whole check: the compiled run (--compile) only if it fits",
        )
        device.run_device(parser.parse_args(argv[1:]))
        return
    parser = argparse.ArgumentParser(
        prog="python -m csxa_lightning.bench",
        usage="python -m csxa_lightning.bench [data | device] [options]",
        description="Benchmarks on a phantom set. Without a mode: training throughput "
        "(bench.json); `data`: the data pipeline; `device`: the GPU check.",
        epilog=MODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    training.add_arguments(parser)
    training.run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
