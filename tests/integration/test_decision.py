"""The decision rule fitted after training on the validation slice: calibrate=temperature
lowers the validation negative log-likelihood, threshold=youden picks Youden's point, both
are stored in the tested checkpoint, and predict and evaluate apply them from there."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from csxa_lightning.config.checks import check_config
from csxa_lightning.inference.loading import load_trained_model
from csxa_lightning.inference.predict import predict
from csxa_lightning.inference.scoring import score
from csxa_lightning.metrics.calibration import negative_log_likelihood, with_temperature
from csxa_lightning.metrics.thresholds import choose_threshold, parse_rule
from csxa_lightning.models.classifier import DECISION_KEY
from csxa_lightning.results.evaluation import evaluate
from csxa_lightning.training.run import train
from csxa_lightning.utils.errors import ConfigValueError
from tests.helpers import compose_config, compose_train_config


def test_a_fitted_decision_rule_is_stored_and_applied_everywhere(
    phantom, phantom_run_overrides, tmp_path
):
    out = tmp_path / "run"
    cfg = compose_train_config(
        [
            *phantom_run_overrides,
            # 21 of the 30 non-test films: a temperature needs 20, and 5 of each class
            "data.val_fraction=0.7",
            "balance=oversample",  # 3 healthy training films are too few for SMOTE's 5 neighbours
            "trainer.max_epochs=2",
            "calibrate=temperature",
            "threshold=youden",
        ]
    )
    metrics = train(cfg)
    assert metrics["threshold_rule"] == "youden"
    assert metrics["decision_fitted_on"] == metrics["n_val"] == 21
    assert {d["setting"] for d in metrics["departures"]} >= {"threshold", "calibrate"}
    stored = torch.load(metrics["checkpoint"], weights_only=True)[DECISION_KEY]
    assert stored["temperature"] == pytest.approx(metrics["temperature"])
    assert stored["threshold"] == pytest.approx(metrics["threshold"])

    # Refit by hand on the validation films, scored with the checkpoint at temperature 1.
    split = pd.read_csv(out / "split.csv", dtype={"stem": str})
    val = split[split["split"] == "val"]
    model = load_trained_model(metrics["checkpoint"])
    model.classifier.set_decision(None)  # the raw, uncalibrated model
    pngs = [phantom.root / "datasets-PNG" / f"{s}.png" for s in val["stem"]]
    raw = score(model, pngs, [None] * len(pngs), 0.5).numpy()
    y = val["label"].to_numpy()
    calibrated = with_temperature(raw, metrics["temperature"])
    assert negative_log_likelihood(y, calibrated) <= negative_log_likelihood(y, raw) + 1e-9
    assert metrics["threshold"] == pytest.approx(
        choose_threshold(parse_rule("youden"), y, calibrated), abs=1e-6
    )

    # The test was scored with the stored rule: predictions.csv calls at the chosen threshold,
    # and predict, told nothing, gives the same calibrated probabilities and calls.
    predictions = pd.read_csv(out / "predictions.csv", dtype={"stem": str}).set_index("stem")
    assert (predictions["pred"] == (predictions["prob_diseased"] >= metrics["threshold"])).all()
    predict_cfg = compose_config(
        "predict",
        [
            f"ckpt={metrics['checkpoint']}",
            f"input={phantom.root / 'datasets-PNG'}",
            f"out={tmp_path / 'predicted.csv'}",
        ],
    )
    rows = predict(predict_cfg).set_index("stem").loc[predictions.index]
    assert rows["prob_diseased"].to_numpy() == pytest.approx(
        predictions["prob_diseased"].to_numpy(), abs=1e-5
    )
    assert (rows["pred"] == predictions["pred"]).all()
    assert rows["threshold"].to_numpy() == pytest.approx([metrics["threshold"]] * len(rows))
    saved = json.loads((out / "metrics.json").read_text())
    assert set(saved) >= {"accuracy_at_default", "sensitivity_at_default", "temperature"}
    assert Path(saved["checkpoint"]).is_file()

    # evaluate on the run's own test split: the stored rule, the run's numbers
    evaluate_cfg = compose_config(
        "evaluate",
        [
            f"ckpt={metrics['checkpoint']}",
            f"data.root={phantom.root}",
            "subset=test",
            f"out={tmp_path / 'evaluated'}",
        ],
    )
    evaluated = evaluate(evaluate_cfg)
    assert evaluated["threshold"] == pytest.approx(metrics["threshold"])
    assert evaluated["temperature"] == pytest.approx(metrics["temperature"])
    assert evaluated["decision_fitted_on"] == metrics["decision_fitted_on"]
    for key in ("accuracy", "balanced_accuracy", "accuracy_at_default", "brier_score"):
        assert evaluated[key] == pytest.approx(metrics[key], abs=1e-6), key
    report = (tmp_path / "evaluated" / "report.md").read_text()
    assert "(the checkpoint's: threshold=youden)" in report


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["threshold=youden"], "threshold=youden is fitted on the validation slice"),
        (["calibrate=temperature"], "calibrate=temperature is fitted on the validation slice"),
        (["threshold=sens:0.9"], "threshold='sens:0.9': not a threshold rule"),
        (["calibrate=platt"], "calibrate='platt': must be none or temperature"),
    ],
)
def test_rules_that_need_validation_are_refused_before_any_data_under_the_paper_protocol(
    overrides, message
):
    cfg = compose_train_config(["protocol=paper", *overrides])
    with pytest.raises(ConfigValueError, match=message):
        check_config(cfg)


def test_the_paper_protocol_keeps_threshold_one_half_and_no_temperature():
    cfg = compose_train_config(["protocol=paper"])
    check_config(cfg)  # no problem
    assert cfg.threshold == 0.5 and cfg.calibrate == "none"
    assert np.isclose(float(cfg.threshold), 0.5)


def test_a_temperature_the_validation_slice_cannot_fit_is_refused_before_training(
    phantom_run_overrides, tmp_path
):
    """The issue's case: calibrate=temperature on 9 validation films fitted a temperature of
    100 (every probability near 0.5) without a word. Refused now, before any epoch."""
    cfg = compose_train_config(
        [*phantom_run_overrides, "data.val_fraction=0.3", "calibrate=temperature"]
    )
    with pytest.raises(
        ConfigValueError,
        match=r"calibrate=temperature: temperature scaling needs at least 20 validation films, "
        r"this run has 9\. Give the run a larger validation slice",
    ):
        train(cfg)
    assert not list((tmp_path / "run").glob("checkpoints/*.ckpt"))
