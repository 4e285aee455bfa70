"""Same seed, same config, same machine: the same results -- twice in a row, and when a run
killed mid-way resumes from its last checkpoint."""

from __future__ import annotations

import pytest

from csxa_lightning.training.run import train
from tests.helpers import SimulatedKill, compose_train_config


def run_config(phantom_run_overrides, out, *extra):
    """The tiny run on the session's phantom (the phantom_run_overrides fixture), written to out."""
    return compose_train_config(
        [
            *phantom_run_overrides,
            f"paths.output_dir={out}",
            "trainer.deterministic=true",
            "trainer.max_epochs=3",
            "data.val_fraction=0",  # the last epoch is tested: the result depends on every epoch
            "seed=11",
            *extra,
        ]
    )


def test_deterministic_runs_give_identical_files(phantom_run_overrides, tmp_path):
    for name in ("first", "second"):
        train(run_config(phantom_run_overrides, tmp_path / name, "trainer.max_epochs=2"))
    for name in ("predictions.csv", "split.csv", "normalization.json"):
        first, second = (tmp_path / run / name for run in ("first", "second"))
        assert first.read_bytes() == second.read_bytes(), name


@pytest.mark.parametrize("augment_on", ["loader", "device"])
def test_killed_run_resumes_to_the_same_result(phantom_run_overrides, tmp_path, augment_on):
    def config(out, *extra):
        return run_config(phantom_run_overrides, out, f"data.augment_on={augment_on}", *extra)

    straight = train(config(tmp_path / "straight"))

    out = tmp_path / "killed"
    kill = ["+callbacks.kill._target_=tests.helpers.KillAtEpochStart", "+callbacks.kill.epoch=2"]
    with pytest.raises(SimulatedKill):
        train(config(out, *kill))
    assert (out / "checkpoints" / "last.ckpt").exists()
    assert not (out / "metrics.json").exists()

    batches = tmp_path / "batches.txt"
    record = [
        "+callbacks.record._target_=tests.helpers.RecordBatches",
        f"+callbacks.record.path={batches}",
    ]
    resumed = train(config(out, *record))  # the same command again
    trained = batches.read_text().split()
    assert trained and set(trained) == {"2"}  # it trained only the epoch that was left
    assert resumed["epochs"] == straight["epochs"] == 3
    assert (out / "predictions.csv").read_bytes() == (
        tmp_path / "straight" / "predictions.csv"
    ).read_bytes()
    assert resumed["accuracy"] == straight["accuracy"]


def test_resuming_with_other_preprocessing_is_refused(phantom_run_overrides, tmp_path):
    out = tmp_path / "killed"
    kill = ["+callbacks.kill._target_=tests.helpers.KillAtEpochStart", "+callbacks.kill.epoch=1"]
    with pytest.raises(SimulatedKill):
        train(run_config(phantom_run_overrides, out, "trainer.max_epochs=2", *kill))
    with pytest.raises(ValueError, match=r"resume with the original crop, color and image_size"):
        train(run_config(phantom_run_overrides, out, "trainer.max_epochs=2", "crop=tight"))
    assert not (out / "metrics.json").exists()
