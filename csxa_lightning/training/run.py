"""One training run, start to end: fit, test the selected checkpoint, and write the run folder
(split.csv, normalization.json, predictions.csv, metrics.json; runs/folder.py). `train(cfg)`
is what `python -m csxa_lightning.train` runs for each job, and what the tests call directly
with a composed config.

Around the fit: RunJob (training/run_job.py: one job per folder, the way back into an
interrupted run), the folder's config identity (runs/identity.py) and force=true's retraining
in a staging folder (runs/retraining.py).
"""

from __future__ import annotations

import copy
from pathlib import Path

import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from csxa_lightning.config.checks import check_config
from csxa_lightning.config.preflight import preflight
from csxa_lightning.config.protocol import departures
from csxa_lightning.data.datamodule import CSXADataModule
from csxa_lightning.models.classifier import CSXAClassifier
from csxa_lightning.runs.folder import (
    HYDRA_DIR,
    METRICS_FILE,
    NORMALIZATION_FILE,
    PREDICTIONS_FILE,
    STAGING_DIR,
    is_finished,
    predictions_frame,
    read_metrics,
    rebased_checkpoint,
    recorded_checkpoint,
    write_metrics,
    write_run,
    write_split,
)
from csxa_lightning.runs.identity import (
    INCOMING_DIR,
    adopt_incoming,
    replace_config,
    settle_incoming,
)
from csxa_lightning.runs.retraining import start_staging, swap_in
from csxa_lightning.runs.summary import Timer, run_summary
from csxa_lightning.training.checkpoints import (
    build_callbacks,
    finish_run_checkpoints,
    is_global_zero,
    resume_checkpoint,
)
from csxa_lightning.training.decision import (
    DecisionSettings,
    check_temperature_data,
    decide,
)
from csxa_lightning.training.landmark_crops import landmark_source, write_test_crop_boxes
from csxa_lightning.training.landmark_run import TASK as LANDMARK_TASK
from csxa_lightning.training.landmark_run import fit_and_test_landmarks, landmark_result_line
from csxa_lightning.training.run_job import RunJob, in_multirun, use_commands
from csxa_lightning.training.trackers import log_config, log_final_metrics


def train(cfg: DictConfig) -> dict:
    """Fit, test the selected checkpoint, write split.csv, predictions.csv and metrics.json."""
    out = Path(cfg.paths.output_dir)
    try:
        check_config(cfg)  # before anything is read or written
        preflight(cfg)  # weights, folders, loggers, accelerator: before any data work
        with RunJob(cfg, out) as job:  # one job per folder; a failed run keeps only its log
            if not job.trains:
                return {}  # another live job trains this folder (a sweep goes on)
            finished, force = is_finished(out), bool(cfg.get("force", False))
            # The folder's saved config is the run's identity (runs/identity.py).
            staged = is_global_zero() and adopt_incoming(
                out, finished, force, resume_allowed_changes(cfg), folder_name_excluded_keys()
            )
            if finished and not force:
                # A restarted sweep skips what is done; force=true retrains (retrain()).
                print(f"metrics: {out / METRICS_FILE} (finished earlier; skipped)")
                metrics = read_metrics(out)
                if is_global_zero():  # what a job killed after metrics.json left undone
                    finish_run_checkpoints(cfg, recorded_checkpoint(metrics))
                return metrics
            metrics = retrain(cfg, out, staged) if finished else fit_and_test(cfg, out)
            if is_global_zero():
                for line in finished_lines(out, metrics, in_multirun()):
                    print(line)
            return metrics
    finally:
        if is_global_zero():
            settle_incoming(out)  # a config not adopted (refused, or the run failed)


def retrain(cfg: DictConfig, out: Path, new_config: bool) -> dict:
    """force=true on a finished run: the new run trains in a staging folder and replaces the
    finished one only once it has finished (runs/retraining.py); with new_config, the config Hydra
    saved for this start becomes the folder's with it."""
    staging = start_staging(out) if is_global_zero() else out / STAGING_DIR
    staged_cfg = copy.deepcopy(cfg)
    staged_cfg.paths.output_dir = str(staging)
    metrics = rebased_checkpoint(fit_and_test(staged_cfg, staging), staging, out)
    if is_global_zero():
        write_metrics(staging, metrics)  # the checkpoint path it will have
        if new_config:
            replace_config(out / INCOMING_DIR, staging / HYDRA_DIR)
        swap_in(staging, out)
    return metrics


