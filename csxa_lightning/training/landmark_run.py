"""One landmark run (task=landmarks): fit the landmark model, test the selected checkpoint, and
write the run folder -- split.csv, landmarks.csv (runs/landmark_results.py) and metrics.json --
through the same run folder, lock, resume, callbacks, loggers and trainer as a classifier run
(training/run.py dispatches here from fit_and_test).

The test films' landmarks are read back to film pixels through each film's letterbox and
scored against the annotated ones, beside the mean-shape baseline: the average landmark shape
of the training films (in unit coordinates) placed on each test film. The annotated landmarks
of the test films are used only to score.
"""

from __future__ import annotations

import logging
from pathlib import Path

import lightning as L
import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from csxa_lightning.metrics.landmarks import fit_mean_shape, place_mean_shape
from csxa_lightning.runs.environment import ENVIRONMENT_KEY, run_environment
from csxa_lightning.runs.folder import STAGING_DIR, write_metrics, write_split
from csxa_lightning.runs.landmark_results import landmark_table, scored, write_landmark_table
from csxa_lightning.runs.summary import Timer, selection_score
from csxa_lightning.training.checkpoints import (
    build_callbacks,
    is_global_zero,
    resume_checkpoint,
)
from csxa_lightning.training.trackers import log_config, log_final_metrics
from csxa_lightning.utils.errors import UserError

TASK = "landmarks"
log = logging.getLogger(__name__)


def film_sizes(frame) -> np.ndarray:
    """(N, 2) width and height of each film of a split's frame."""
    return frame[["width", "height"]].to_numpy(dtype=float)


def test_points_in_film_pixels(datamodule, index: torch.Tensor, points: torch.Tensor):
    """The model's test points mapped back from input to film pixels, in test-frame order."""
    order = index.numpy().argsort()
    rows, points = index.numpy()[order], points.numpy()[order].astype(float)
    boxes = datamodule.letterboxes["test"]
    return rows, np.stack([boxes[r].to_film(p) for r, p in zip(rows, points, strict=True)])


def landmark_metrics(cfg: DictConfig, datamodule, model) -> tuple[dict, object]:
    """metrics.json's scores of the model and of the mean-shape baseline on the test films, and
    landmarks.csv's table."""
    rows, predicted = test_points_in_film_pixels(datamodule, *model.test_points())
    test = datamodule.frames["test"].iloc[rows].reset_index(drop=True)
    annotated = datamodule.film_points["test"][rows]
    train = datamodule.frames["train"]
    mean_shape = fit_mean_shape(datamodule.film_points["train"], film_sizes(train))
    baseline = place_mean_shape(mean_shape, film_sizes(test))
    names = list(datamodule.landmark_names)
    spacing = test["pixel_mm"].to_numpy(dtype=float)
    metrics = {
        "task": TASK,
        "model": scored(predicted, annotated, spacing, names, int(cfg.seed)),
        "mean_shape_baseline": scored(baseline, annotated, spacing, names, int(cfg.seed)),
    }
    return metrics, landmark_table(test, names, predicted, annotated, baseline)


def run_keys(cfg: DictConfig, datamodule, trainer, timer: Timer) -> dict:
    """What the run was (the keys a classifier run's metrics.json also has)."""
    checkpoint = trainer.checkpoint_callback
    return {
        "arch": cfg.model.arch,
        "protocol": OmegaConf.select(cfg, "protocol.name", default=None),
        "dataset_root": str(datamodule.dataset_root()),
        "checkpoint": checkpoint.best_model_path or None,
        "selected_by": checkpoint.monitor or "last epoch",
        "selection_score": selection_score(checkpoint),
        "epochs": trainer.current_epoch,
        "n_train": len(datamodule.frames["train"]),
        "n_val": len(datamodule.frames["val"]),
        "n_test": len(datamodule.frames["test"]),
        "image_size": int(datamodule.image_size),
        "optimizer_steps": int(trainer.global_step),
        "trainer_precision": str(trainer.precision),
        "device": str(trainer.strategy.root_device),
        "processes": trainer.world_size,
        **{f"seconds_{part}": seconds for part, seconds in timer.seconds.items()},
    }


def fit_and_test_landmarks(cfg: DictConfig, out: Path) -> dict:
    """Fit, test the selected checkpoint, write split.csv, landmarks.csv and metrics.json, then
    the run's report (report.md, report.html, figures/)."""
    L.seed_everything(cfg.seed, workers=True)
    timer = Timer()
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    timer.lap("data")
    if is_global_zero():  # every rank computed the same; one writes
        write_split(out, datamodule.split_frame, datamodule.skipped)
    model = instantiate(cfg.model)
    callbacks = build_callbacks(cfg, datamodule.has_validation)
    loggers = [instantiate(c) for c in (cfg.get("logger") or {}).values()]
    no_validation = {} if datamodule.has_validation else {"limit_val_batches": 0}
    trainer: L.Trainer = instantiate(
        cfg.trainer, callbacks=callbacks, logger=loggers or False, **no_validation
    )
    log_config(loggers, cfg)
    resume_from = resume_checkpoint(trainer.checkpoint_callback, cfg.get("force", False))
    trainer.fit(model, datamodule=datamodule, ckpt_path=resume_from, weights_only=True)
    timer.lap("fit")
    tested = trainer.checkpoint_callback.best_model_path or None
    trainer.test(model, datamodule=datamodule, ckpt_path=tested, weights_only=True, verbose=False)
    timer.lap("test")
    metrics, table = landmark_metrics(cfg, datamodule, model)
    metrics.update(run_keys(cfg, datamodule, trainer, timer))
    metrics[ENVIRONMENT_KEY] = run_environment(trainer.strategy.root_device)
    if trainer.is_global_zero:
        files = [write_landmark_table(out, table), write_metrics(out, metrics)]
        files += landmark_report(out)  # after metrics.json: the report is read from it
        log_final_metrics(loggers, cfg, flat_scores(metrics), trainer.global_step, files)
        trainer.checkpoint_callback.finish(tested)
    return metrics


def landmark_report(out: Path) -> list[Path]:
    """report.md and report.html (results/landmark_report.py), from the files just written. A
    report that cannot be built is logged, not raised: the run has finished (metrics.json is
    there) and its report can be rebuilt from the folder at any time."""
    # Imported when used: the report's modules (markdown, matplotlib) are not needed to train.
    from csxa_lightning.results.landmark_report import write_landmark_report

    try:
        paths = write_landmark_report(out)
    except UserError as err:
        log.warning("landmark report not built: %s", err)
        return []
    # A forced retraining writes in its staging folder, which then replaces the run's files.
    folder = out.parent if out.name == STAGING_DIR else out
    log.info("landmark report: %s", folder / paths["html"].name)
    return [paths["md"], paths["html"]]


def flat_scores(metrics: dict) -> dict:
    """The headline numbers for the trackers (flat names, plain numbers)."""
    flat = {}
    for part in ("model", "mean_shape_baseline"):
        for key, value in metrics[part].items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                flat[f"{part}_{key}"] = value
    return flat


def landmark_result_line(metrics: dict) -> str:
    """The run's result in one line: its test MRE beside the mean-shape baseline's."""

    def mre(part: dict) -> str:
        mm = "" if part.get("mre_mm") is None else f", {part['mre_mm']:.2f} mm"
        return f"{part['mre_px']:.2f} px{mm}"

    return (
        f"test landmark MRE {mre(metrics['model'])} (mean-shape baseline "
        f"{mre(metrics['mean_shape_baseline'])})"
    )
