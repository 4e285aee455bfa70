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
from csxa_lightning.config import default_cache_dir
from csxa_lightning.errors import exit_on_user_error


def main(argv: list[str] | None = None) -> None:
    """Problems the user can fix (a bad folder or option) end as one `error:` line."""
    with exit_on_user_error():
        run(sys.argv[1:] if argv is None else argv)


def run(argv: list[str]) -> None:
    if argv[:1] == ["smote-child"]:  # the fresh process bench_data measures SMOTE in
        data.smote_child(*argv[1:3])
        return
    if argv[:1] == ["data"]:
        parser = argparse.ArgumentParser(prog="python -m csxa_lightning.bench data")
        parser.add_argument("--n", type=int, default=4963, help="phantom images (CSXA: 4963)")
        parser.add_argument("--image-size", type=int, default=224)
        parser.add_argument(
            "--naive-items", type=int, default=320, help="items the (slow) naive loader is timed on"
        )
        parser.add_argument("--cache-dir", default=default_cache_dir())
        parser.add_argument("--out", default="outputs/bench")
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
        parser = argparse.ArgumentParser(prog="python -m csxa_lightning.bench device")
        training.add_arguments(parser)
        parser.add_argument(
            "--budget",
            type=float,
            default=None,
            help="seconds for the whole check: the compiled run (--compile) only if it fits",
        )
        device.run_device(parser.parse_args(argv[1:]))
        return
    parser = argparse.ArgumentParser(prog="python -m csxa_lightning.bench")
    training.add_arguments(parser)
    training.run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
