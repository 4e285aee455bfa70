"""python -m csxa_lightning.bench [--quick] ...          training throughput (bench.json)
python -m csxa_lightning.bench device --out DIR [...]  the GPU check: bench + 30-epoch run
python -m csxa_lightning.bench data [...]              data pipeline and SMOTE memory

One subcommand per kind of benchmark (training, data, device); without one, training."""

from __future__ import annotations

import argparse
import sys

from csxa_lightning.bench.settings import add_arguments
from csxa_lightning.utils.errors import exit_on_user_error
from csxa_lightning.utils.paths import default_cache_dir

PROG = "csxa-bench"
MODES = """modes:
  (none)   training throughput: images/s of the model alone (model_only), of a real training
           step with its data pipeline (end_to_end), of a naive PNG loader and of the loader
           settings (--parts). Writes OUT/bench.json (--out, default outputs/bench).
           The same as `bench training`; options: bench training --help.
  data     the data pipeline at CSXA size: cache build images/s, a training epoch's loader
           from the cache against a naive loader, peak memory (RSS) of SMOTE on the full
           training split. Writes OUT/data-<time>.json. Options: bench data --help.
  device   the GPU check (make bench-device): the GPU tests, this benchmark, then the paper's
           30-epoch ResNet50 run on a 4963-image phantom with Lightning's profiler. Writes
           gpu-tests.txt, bench.json, device.json, device.txt and run.log into --out.
           Options: bench device --help.

example:
  csxa-bench --quick                  (or python -m csxa_lightning.bench --quick)
  csxa-bench data --n 1000
  csxa-bench device --out /tmp/device --budget 600
"""
# The subcommands, and the one that runs when none is named (`make bench` names none).
SUBCOMMANDS = ("training", "data", "device", "smote-child")
DEFAULT_SUBCOMMAND = "training"
HELP = ("-h", "--help")


def main(argv: list[str] | None = None) -> None:
    """Problems the user can fix (a bad folder or option) end as one `error:` line."""
    with exit_on_user_error():
        run(sys.argv[1:] if argv is None else argv)


def run(argv: list[str]) -> None:
    args = build_parser().parse_args(with_subcommand(argv))
    args.run(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        usage=f"{PROG} [training | data | device] [options]",
        description="Benchmarks on a phantom set. Without a mode: training throughput "
        "(bench.json); `data`: the data pipeline; `device`: the GPU check.",
        epilog=MODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    subcommands = parser.add_subparsers(
        title="subcommands", metavar="{training,data,device}", prog=PROG, required=True
    )
    add_training_command(subcommands)
    add_data_command(subcommands)
    add_device_command(subcommands)
    add_smote_child_command(subcommands)
    return parser


def add_training_command(subcommands) -> None:
    parser = subcommands.add_parser(
        "training",
        help="training throughput (the default mode)",
        description="Training throughput: images/s of the model alone (model_only), of a real "
        "training step with its data pipeline (end_to_end), of a naive PNG loader and of the "
        "loaders alone (--parts). Writes OUT/bench.json.",
    )
    add_arguments(parser)
    parser.set_defaults(run=run_training)


def add_data_command(subcommands) -> None:
    parser = subcommands.add_parser(
        "data",
        help="data pipeline speed and SMOTE memory",
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
    parser.set_defaults(run=run_data)


def add_device_command(subcommands) -> None:
    parser = subcommands.add_parser(
        "device",
        help="the GPU check: GPU tests, this benchmark, the 30-epoch run",
        description="The GPU check: the GPU tests (gpu-tests.txt), the training benchmark "
        "(bench.json), then the paper's 30-epoch ResNet50 run on a 4963-image phantom with "
        "Lightning's profiler (run.log); all parts in device.json and device.txt, in --out.",
        formatter_class=DefaultsHelpFormatter,
    )
    add_arguments(parser)
    parser.add_argument(
        "--budget",
        type=float,
        default=None,
        help="seconds for the whole check: the compiled run (--compile) only if it fits",
    )
    parser.set_defaults(run=run_device)


def add_smote_child_command(subcommands) -> None:
    """Not listed in the help: the fresh process `data` measures SMOTE's memory in."""
    parser = subcommands.add_parser("smote-child")
    parser.add_argument("entry")
    parser.add_argument("rows_file")
    parser.set_defaults(run=run_smote_child)


# Each mode's module is imported when it runs (torch among its imports): `--help` answers at once.


def run_training(args: argparse.Namespace) -> None:
    from csxa_lightning.bench import training

    training.run(args)


def run_data(args: argparse.Namespace) -> None:
    from csxa_lightning.bench import data

    data.run(args)


def run_device(args: argparse.Namespace) -> None:
    from csxa_lightning.bench import device

    device.run_device(args)


def run_smote_child(args: argparse.Namespace) -> None:
    from csxa_lightning.bench import data

    data.smote_child(args.entry, args.rows_file)


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """argparse's "(default: X)" after each option's help, except where the default is None:
    those sizes are chosen by the device, and their help says how."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None:
            return action.help
        return super()._get_help_string(action)


def with_subcommand(argv: list[str]) -> list[str]:
    """argv with the default subcommand in front when it names none: `bench --quick` is
    `bench training --quick`. A help flag first is the top-level help."""
    if argv[:1] and (argv[0] in SUBCOMMANDS or argv[0] in HELP):
        return argv
    return [DEFAULT_SUBCOMMAND, *argv]


if __name__ == "__main__":
    main()
