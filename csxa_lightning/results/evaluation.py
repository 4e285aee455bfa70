"""Judge a trained checkpoint on a labelled set: `evaluate(cfg)`, what
`python -m csxa_lightning.evaluate` runs. The set: another hospital's films (external
validation), a second phantom, or the run's own test split. The films go through the
checkpoint's own preprocessing and normalization (the code predict uses); out= gets
predictions.csv and metrics.json in a training run's format, and a one-model report with
calibration and subgroups (results/evaluation_report.py).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import torch
from omegaconf import DictConfig, OmegaConf

from csxa_lightning.config.checks import SCORING_RULES, check_values
from csxa_lightning.inference.chosen_checkpoint import chosen_checkpoint
from csxa_lightning.inference.labelled_films import csv_films, csxa_films
from csxa_lightning.inference.loading import load_trained_model
from csxa_lightning.inference.output_paths import check_output
from csxa_lightning.inference.scoring import pick_device, required, score
from csxa_lightning.metrics.classification import DEFAULT_RESAMPLES, metrics_with_intervals
from csxa_lightning.metrics.thresholds import parse_rule
from csxa_lightning.results.evaluation_report import write_evaluation_report
from csxa_lightning.runs.environment import ENVIRONMENT_KEY, run_environment
from csxa_lightning.runs.folder import is_finished, predictions_frame, read_metrics, write_run
from csxa_lightning.runs.summary import decision_keys
from csxa_lightning.utils.errors import ConfigValueError

log = logging.getLogger(__name__)


def evaluate(cfg: DictConfig) -> dict:
    """Score the labelled films with cfg.ckpt; write cfg.out; return its metrics.json."""
    check_values(cfg, SCORING_RULES)  # before anything is read
    ckpt = chosen_checkpoint(cfg)  # ckpt=FILE, or run=DIR's tested checkpoint
    # Before any work: the report folder replaces nothing this command reads, nor a run.
    read = {
        "checkpoint": [ckpt],
        "labels file": [cfg.labels] if cfg.labels else [],
        "images folder": [cfg.images] if cfg.images else [],
        "annotations folder": [cfg.annotations] if cfg.annotations else [],
        "dataset folder": [] if cfg.labels else dataset_root_or_none(cfg),
    }
    out = check_output("out", str(cfg.out), read)
    device = pick_device(str(cfg.device))
    model = load_trained_model(ckpt, device)
    threshold, rule = decision_threshold(cfg.threshold, model.classifier.decision)
    run_folder = ckpt.expanduser().resolve().parent.parent  # <run>/checkpoints/x.ckpt
    run = read_metrics(run_folder) if is_finished(run_folder) else {}
    films, films_from, subset = labelled_films(cfg, model, run_folder)
    log.info("evaluating %s on %d film(s) from %s", ckpt, len(films), films_from)
    jsons = [None if pd.isna(j) else Path(j) for j in films["json_path"]]
    pngs = [Path(p) for p in films["png_path"]]
    prob = score(model, pngs, jsons, threshold, int(cfg.batch_size), int(cfg.num_workers))
    predictions = predictions_frame(films, torch.arange(len(films)), prob, threshold)
    seed = cfg.seed if cfg.seed is not None else run.get("bootstrap_seed", 0)
    metrics = metrics_with_intervals(
        predictions["label"].to_numpy(),
        predictions["prob_diseased"].to_numpy(),
        threshold,
        seed=int(seed),
        n_resamples=int(run.get("bootstrap_resamples", DEFAULT_RESAMPLES)),
    )
    metrics.update(
        checkpoint=str(ckpt),
        arch=model.arch,
        preprocessing=model.preprocessor.label,
        films_from=films_from,
        subset=subset,
    )
    metrics[ENVIRONMENT_KEY] = run_environment(device)
    # How the threshold was set, the checkpoint's temperature (already applied to
    # prob_diseased; 1: none) and the headline metrics at 0.5 beside those at the threshold.
    labels, probabilities = (predictions[c].to_numpy() for c in ("label", "prob_diseased"))
    stored = {**model.classifier.decision, "threshold_rule": rule}
    metrics.update(decision_keys(labels, probabilities, stored))
    out.mkdir(parents=True, exist_ok=True)
    written = write_run(out, predictions, metrics)
    report = write_evaluation_report(out, predictions, metrics, int(cfg.subgroup_min_count))
    print(f"metrics: {written}\nreport: {report['html']}")
    return metrics


def labelled_films(cfg: DictConfig, model, run_folder: Path) -> tuple[pd.DataFrame, str, str]:
    """(films, where they come from, subset): a labels CSV with its images folder, or a
    CSXA-layout data.root (all its films, or the checkpoint's run's test films)."""
    crop = model.preprocessor.crop.name if model.preprocessor.needs_keypoints else None
    if cfg.labels:
        return csv_films(cfg.labels, cfg.images, cfg.annotations, crop), str(cfg.labels), "all"
    root = required(cfg, "data.root", "/path/to/CSXA (or labels=FILE.csv images=DIR)")
    return csxa_films(root, str(cfg.subset), run_folder), str(root), str(cfg.subset)


def dataset_root_or_none(cfg: DictConfig) -> list:
    """data.root when it is set (required() says so later when it is not)."""
    root = OmegaConf.select(cfg, "data.root", default=None, throw_on_missing=False)
    return [] if root is None else [root]


def decision_threshold(setting, stored: dict) -> tuple[float, str]:
    """(threshold, how it was set) from evaluate's threshold= (null: the checkpoint's, fitted
    by its run on validation films, or 0.5)."""
    if setting is None:
        return float(stored["threshold"]), f"the checkpoint's: threshold={stored['threshold_rule']}"
    rule = parse_rule(setting)
    if rule.needs_validation:
        raise ConfigValueError(
            f"threshold={rule}: evaluate scores a labelled set without a validation slice to "
            "choose it on. Give a number (threshold=0.5), chosen on data the evaluation does "
            "not score."
        )
    return float(rule.value), "given: threshold=" + str(rule)
