"""Scale-out through the established engines, configured by us: Lightning DDP (2 CPU processes
over gloo), Hydra's joblib launcher, and submitit for SLURM (its sbatch script, and a sweep
through submitit's local executor)."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pandas as pd
import pytest
import submitit
from hydra import compose, initialize_config_dir
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
from omegaconf import OmegaConf

from csxa_lightning.config.location import CONFIG_DIR
from tests.helpers import phantom_command_line, run_module


def run_cli(cwd: Path, *arguments: str) -> subprocess.CompletedProcess:
    return run_module("csxa_lightning.train", *arguments, cwd=cwd)


def tiny(phantom, cache: Path) -> list[str]:
    return [
        *phantom_command_line(phantom.root, cache),
        # 11 test images: two processes get 6 each, one of them a repeat
        "data.test_fraction=0.275",
        "data.batch_size=4",
    ]


@pytest.mark.slow  # a subprocess run of tens of seconds: make test-all
def test_ddp_with_two_processes_scores_each_test_image_once(phantom, tmp_path):
    one_dir = tmp_path / "one"
    single = run_cli(tmp_path, *tiny(phantom, tmp_path / "cache1"), f"hydra.run.dir={one_dir}")
    assert single.returncode == 0, single.stderr[-3000:]
    ddp_dir = tmp_path / "ddp"
    ddp = run_cli(
        tmp_path,
        *tiny(phantom, tmp_path / "cache2"),
        "trainer=ddp",
        "trainer.accelerator=cpu",
        "trainer.devices=2",
        f"hydra.run.dir={ddp_dir}",
    )
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    one = pd.read_csv(tmp_path / "one" / "predictions.csv", dtype={"stem": str})
    two = pd.read_csv(ddp_dir / "predictions.csv", dtype={"stem": str})
    split = pd.read_csv(ddp_dir / "split.csv", dtype={"stem": str})
    test_stems = sorted(split.loc[split["split"] == "test", "stem"])
    assert len(test_stems) == 11
    assert sorted(two["stem"]) == sorted(one["stem"]) == test_stems  # each once
    assert ddp.stdout.count("metrics: ") == 1  # only rank 0 wrote the results
    logs = {p.name: p.read_text() for p in ddp_dir.glob("*.log")}
    assert set(logs) == {"train.log", "train_ddp_process_1.log"}
    built = sum(text.count("building preprocessed cache") for text in logs.values())
    assert built == 1 and "preprocessed cache hit" in logs["train_ddp_process_1.log"]
    metrics = pd.read_json(ddp_dir / "metrics.json", typ="series")
    assert metrics["processes"] == 2 and metrics["n"] == 11


@pytest.mark.slow  # a subprocess run of tens of seconds: make test-all
def test_ddp_inside_a_local_multirun_is_refused_with_the_way_out(phantom, tmp_path):
    result = run_cli(
        tmp_path,
        "--multirun",
        *tiny(phantom, tmp_path / "cache"),
        "trainer=ddp",
        "trainer.accelerator=cpu",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
    )
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: trainer.strategy=ddp with trainer.devices=2 inside a --multirun")
    assert "launcher=slurm" in last


def sweep(phantom, tmp_path, *extra) -> subprocess.CompletedProcess:
    return run_cli(
        tmp_path,
        "--multirun",
        "experiment=table1",
        "+variant=original,cropped",
        *tiny(phantom, tmp_path / "cache"),
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
        *extra,
    )


def assert_report_of_two_runs(sweep_dir: Path) -> None:
    finished = [p for p in sweep_dir.iterdir() if (p / "metrics.json").exists()]
    assert len(finished) == 2
    table = pd.read_csv(sweep_dir / "report.csv")
    assert sorted(table["variant"]) == ["Cropped (ResNet18)", "Original (ResNet18)"]
    assert "## Table 1" in (sweep_dir / "report.md").read_text()


@pytest.mark.slow
def test_a_joblib_sweep_runs_its_jobs_in_parallel_and_ends_with_a_report(phantom, tmp_path):
    result = sweep(phantom, tmp_path, "launcher=joblib", "hydra.launcher.n_jobs=2")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Joblib.Parallel(n_jobs=2" in result.stdout + result.stderr
    assert_report_of_two_runs(tmp_path / "sweep")


@pytest.mark.slow
def test_a_sweep_through_submitits_local_executor_ends_with_a_report(phantom, tmp_path):
    result = sweep(phantom, tmp_path, "launcher=submitit_local")
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "sweep" / ".submitit").is_dir()  # submitit's job folders
    assert_report_of_two_runs(tmp_path / "sweep")


def test_the_slurm_launcher_config_becomes_this_sbatch_script(tmp_path, monkeypatch):
    # submitit refuses to build a SLURM executor where `srun` is missing: a stand-in on PATH.
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "srun").write_text("#!/bin/sh\nexit 0\n")
    (fake_bin / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_bin}{os.pathsep}{os.environ['PATH']}")
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(
            config_name="train",
            overrides=[
                "launcher=slurm",
                "trainer=ddp",
                "trainer.devices=4",
                "hydra.launcher.partition=gpu",
                "hydra.launcher.setup=[module load cuda/12.4,source .venv/bin/activate]",
            ],
            return_hydra_config=True,
        )
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("submitit_launcher.SlurmLauncher")
    # submitit is the one that requeues; checkpoints are still written whole
    plugins = {p._target_.rsplit(".", 1)[1]: p for p in cfg.trainer.plugins}
    assert set(plugins) == {"SLURMEnvironment", "WholeFileCheckpointIO"}
    assert plugins["SLURMEnvironment"].auto_requeue is False
    # The launcher's own translation of its config into executor parameters.
    params = OmegaConf.to_container(launcher, resolve=True)
    del params["_target_"], params["submitit_folder"]
    folder = tempfile.mkdtemp(dir=tmp_path)
    executor = submitit.AutoExecutor(
        cluster="slurm", folder=folder, slurm_max_num_timeout=params.pop("max_num_timeout")
    )
    base = set(OmegaConf.structured(BaseQueueConf).keys())
    executor.update_parameters(**{k if k in base else f"slurm_{k}": v for k, v in params.items()})
    script = executor._executor._make_submission_file_text("python -m job", "0")
    for line in (
        "#SBATCH --partition=gpu",
        "#SBATCH --nodes=1",
        "#SBATCH --gpus-per-node=4",
        "#SBATCH --ntasks-per-node=4",  # one task per GPU: Lightning's ranks
        "#SBATCH --cpus-per-task=8",
        "#SBATCH --mem=64GB",
        "#SBATCH --time=120",
        "#SBATCH --signal=USR2@120",  # submitit's warning before the time limit
        "module load cuda/12.4",
        "source .venv/bin/activate",
    ):
        assert line in script.splitlines(), line
    assert executor._executor.max_num_timeout == 3
    assert executor._executor.parameters["array_parallelism"] == 8
