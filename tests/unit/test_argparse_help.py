"""The argparse commands' --help says what each mode and flag does, and its default."""

from __future__ import annotations

import argparse
import re

import pytest

from csxa_lightning.bench.__main__ import DefaultsHelpFormatter, build_parser, with_subcommand
from csxa_lightning.bench.settings import add_arguments
from tests.helpers import run_module


@pytest.mark.slow  # a subprocess run of tens of seconds: make test-all
def test_bench_help_names_its_modes_with_what_they_measure_and_write(tmp_path):
    result = run_module("csxa_lightning.bench", "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    modes = result.stdout.split("modes:", 1)[1]
    for mode, measures, writes in [
        ("(none)", "training throughput", "bench.json"),
        ("data", "data pipeline", "data-<time>.json"),
        ("device", "GPU check", "device.json"),
    ]:
        block = re.search(rf"^  {re.escape(mode)} .*?(?=^  \S|\Z)", modes, re.M | re.S)
        assert block, mode
        assert measures in block.group() and writes in block.group(), block.group()
    data = run_module("csxa_lightning.bench", "data", "--help", cwd=tmp_path).stdout
    assert "peak RSS of SMOTE" in data and "(default: 4963)" in data
    device = run_module("csxa_lightning.bench", "device", "--help", cwd=tmp_path).stdout
    assert "run.log" in device and "--budget" in device


def test_phantom_help_gives_every_flag_a_meaning_and_a_default(tmp_path):
    result = run_module("csxa_lightning.phantom", "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    options = result.stdout.split("options:", 1)[1].split("\n\n", 1)[0]
    flags = re.findall(r"^  (--[\w-]+)", options, re.M)
    assert set(flags) >= {"--out", "--n", "--seed", "--healthy-fraction", "--workers"}
    entries = re.split(r"^  (?=--)", options, flags=re.M)[1:]
    for entry in entries:
        text = " ".join(entry.split())
        assert "default" in text or "required" in text, text
    assert "datasets-PNG/" in result.stdout and "datasets.xlsx" in result.stdout


@pytest.mark.parametrize(
    "formatter", [argparse.RawDescriptionHelpFormatter, DefaultsHelpFormatter]
)  # bench (no mode) and bench device
def test_every_training_benchmark_option_says_what_it_does_and_its_default(formatter):
    parser = argparse.ArgumentParser(formatter_class=formatter)
    add_arguments(parser)
    options = " ".join(parser.format_help().split("options:", 1)[1].split())
    entries = dict(re.findall(r"(--[\w-]+)(?: [A-Z_]+)? (.*?)(?= --[\w-]+ |$)", options))
    assert set(entries) >= {"--quick", "--model", "--batch-size", "--n", "--cache-dir", "--out"}
    for flag in entries:
        text = entries[flag]
        assert len(text) > 10, flag
        assert text.count("(default:") <= 1, text  # not twice in device mode
    assert "(default: resnet50)" in entries["--model"]
    assert "(default: outputs/bench)" in entries["--out"]
    assert "GPU 256, CPU 16" in entries["--batch-size"]  # None: chosen by device


@pytest.mark.parametrize(
    ("argv", "runs", "options"),
    [
        ([], "run_training", {"quick": False, "out": "outputs/bench"}),  # make bench
        (["--quick", "--parts", "naive"], "run_training", {"quick": True, "parts": "naive"}),
        (["training", "--steps", "3"], "run_training", {"steps": 3}),
        (["data", "--n", "1000"], "run_data", {"n": 1000, "naive_items": 320}),
        (["device", "--out", "/tmp/d", "--quick"], "run_device", {"budget": None}),
        (["smote-child", "entry", "rows.npz"], "run_smote_child", {"rows_file": "rows.npz"}),
    ],
)
def test_each_bench_invocation_reaches_its_benchmark(argv, runs, options):
    """Without a subcommand the training benchmark runs, as `make bench` and the README call it.
    Each mode's runner imports its module when it runs (bench/__main__.py), so that --help
    answers without torch."""
    args = build_parser().parse_args(with_subcommand(argv))
    assert args.run.__name__ == runs
    assert {name: getattr(args, name) for name in options} == options
