"""Experiment trackers (the logger group): each tracker receives the composed config
(log_config, before fitting), and the final test metrics of metrics.json with the run's
predictions.csv and metrics.json as artifacts where it keeps files (log_final_metrics).
The CSV logger is left as it is: metrics.json and .hydra/ beside it already hold both. A
missing tracker package is found before any work by config/preflight.py (one line naming the
extra)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Real
from pathlib import Path

from lightning.pytorch.loggers import CSVLogger
from omegaconf import DictConfig, OmegaConf

# The final test metrics under their metrics.json names, apart from Lightning's test/ curves.
FINAL_PREFIX = "final/"


def log_config(loggers: list, cfg: DictConfig) -> None:
    """The composed config (interpolations resolved) as each tracker's hyperparameters."""
    params = OmegaConf.to_container(cfg, resolve=True)
    for logger in trackers(loggers):
        logger.log_hyperparams(params)


def log_final_metrics(
    loggers: list, cfg: DictConfig, metrics: dict, step: int, files: Sequence[Path] = ()
) -> None:
    """metrics.json's numbers as final/NAME at the last step, the run's files (predictions.csv,
    metrics.json) as artifacts where the tracker keeps files, then each tracker flushed
    (Lightning finalized them when the test ended). TensorBoard gets the numbers with the
    config again: its HPARAMS dashboard pairs a run's config with the metrics given in the same
    call; it keeps no files."""
    final = final_metrics(metrics)
    for logger in trackers(loggers):
        if type(logger).__name__ == "TensorBoardLogger":
            logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True), final, step)
        else:
            logger.log_metrics(final, step=step)
        log_artifacts(logger, files)
        logger.finalize("success")


def log_artifacts(logger, files: Sequence[Path]) -> None:
    """The files as the tracker's artifacts of this run: MLflow copies them into the run's
    artifact store, W&B (offline) into the run's files, synced with it."""
    kind = type(logger).__name__
    for path in map(str, files):
        if kind == "MLFlowLogger":
            logger.experiment.log_artifact(logger.run_id, path)
        elif kind == "WandbLogger":
            logger.experiment.save(path, base_path=str(Path(path).parent), policy="now")


def trackers(loggers: list) -> list:
    """The loggers that are trackers: every one but the CSV logger (ResumableCSVLogger too)."""
    return [lg for lg in loggers if not isinstance(lg, CSVLogger)]


def final_metrics(metrics: dict) -> dict[str, float]:
    """The finite numbers of metrics.json (no flags, no text), named final/NAME."""
    return {
        f"{FINAL_PREFIX}{k}": float(v)
        for k, v in metrics.items()
        if isinstance(v, Real) and not isinstance(v, bool) and math.isfinite(v)
    }
