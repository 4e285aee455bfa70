"""The kill-and-restart soak. A small Table 1 sweep (the seven variants, two seeds, tiny
settings) is SIGKILLed, with every process it started, at five seeded random moments -- during
a cache build, training, a checkpoint write, testing and the report -- and started again after
each kill with the same command, as a user or a requeueing scheduler would. It must end with the
report of a sweep that was never interrupted, number for number, with no half-written file left
behind and every run folder holding the files of one run.

Each kill waits for its phase to show (a partial file appearing, a progress bar, a log line),
then strikes after a seeded random count of such events and a seeded random delay, from outside
the process (tests/sweep_killer.py): nothing in the package is patched or told.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from tests.helpers import module_command, module_env, phantom_command_line
from tests.sweep_killer import NewFiles, OutputCounter, Trigger, run_until

pytestmark = pytest.mark.slow

SOAK_SEED = 18  # the issue that asked for it
SEEDS = (1, 2)
VARIANTS = 7
JOBS = VARIANTS * len(SEEDS)
START_TIMEOUT = 900  # seconds: one start of the sweep, killed or not


def sweep_command(phantom, cache: Path, sweep: Path) -> list[str]:
    return module_command(
        "csxa_lightning.train",
        "--multirun",
        "experiment=table1",
        f"seed={','.join(map(str, SEEDS))}",
        *phantom_command_line(phantom.root, cache),
        "trainer.max_epochs=2",  # a kill in the second epoch resumes from the first's checkpoint
        "trainer.deterministic=true",
        # The kills read the progress bar, which is off where the output is a pipe.
        "trainer.enable_progress_bar=true",
        f"hydra.sweep.dir={sweep}",
    )


# --- the five kills: what each waits for -------------------------------------------------------


def during_cache_build(rng: np.random.Generator, cache: Path, sweep: Path) -> Trigger:
    """While a preprocessed cache entry is being written (its .partial file exists)."""
    entries = NewFiles(cache, "inputs/.*.partial")
    k, delay = int(rng.integers(1, 3)), float(rng.uniform(0, 0.05))
    fires = lambda text: entries.update() >= k and entries.newest_exists()  # noqa: E731
    return Trigger("cache build", fires, delay, f"cache entry #{k} of the start, +{delay:.3f} s")


def during_training(rng: np.random.Generator, cache: Path, sweep: Path) -> Trigger:
    """Inside a second epoch: the run resumes from the first epoch's last.ckpt."""
    mid_epoch = OutputCounter(
        r"Epoch 1:\s+\d+%\|[^|\r\n]*\|\s*(\d+)/(\d+)",
        accept=lambda m: 0 < int(m[1]) < int(m[2]),
    )
    k = int(rng.integers(1, 5))
    fires = lambda text: mid_epoch.update(text) >= k  # noqa: E731
    return Trigger("training", fires, 0.0, f"progress update #{k} inside an epoch 1")


def during_checkpoint_write(rng: np.random.Generator, cache: Path, sweep: Path) -> Trigger:
    """While a checkpoint file is being written (its .partial file exists)."""
    written = NewFiles(sweep, "*/checkpoints/.*.partial")
    k = int(rng.integers(1, 4))
    fires = lambda text: written.update() >= k and written.newest_exists()  # noqa: E731
    return Trigger("checkpoint writing", fires, 0.0, f"checkpoint write #{k} of the start")


def during_testing(rng: np.random.Generator, cache: Path, sweep: Path) -> Trigger:
    """When a run's test loop starts."""
    tests = OutputCounter(r"Testing DataLoader 0:\s+0%")
    k = int(rng.integers(1, 3))
    fires = lambda text: tests.update(text) >= k  # noqa: E731
    return Trigger("testing", fires, 0.0, f"test loop #{k} of the start")


def during_report(rng: np.random.Generator, cache: Path, sweep: Path) -> Trigger:
    """After every job has ended (each printed its metrics line and released its lock): the
    sweep's end callback is building the report."""
    # Each job's one line: its result ("...; metrics: PATH"), or "metrics: PATH (finished earlier".
    jobs = OutputCounter(r"(^|; )metrics: ")
    delay = float(rng.uniform(0.2, 3.0))

    def fires(text: str) -> bool:
        return jobs.update(text) >= JOBS and not any(sweep.glob("*/run.lock"))

    return Trigger("report building", fires, delay, f"all jobs ended, +{delay:.2f} s")


KILLS = (
    during_cache_build,
    during_training,
    during_checkpoint_write,
    during_testing,
    during_report,
)


# --- what a killed start must leave, and what the finished sweep must hold ---------------------


def partial_files(*folders: Path) -> list[Path]:
    return sorted(p for folder in folders for p in folder.rglob("*.partial"))


