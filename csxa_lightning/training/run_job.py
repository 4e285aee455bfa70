"""The job around one run folder's training: one job per folder, nothing left by a failed run,
and the way back into an interrupted one.

RunJob (a context manager train() runs in):
- takes the folder's lock (runs/lock.py; rank 0 only: the other processes of a DDP run
  follow it), then removes the half-written files a killed job left in the folder
  (utils/whole_files.py). A folder another live job holds is not trained: inside a --multirun the
  job logs one line and the sweep goes on with its next run; alone it ends with that line
  (RunLockedError);
- a run that fails with a problem the user can fix (a UserError) keeps its log (and the
  config Hydra saved) and nothing else -- unless it had earlier work (a checkpoint to resume
  from), which is kept;
- force=true on a finished run trains the new one in a staging folder (runs/retraining.py): any
  failure or interruption removes that folder and leaves the finished run as it was;
- an interrupted run (Ctrl-C, SIGTERM, a SLURM signal, all of which end training with
  KeyboardInterrupt or SystemExit) says which folder it leaves and the exact command that
  resumes it, quoted for the shell and for Hydra's override parser, and exits non-zero (143
  where Lightning would have exited 0 after a SIGTERM).
"""

from __future__ import annotations

import logging
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from csxa_lightning.runs.folder import (
    CHECKPOINT_DIR,
    discard_run_outputs,
    has_checkpoints,
    is_finished,
)
from csxa_lightning.runs.lock import (
    DEFAULT_STALE_AFTER_HOURS,
    RunLock,
    RunLockedError,
    locked_message,
)
from csxa_lightning.runs.retraining import discard_staging, recover
from csxa_lightning.training.checkpoints import is_global_zero
from csxa_lightning.utils.errors import user_error
from csxa_lightning.utils.override_quoting import hydra_quoted, pasteable_override
from csxa_lightning.utils.whole_files import remove_leftovers

log = logging.getLogger(__name__)

TRAIN_MODULE = "csxa_lightning.train"
INTERRUPTED_EXIT_CODE = 128 + 15  # SIGTERM's number


class RunJob:
    """`with RunJob(cfg, out) as job:` -- train only when job.trains."""

    def __init__(self, cfg: DictConfig, folder: Path) -> None:
        self.folder = Path(folder)
        hours = OmegaConf.select(cfg, "run_lock.stale_after_hours", default=None)
        self.lock = RunLock(self.folder, DEFAULT_STALE_AFTER_HOURS if hours is None else hours)
        self.trains = True
        self.fresh = True  # no earlier work in the folder: a failure leaves only the log
        self.force = bool(cfg.get("force", False))
        self.retrains = False  # force=true on a finished run: the new one trains staged

    def __enter__(self) -> RunJob:
        self.folder.mkdir(parents=True, exist_ok=True)
        if not is_global_zero():
            return self
        holder = self.lock.acquire()
        if holder is None:
            # Under the lock no other job writes here: half-written files of a killed job go,
            # and so does what a killed retraining left (runs/retraining.py).
            for path in remove_leftovers(self.folder, self.folder / CHECKPOINT_DIR):
                log.info("removed %s, left half-written by a job that was killed", path)
            for sentence in recover(self.folder):
                log.warning("%s", sentence)
            self.fresh = not has_checkpoints(self.folder) and not is_finished(self.folder)
            self.retrains = self.force and is_finished(self.folder)
            return self
        message = locked_message(self.folder, holder, self.lock.stale_after_hours)
        if not in_multirun():
            raise RunLockedError(message)
        log.warning("skipped: %s", message)  # the sweep goes on with its next run
        self.trains = False
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.lock.release()  # first: a failed run's folder may go as a whole
        if error is None or not is_global_zero():
            return
        if self.retrains:  # the finished run is as it was; the unfinished new one goes
            discard_staging(self.folder)
        if self.fresh and user_error(error) is not None:
            discard_run_outputs(self.folder)
        elif isinstance(error, KeyboardInterrupt | SystemExit) and self.trains:
            log.warning("%s", interrupted_message(self.folder, self.retrains))
            if isinstance(error, SystemExit) and not error.code:
                # Lightning ends a run stopped by SIGTERM with SystemExit() (exit code 0): a
                # scheduler or `train && report` would read that as done. 128 + SIGTERM, as a
                # shell reports a process the signal ended.
                raise SystemExit(INTERRUPTED_EXIT_CODE) from error


def in_multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def interrupted_message(folder: Path, retraining: bool = False) -> str:
    """Where the interrupted run is and, under Hydra, the command that resumes it."""
    if retraining:  # force=true starts over: nothing to resume
        return (
            f"interrupted: the retraining (force=true) of {folder} stopped before it finished; "
            "the finished run there is unchanged. Run the same command again to retrain it"
        )
    if not HydraConfig.initialized():
        return f"interrupted: the run in {folder} can resume; train it again in that folder"
    overrides = list(HydraConfig.get().overrides.task)
    command = resume_command(sys.executable, overrides, folder)
    return (
        f"interrupted: the run in {folder} can resume from its last checkpoint. Resume it "
        f"with:\n  {command}"
    )


# Pure functions: the command line.


def use_commands(checkpoint: str, dataset_root: str | None) -> list[str]:
    """The csxa-predict and csxa-evaluate lines that use a finished run's checkpoint, ready to
    paste: the path quoted for Hydra (it holds `=` and `,`) and then for the shell."""
    ckpt = pasteable_override("ckpt", checkpoint)
    root = "data.root=/path/to/CSXA"
    if dataset_root:
        root = pasteable_override("data.root", dataset_root)
    return [
        f"predict with:  csxa-predict {ckpt} input=/path/to/films",
        f"evaluate with: csxa-evaluate {ckpt} data=csxa {root} subset=test",
    ]


def resume_command(python: str, overrides: Sequence[str], folder: Path) -> str:
    """The shell command that trains the same config again in folder, where it resumes:
    each override quoted for the shell, the folder for Hydra (run folder names hold `=` and
    `,`, which Hydra's parser would read as syntax) and then for the shell."""
    words = [python, "-m", TRAIN_MODULE, *overrides, f"hydra.run.dir={hydra_quoted(str(folder))}"]
    return " ".join(shlex.quote(word) for word in words)
