"""logger=tensorboard: the event files hold the run's config, its curves and its final test
metrics (read back as TensorBoard reads them)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from csxa_lightning.training.run import train
from tests.helpers import compose_train_config


def test_tensorboard_receives_the_config_the_curves_and_the_final_metrics(
    phantom_run_overrides, tmp_path
):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    out = tmp_path / "run"
    cfg = compose_train_config(
        [*phantom_run_overrides, "trainer.max_epochs=2", "logger=tensorboard"]
    )
    metrics = train(cfg)

    events = EventAccumulator(str(out / "tensorboard"))
    events.Reload()
    scalars = set(events.Tags()["scalars"])
    assert [e.step for e in events.Scalars("val/loss")] == sorted(
        e.step for e in events.Scalars("val/loss")
    ) and len(events.Scalars("val/loss")) == 2  # one point per epoch
    final = {k: events.Scalars(k)[-1].value for k in scalars if k.startswith("final/")}
    saved = json.loads((out / "metrics.json").read_text())
    assert final["final/balanced_accuracy"] == pytest.approx(saved["balanced_accuracy"])
    assert final["final/auroc"] == pytest.approx(metrics["auroc"])

    content = events.PluginTagToContent("hparams")
    hparams = {}
    for raw in content.values():
        data = plugin_data_pb2.HParamsPluginData.FromString(raw)
        hparams.update(data.session_start_info.hparams)
    assert hparams["model/arch"].string_value == "resnet18"
    assert hparams["seed"].number_value == 42
    assert hparams["image_size"].number_value == 32


def test_mlflow_local_store_holds_the_config_the_curves_the_metrics_and_the_files(
    phantom_run_overrides, tmp_path
):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    out = tmp_path / "run"
    cfg = compose_train_config(
        [
            *phantom_run_overrides,
            "trainer.max_epochs=2",
            "logger=mlflow",
            f"paths.log_dir={tmp_path / 'outputs'}",
        ]
    )
    metrics = train(cfg)

    # Read back as `mlflow ui --backend-store-uri sqlite:///<paths.log_dir>/mlflow.db` would.
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'outputs' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("csxa")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FINISHED"
    assert run.data.params["model/arch"] == "resnet18" and run.data.params["seed"] == "42"
    curve = client.get_metric_history(run.info.run_id, "val/loss")
    assert len(curve) == 2  # one point per epoch
    assert run.data.metrics["final/balanced_accuracy"] == pytest.approx(
        metrics["balanced_accuracy"]
    )
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert artifacts == {"predictions.csv", "metrics.json"}
    stored = client.download_artifacts(run.info.run_id, "predictions.csv", str(tmp_path))
    assert Path(stored).read_text() == (out / "predictions.csv").read_text()
    (kept,) = (tmp_path / "outputs" / "mlartifacts").rglob("predictions.csv")  # beside the db