def finished_lines(out: Path, metrics: dict, in_sweep: bool) -> list[str]:
    """What a finished run prints: its result in one line; alone (not a sweep's job, whose
    report lists every run), also the tested checkpoint and the commands that use it, quoted
    to paste (run folder names hold `=` and `,`)."""
    result = (
        f"test balanced accuracy {metrics.get('balanced_accuracy', float('nan')):.4f}, AUROC "
        f"{metrics.get('auroc', float('nan')):.4f}; metrics: {out / METRICS_FILE}"
    )
    tested = recorded_checkpoint(metrics)
    if metrics.get("task") == LANDMARK_TASK:
        result = f"{landmark_result_line(metrics)}; metrics: {out / METRICS_FILE}"
        return [result] + ([] if in_sweep or tested is None else [f"checkpoint: {tested}"])
    if in_sweep or tested is None:
        return [result]
    return [result, f"checkpoint: {tested}", *use_commands(tested, metrics.get("dataset_root"))]


def resume_allowed_changes(cfg: DictConfig) -> list[str]:
    return [str(k) for k in OmegaConf.select(cfg, "resume.allow_changes", default=None) or []]


def folder_name_excluded_keys() -> list[str]:
    """The keys that say where, not what (left out of run folder names too)."""
    if not HydraConfig.initialized():
        return []
    excluded = HydraConfig.get().job.config.override_dirname.exclude_keys
    return [str(k) for k in excluded]


def fit_and_test(cfg: DictConfig, out: Path) -> dict:
    if OmegaConf.select(cfg, "task.name", default="classify") == LANDMARK_TASK:
        return fit_and_test_landmarks(cfg, out)
    recorded_departures = departures(cfg)  # a config it cannot read fails before training
    L.seed_everything(cfg.seed, workers=True)
    if torch.cuda.is_available():
        torch.set_float32_matmul_precision("high")  # TF32 for the fp32 parts

    timer = Timer()
    datamodule: CSXADataModule = instantiate(cfg.data)
    datamodule.landmark_source = landmark_source(cfg, datamodule.cache_dir)
    datamodule.setup("fit")
    timer.lap("data")
    # A decision rule the validation slice cannot fit stops before training, not after it.
    check_temperature_data(DecisionSettings.from_config(cfg), datamodule.frames.get("val"))
    if is_global_zero():  # every rank computed the same; one writes
        write_split(out, datamodule.split_frame, datamodule.skipped)
        datamodule.save_normalization(out / NORMALIZATION_FILE)

    model: CSXAClassifier = instantiate(cfg.model)  # setup() takes normalization from the data
    callbacks = build_callbacks(cfg, datamodule.has_validation)
    loggers = [instantiate(c) for c in (cfg.get("logger") or {}).values()]
    # No validation slice (the paper's protocol): no validation loop, rather than one over an
    # empty list that Lightning warns about on every run.
    no_validation = {} if datamodule.has_validation else {"limit_val_batches": 0}
    trainer: L.Trainer = instantiate(
        cfg.trainer, callbacks=callbacks, logger=loggers or False, **no_validation
    )
    log_config(loggers, cfg)  # each tracker's hyperparameters (training/trackers.py)
    resume_from = resume_checkpoint(trainer.checkpoint_callback, cfg.get("force", False))
    # weights_only: checkpoints are read as data, never executed as pickles.
    trainer.fit(model, datamodule=datamodule, ckpt_path=resume_from, weights_only=True)
    timer.lap("fit")
    # Best validation checkpoint, or the last epoch when there is no validation split; its
    # decision rule (temperature, threshold) fitted on the validation films, when asked.
    tested = trainer.checkpoint_callback.best_model_path or None
    decision = decide(DecisionSettings.from_config(cfg), datamodule, trainer, tested)
    # verbose=False: the test metrics go to metrics.json and one console line, not a table.
    trainer.test(model, datamodule=datamodule, ckpt_path=tested, weights_only=True, verbose=False)
    timer.lap("test")

    # Every test image once, all ranks' scores (see CSXAClassifier.on_test_epoch_end).
    test_scores = model.test_probabilities()
    predictions = predictions_frame(datamodule.frames["test"], *test_scores, decision["threshold"])
    metrics = run_summary(
        cfg, recorded_departures, predictions, datamodule, trainer, timer, decision
    )
    if trainer.is_global_zero:
        boxes = write_test_crop_boxes(out, datamodule)  # before metrics.json, which ends a run
        metrics_file = write_run(out, predictions, metrics)
        files = [out / PREDICTIONS_FILE, metrics_file, *filter(None, [boxes])]
        log_final_metrics(loggers, cfg, metrics, trainer.global_step, files)
        trainer.checkpoint_callback.finish(tested)  # RunModelCheckpoint: the tidy-up
    return metrics