def evidence(phase: str, outcome, cache: Path, sweep: Path) -> str:
    """What shows that the kill landed in its phase (asserted), in words for the record."""
    if phase == "cache build":
        left = partial_files(cache)
        assert left, "the kill missed the cache build: no partial entry left"
        return f"left {left[0].name}"
    if phase == "checkpoint writing":
        left = [p for p in partial_files(sweep) if p.parent.name == "checkpoints"]
        assert left, "the kill missed the checkpoint write: no partial checkpoint left"
        return f"left {left[0].parent.parent.name[:20]}.../{left[0].name}"
    if phase == "training":
        resumable = [
            p.parent.parent
            for p in sweep.glob("*/checkpoints/last.ckpt")
            if not (p.parent.parent / "metrics.json").exists()
        ]
        assert resumable, "the kill in epoch 1 left no run to resume"
        return f"{len(resumable)} run(s) to resume from last.ckpt"
    if phase == "testing":
        assert "Testing DataLoader 0" in outcome.output
        return "test loop started"
    assert "report: " not in outcome.output and not (sweep / "report.md").exists()
    return "no report yet"


def run_folders(sweep: Path) -> list[Path]:
    return sorted(p for p in sweep.iterdir() if (p / ".hydra").is_dir())


def assert_one_run_per_folder(folder: Path) -> None:
    metrics = pd.read_json(folder / "metrics.json", typ="series")
    config = yaml.safe_load((folder / ".hydra" / "config.yaml").read_text())
    overrides = yaml.safe_load((folder / ".hydra" / "overrides.yaml").read_text())
    assert f"seed={config['seed']}" in overrides, folder.name
    assert f"+variant={metrics['variant']}" in overrides, folder.name
    files = sorted(p.name for p in folder.iterdir())
    assert files == [
        ".hydra",
        "checkpoints",
        "logs",
        "metrics.json",
        "normalization.json",
        "predictions.csv",
        "split.csv",
        "train.log",
    ], folder.name
    (kept,) = (folder / "checkpoints").iterdir()  # the tested checkpoint alone
    assert kept.name == Path(metrics["checkpoint"]).name
    assert "optimizer_states" not in torch.load(kept, map_location="cpu", weights_only=True)


def test_a_sweep_killed_five_times_ends_as_one_never_interrupted(phantom, tmp_path, capsys):
    env = module_env()
    reference_sweep = tmp_path / "reference" / "sweep"
    started = time.monotonic()
    reference = run_until(
        sweep_command(phantom, tmp_path / "reference" / "cache", reference_sweep),
        tmp_path,
        env,
        None,
        START_TIMEOUT,
    )
    reference_seconds = time.monotonic() - started
    assert reference.returncode == 0, reference.output[-3000:]

    cache, sweep = tmp_path / "soak" / "cache", tmp_path / "soak" / "sweep"
    command = sweep_command(phantom, cache, sweep)
    rng = np.random.default_rng(SOAK_SEED)
    record = []
    started = time.monotonic()
    for kill in KILLS:
        trigger = kill(rng, cache, sweep)
        outcome = run_until(command, tmp_path, env, trigger, START_TIMEOUT)
        assert outcome.killed, (
            f"{trigger.phase}: the start ended before the kill\n" + (outcome.output[-3000:])
        )
        assert outcome.returncode == -9
        record.append((trigger, outcome, evidence(trigger.phase, outcome, cache, sweep)))
    final = run_until(command, tmp_path, env, None, START_TIMEOUT)
    soak_seconds = time.monotonic() - started
    assert final.returncode == 0, final.output[-3000:]
    assert "report: " in final.output

    # The numbers: every run's scores and curves, and the report's table, as if never killed.
    folders = run_folders(sweep)
    assert [p.name for p in folders] == [p.name for p in run_folders(reference_sweep)]
    assert len(folders) == JOBS
    for folder in folders:
        twin = reference_sweep / folder.name
        for name in ("predictions.csv", "split.csv", "logs/metrics.csv"):
            assert (folder / name).read_bytes() == (twin / name).read_bytes(), (folder, name)
        assert_one_run_per_folder(folder)
    table, expected = (
        pd.read_csv(s / "report.csv").drop(columns="folder") for s in (sweep, reference_sweep)
    )
    pd.testing.assert_frame_equal(table, expected)
    assert (sweep / "report.md").exists() and (sweep / "report.html").exists()
    # Nothing half-written anywhere, no lock left, and the runs killed in training resumed.
    assert partial_files(cache, sweep) == []
    assert not list(sweep.rglob("run.lock"))
    assert "resuming the interrupted run in" in "".join(o.output for _, o, _ in record[2:])

    with capsys.disabled():
        print(f"\nsoak (seed {SOAK_SEED}): reference sweep {reference_seconds:.0f} s; "
              f"killed and restarted {soak_seconds:.0f} s")  # fmt: skip
        for i, (trigger, outcome, seen) in enumerate(record, 1):
            print(f"  kill {i}: {trigger.phase:<18} {trigger.description}; "
                  f"at {outcome.at:.1f} s of start {i}; {seen}")  # fmt: skip
        print(f"  start 6: finished in {final.seconds:.0f} s")
