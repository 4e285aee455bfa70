"""logs/metrics.csv across a resume: the earlier rows kept once (curves.rows_before)."""

from __future__ import annotations

from csxa_lightning.training.csv_logger import rows_before

# What Lightning's CSV logger wrote before a kill in epoch 1 (3 batches per epoch): the learning
# rate at steps 0 and 3 (no epoch), epoch 0's curves at step 2, a train loss inside epoch 1.
EARLIER = [
    {"epoch": "", "step": "0", "lr-Adam": "0.0003"},
    {"epoch": "0", "step": "2", "val/loss": "0.66"},
    {"epoch": "0", "step": "2", "train/loss": "0.77"},
    {"epoch": "", "step": "3", "lr-Adam": "0.0003"},
    {"epoch": "1", "step": "4", "train/loss_step": "0.61"},
]


def test_a_run_resumed_at_epoch_1_keeps_epoch_0_and_the_first_rate_once():
    resumed = [{"lr-Adam": 0.0003, "step": 3}, {"epoch": 1, "step": 5, "val/loss": 0.67}]
    first_rate = {"step": "0", "lr-Adam": "0.0003"}  # its empty epoch cell left out
    assert rows_before(EARLIER, resumed) == [first_rate, EARLIER[1], EARLIER[2]]


def test_a_run_started_over_keeps_nothing():
    assert rows_before(EARLIER, [{"lr-Adam": 0.0003, "step": 0}]) == []


def test_without_steps_the_epoch_decides_and_empty_cells_go():
    earlier = [{"epoch": "0", "val/loss": "0.66", "train/loss": ""}, {"epoch": "1", "x": "1"}]
    assert rows_before(earlier, [{"epoch": 1, "val/loss": 0.6}]) == [
        {"epoch": "0", "val/loss": "0.66"}
    ]


def test_a_resumed_writer_keeps_the_earlier_rows_once_and_a_failed_save_keeps_the_file(
    tmp_path, monkeypatch
):
    import csv

    import pytest

    from csxa_lightning.training.csv_logger import KeepingExperimentWriter

    first = KeepingExperimentWriter(str(tmp_path))
    first.log_metrics({"lr-Adam": 0.0003}, step=0)
    first.log_metrics({"epoch": 0, "val/loss": 0.66}, step=2)
    first.save()
    first.log_metrics({"lr-Adam": 0.0003}, step=3)
    first.save()  # then the job is killed inside epoch 1
    path = tmp_path / "metrics.csv"

    resumed = KeepingExperimentWriter(str(tmp_path))  # the same folder, from epoch 1's start
    resumed.log_metrics({"lr-Adam": 0.0003}, step=3)
    resumed.log_metrics({"epoch": 1, "val/loss": 0.67}, step=5)
    resumed.save()
    rows = list(csv.DictReader(path.open()))
    assert [(r["step"], r["epoch"]) for r in rows] == [("0", ""), ("2", "0"), ("3", ""), ("5", "1")]
    before = path.read_text()

    def disk_full(self, rows):
        raise OSError("No space left on device")

    monkeypatch.setattr(csv.DictWriter, "writerows", disk_full)
    resumed.log_metrics({"epoch": 1, "train/loss": 0.5, "new/column": 1.0}, step=5)
    with pytest.raises(OSError, match="No space left"):
        resumed.save()
    assert path.read_text() == before  # the curves so far, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.csv"]
