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
from tempfile import TemporaryDirectory

import pandas as pd
import torch
from omegaconf import DictConfig, OmegaConf

from csxa_lightning.config.checks import SCORING_RULES, check_values
from csxa_lightning.inference.chosen_checkpoint import chosen_checkpoints
from csxa_lightning.inference.crop_landmarks import crop_annotations, landmark_choice
from csxa_lightning.inference.labelled_films import LabelledSetError, csv_films, csxa_films
from csxa_lightning.inference.members import common_architecture, load_members
from csxa_lightning.inference.output_paths import check_output
from csxa_lightning.inference.scoring import pick_device, required, score_members
from csxa_lightning.metrics.classification import DEFAULT_RESAMPLES, metrics_with_intervals
from csxa_lightning.metrics.ensembles import ensemble_score
from csxa_lightning.metrics.thresholds import parse_rule
from csxa_lightning.results.evaluation_report import write_evaluation_report
from csxa_lightning.runs.environment import ENVIRONMENT_KEY, run_environment
from csxa_lightning.runs.folder import is_finished, predictions_frame, read_metrics, write_run
from csxa_lightning.runs.summary import decision_keys
from csxa_lightning.utils.errors import ConfigValueError

log = logging.getLogger(__name__)


def evaluate(cfg: DictConfig) -> dict:
    """Score the labelled films with cfg.ckpt (or an ensemble: ckpt=[a,b,c]); write cfg.out;
    return its metrics.json."""
    check_values(cfg, SCORING_RULES)  # before anything is read
    ckpts = chosen_checkpoints(cfg)  # ckpt=FILE, run=DIR's tested checkpoint, or a list
    # Before any work: the report folder replaces nothing this command reads, nor a run.
    read = {
        "checkpoint": ckpts,
        "labels file": [cfg.labels] if cfg.labels else [],
        "images folder": [cfg.images] if cfg.images else [],
        "annotations folder": [cfg.annotations] if cfg.annotations else [],
        "dataset folder": [] if cfg.labels else dataset_root_or_none(cfg),
    }
    out = check_output("out", str(cfg.out), read)
    device = pick_device(str(cfg.device))
    models = load_members(ckpts, device, cfg.dicom.window)
    if cfg.threshold is not None:
        decision_threshold(cfg.threshold, {})  # a rule that needs validation films: refused now
    run_folders = [c.expanduser().resolve().parent.parent for c in ckpts]  # <run>/checkpoints/
    run = read_metrics(run_folders[0]) if is_finished(run_folders[0]) else {}
    films, films_from, subset = labelled_films(cfg, models[0], run_folders)
    log.info(
        "evaluating %s on %d film(s) from %s", ", ".join(map(str, ckpts)), len(films), films_from
    )
    pngs = [Path(p) for p in films["png_path"]]
    with TemporaryDirectory(prefix="csxa-landmarks-") as workdir:
        jsons = film_annotations(cfg, models[0], films, Path(workdir))
        prob = score_members(
            models, pngs, jsons, int(cfg.batch_size), int(cfg.num_workers), str(cfg.tta)
        ).numpy()
    decision = ensemble_decision(cfg, models, prob)
    predictions = predictions_frame(
        films, torch.arange(len(films)), torch.from_numpy(decision["score"]), decision["threshold"]
    )
    seed = cfg.seed if cfg.seed is not None else run.get("bootstrap_seed", 0)
    labels, probabilities = (predictions[c].to_numpy() for c in ("label", "prob_diseased"))
    metrics = metrics_with_intervals(
        labels,
        probabilities,
        decision["threshold"],
        seed=int(seed),
        n_resamples=int(run.get("bootstrap_resamples", DEFAULT_RESAMPLES)),
    )
    metrics.update(model_keys(cfg, models), films_from=films_from, subset=subset)
    metrics[ENVIRONMENT_KEY] = run_environment(device)
    # How the threshold was set, the checkpoint's temperature (already applied to
    # prob_diseased; 1: none) and the headline metrics at 0.5 beside those at the threshold.
    metrics.update(decision_keys(labels, probabilities, decision))
    if len(models) > 1:  # each member applied its own temperature
        metrics["temperature"] = decision["temperature"]
    out.mkdir(parents=True, exist_ok=True)
    written = write_run(out, predictions, metrics)
    report = write_evaluation_report(out, predictions, metrics, int(cfg.subgroup_min_count))
    print(f"metrics: {written}\nreport: {report['html']}")
    return metrics


