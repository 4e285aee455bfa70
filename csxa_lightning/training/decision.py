"""The decision rule of a trained run, fitted on its validation slice after training: the
temperature that calibrates its probabilities (calibrate=temperature) and the threshold that
turns them into calls (threshold=youden|sensitivity:x|specificity:x, or a fixed number).

The validation films are scored with the tested checkpoint through `scoring.score`, the code
predict and evaluate use, so the fitted values apply to exactly the probabilities those
commands produce. Both values are written into the tested checkpoint (model.DECISION_KEY):
the test, predict and evaluate all apply them from there. Never fitted on the test films.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from csxa_lightning.inference.loading import load_trained_model
from csxa_lightning.inference.scoring import score
from csxa_lightning.metrics.calibration import (
    TEMPERATURE_BOUNDS,
    fit_temperature,
    temperature_at_bound,
    temperature_data_problem,
    with_temperature,
)
from csxa_lightning.metrics.thresholds import choose_threshold, parse_rule
from csxa_lightning.models.classifier import DECISION_KEY
from csxa_lightning.utils.errors import ConfigValueError
from csxa_lightning.utils.whole_files import written_whole

log = logging.getLogger(__name__)

CALIBRATIONS = ("none", "temperature")


@dataclass(frozen=True)
class DecisionSettings:
    """train.yaml's `threshold` and `calibrate`, checked."""

    threshold: str = "0.5"
    calibrate: str = "none"

    @classmethod
    def from_config(cls, cfg) -> DecisionSettings:
        return cls(str(cfg.get("threshold", 0.5)), str(cfg.get("calibrate", "none")))

    def problems(self, has_validation: bool) -> list[str]:
        """One line per impossible setting (for config_checks), given whether the run has a
        validation slice."""
        found = []
        try:
            rule = parse_rule(self.threshold)
        except ConfigValueError as err:
            found.append(str(err))
            rule = None
        if self.calibrate not in CALIBRATIONS:
            found.append(
                f"calibrate={self.calibrate!r}: must be none or temperature (fitted on the "
                "validation slice); e.g. calibrate=temperature"
            )
        needs = [f"threshold={rule}"] if rule is not None and rule.needs_validation else []
        needs += ["calibrate=temperature"] if self.calibrate == "temperature" else []
        if needs and not has_validation:
            found.append(
                f"{' and '.join(needs)} is fitted on the validation slice, and "
                "data.val_fraction=0 leaves none; add data.val_fraction=0.1 (or "
                "protocol=strict), or keep threshold=0.5 calibrate=none"
            )
        return found

    @property
    def fits_anything(self) -> bool:
        return self.calibrate == "temperature" or parse_rule(self.threshold).needs_validation


def fit_decision(
    settings: DecisionSettings, val_frame, checkpoint: str | None, device, batch_size: int
) -> dict:
    """{temperature, threshold, threshold_rule, fitted_on}: fitted on the validation films
    (val_frame: label, png_path, json_path) scored with the tested checkpoint; a fixed
    threshold and temperature 1 when nothing is to be fitted."""
    rule = parse_rule(settings.threshold)
    decision = {
        "temperature": 1.0,
        "threshold": float(rule.value) if not rule.needs_validation else 0.5,
        "threshold_rule": str(rule),
        "fitted_on": 0,
    }
    if not settings.fits_anything:
        return decision
    if checkpoint is None or val_frame is None or not len(val_frame):
        raise ConfigValueError(  # config_checks refuses this earlier; a direct call lands here
            "the decision rule is fitted on the validation slice and this run has none; add "
            "data.val_fraction=0.1"
        )
    model = load_trained_model(checkpoint, device)
    jsons = [None if not isinstance(j, str) else Path(j) for j in val_frame["json_path"]]
    needs_json = model.preprocessor.needs_keypoints
    prob = score(
        model,
        [Path(p) for p in val_frame["png_path"]],
        jsons if needs_json else [None] * len(jsons),
        0.5,
        batch_size,
    ).numpy()
    y = val_frame["label"].to_numpy(dtype=int)
    if settings.calibrate == "temperature":
        decision.update(fitted_temperature(y, prob))
        prob = with_temperature(prob, decision["temperature"])
    decision["threshold"] = choose_threshold(rule, y, prob)
    decision["fitted_on"] = len(y)
    log.info(
        "decision rule fitted on %d validation films: temperature %.3f, threshold %.4f (%s)",
        len(y),
        decision["temperature"],
        decision["threshold"],
        decision["threshold_rule"],
    )
    return decision


def check_temperature_data(settings: DecisionSettings, val_frame) -> None:
    """Before training: ConfigValueError when calibrate=temperature has too few validation films
    to fit on (the fit itself comes after training)."""
    if settings.calibrate == "temperature" and val_frame is not None:
        temperature_problem(val_frame["label"].to_numpy(dtype=int))


def temperature_problem(y) -> None:
    problem = temperature_data_problem(y)
    if problem is not None:
        raise ConfigValueError(
            f"calibrate=temperature: {problem}. Give the run a larger validation slice "
            "(data.val_fraction=0.2, or more films), or calibrate=none"
        )


def fitted_temperature(y, prob) -> dict:
    """{temperature, temperature_warning}: the temperature fitted on the validation films, and a
    warning (also logged) when it ends on a bound of its search; ConfigValueError naming the fix
    when the films are too few to fit one."""
    temperature_problem(y)
    temperature = fit_temperature(y, prob)
    warning = None
    if temperature_at_bound(temperature):
        warning = (
            f"the temperature fitted on {len(y)} validation films is {temperature:.3g}, a bound "
            f"of its search {TEMPERATURE_BOUNDS}: the validation films do not pin it down, and "
            "the calibrated probabilities are not to be trusted (more validation films, or "
            "calibrate=none)"
        )
        log.warning("%s", warning)
    return {"temperature": temperature, "temperature_warning": warning}


def store_decision(checkpoint: str | Path, decision: dict) -> None:
    """Write the decision into the checkpoint file, whole (utils/whole_files.py: a kill leaves
    the old file, and its partial is cleaned up by the next start), so that testing, predict
    and evaluate read it with the weights."""
    path = Path(checkpoint)
    stored = torch.load(path, map_location="cpu", weights_only=True)
    keys = ("temperature", "threshold", "threshold_rule", "fitted_on")
    stored[DECISION_KEY] = {k: decision[k] for k in keys}
    with written_whole(path) as partial:
        torch.save(stored, partial)


def decide(settings: DecisionSettings, datamodule, trainer, checkpoint: str | None) -> dict:
    """Fit the decision rule after training, store it in the tested checkpoint (rank 0), and
    let every process wait for the file before the test reads it."""
    decision = fit_decision(
        settings,
        datamodule.frames.get("val"),
        checkpoint,
        trainer.strategy.root_device,
        int(datamodule.batch_size),
    )
    if checkpoint is not None and settings.fits_anything:
        if trainer.is_global_zero:
            store_decision(checkpoint, decision)
        trainer.strategy.barrier("csxa_decision_stored")
    return decision
