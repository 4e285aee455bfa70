"""logs/metrics.csv, the per-epoch curves, kept whole across a resume and written whole.

Lightning's CSVLogger deletes an existing metrics.csv when its writer starts (it warns
"Previous log files in this directory will be deleted"), so a resumed run lost the curves of
the epochs before the interruption. ResumableCSVLogger (conf/logger/csv.yaml) keeps the rows
of the steps the run does not train again: when the resumed run first writes, the earlier rows
of every step before the first one it logs are written back with the new ones (an epoch logged
before the interruption but not checkpointed is trained again and replaces its rows).
"""

from __future__ import annotations

import csv
import os

from lightning.fabric.loggers.logger import rank_zero_experiment
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter

from csxa_lightning.utils.whole_files import written_whole


class KeepingExperimentWriter(ExperimentWriter):
    """Lightning's writer, without deleting what an interrupted run wrote, and writing the
    file whole: Lightning appends, and rewrites the file in place whenever a new column
    appears, so a job killed meanwhile lost its curves. Here every save writes all rows so far
    (a run logs hundreds, not millions) through whole_files: a kill leaves the previous file."""

    def __init__(self, log_dir: str) -> None:
        self.earlier: list[dict[str, str]] | None = None
        self.rows: list[dict] = []
        super().__init__(log_dir)

    def _check_log_dir_exists(self) -> None:  # Lightning's hook: it deleted the file here
        if os.path.isfile(self.metrics_file_path):
            with open(self.metrics_file_path, newline="") as file:
                self.earlier = list(csv.DictReader(file))

    def save(self) -> None:
        if not self.metrics:
            return
        if self.earlier is not None:  # the first rows of a resumed run: the kept rows first
            self.rows = rows_before(self.earlier, self.metrics)
            self.earlier = None
        self.rows.extend(self.metrics)
        self.metrics = []
        self.metrics_keys = sorted(set().union(*self.rows))  # Lightning's header: sorted keys
        with written_whole(self.metrics_file_path) as partial, open(partial, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self.metrics_keys)
            writer.writeheader()
            writer.writerows(self.rows)


class ResumableCSVLogger(CSVLogger):
    """CSVLogger whose metrics.csv keeps the earlier epochs' rows when a run resumes."""

    @property
    @rank_zero_experiment
    def experiment(self) -> KeepingExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = KeepingExperimentWriter(log_dir=self.log_dir)
        return self._experiment


# Pure functions.


def rows_before(earlier: list[dict[str, str]], new: list[dict]) -> list[dict]:
    """The earlier rows logged before the first step the new rows log: what the resumed run
    will not log again. Rows without an epoch (the learning rate, logged at a step) are
    judged by their step like the others, or a resumed run would hold them twice. Where rows
    carry no step, the epoch decides: the earlier rows of the epochs before the first epoch
    the new rows log. Empty cells are left out, so that each row keeps its keys."""
    steps = [float(row["step"]) for row in new if row.get("step") not in (None, "")]
    epochs = [float(row["epoch"]) for row in new if row.get("epoch") not in (None, "")]
    key, first = ("step", min(steps)) if steps else ("epoch", min(epochs, default=float("inf")))
    kept = []
    for row in earlier:
        value = row.get(key)
        # A row that cannot be placed is kept when epochs decide (no step anywhere: no
        # duplicate to fear), dropped when steps do.
        placed_before = key == "epoch" if value in (None, "") else float(value) < first
        if placed_before:
            kept.append({k: v for k, v in row.items() if v not in (None, "")})
    return kept