def film_annotations(cfg: DictConfig, model, films: pd.DataFrame, workdir: Path) -> list:
    """The LabelMe file each film's crop reads: the labelled set's own (json_path), or a
    landmark model's (landmarks=predicted, or the checkpoint's training) written to workdir."""
    if model.preprocessor.needs_keypoints and landmark_choice(cfg, model)[0] == "predicted":
        return crop_annotations(cfg, model, [Path(p) for p in films["png_path"]], workdir)
    return [None if pd.isna(j) else Path(j) for j in films["json_path"]]


def ensemble_decision(cfg: DictConfig, models, prob) -> dict:
    """The films' scores (one model's probability, or the members' combined by cfg.ensemble)
    with the decision rule evaluate applies: threshold=P when given, else the model's own (an
    ensemble's: the mean of its members' thresholds, or a majority vote)."""
    stored = [m.classifier.decision for m in models]
    combined = ensemble_score(prob, [float(d["threshold"]) for d in stored], str(cfg.ensemble))
    if len(models) == 1:
        threshold, rule = decision_threshold(cfg.threshold, stored[0])
        return {**stored[0], "score": combined.score.astype("float32"), "threshold": threshold,
                "threshold_rule": rule}  # fmt: skip
    threshold, rule = combined.threshold, f"the ensemble's: {combined.threshold_rule}"
    if cfg.threshold is not None:
        threshold, rule = decision_threshold(cfg.threshold, {})
    temperatures = sorted({float(d["temperature"]) for d in stored})
    return {
        "score": combined.score.astype("float32"),
        "threshold": threshold,
        "threshold_rule": rule,
        # Each member's own temperature is applied to its probability before combining.
        "temperature": temperatures[0] if len(temperatures) == 1 else None,
        "fitted_on": 0,
    }


def model_keys(cfg: DictConfig, models) -> dict:
    """What metrics.json says about the model: its checkpoint (an ensemble: its members, the
    method and their count), architecture, preprocessing and test-time augmentation."""
    keys = {
        "checkpoint": str(models[0].path),
        "arch": common_architecture(models),
        "preprocessing": models[0].preprocessor.label,
        "tta": str(cfg.tta),
    }
    if len(models) > 1:
        keys["checkpoint"] = f"ensemble ({cfg.ensemble}) of {len(models)} checkpoints"
        keys["ensemble"] = {"method": str(cfg.ensemble), "members": [str(m.path) for m in models]}
    return keys


def labelled_films(
    cfg: DictConfig, model, run_folders: list[Path]
) -> tuple[pd.DataFrame, str, str]:
    """(films, where they come from, subset): a labels CSV with its images folder, or a
    CSXA-layout data.root (all its films, or the checkpoint's run's test films; an ensemble's
    members must then have tested the same films)."""
    annotated = (
        not model.preprocessor.needs_keypoints or landmark_choice(cfg, model)[0] == "annotated"
    )
    crop = (
        model.preprocessor.crop.name if model.preprocessor.needs_keypoints and annotated else None
    )
    if cfg.labels:
        return csv_films(cfg.labels, cfg.images, cfg.annotations, crop), str(cfg.labels), "all"
    root = required(cfg, "data.root", "/path/to/CSXA (or labels=FILE.csv images=DIR)")
    films = [csxa_films(root, str(cfg.subset), folder) for folder in run_folders]
    for folder, other in zip(run_folders[1:], films[1:], strict=True):
        if set(other["stem"]) != set(films[0]["stem"]):
            raise LabelledSetError(
                f"subset=test: the run {folder} tested other films than {run_folders[0]} (their "
                "split.csv differ); an ensemble is scored on films every member held out. Use "
                "subset=all on a set none of them trained on, or members of one split"
            )
    return films[0], str(root), str(cfg.subset)


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
