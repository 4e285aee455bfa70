"""logger=tensorboard: the event files hold the run's config, its curves and its final test
metrics (read back as TensorBoard reads them)."""

from __future__ import annotations

import json

import pytest

from csxa_lightning.train import train
from tests.helpers import TINY_TRAINING, compose_train_config


def test_tensorboard_receives_the_config_the_curves_and_the_final_metrics(phantom, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    out = tmp_path / "run"
    cfg = compose_train_config(
        [
            *TINY_TRAINING,
            "trainer.max_epochs=2",
            "logger=tensorboard",
            "data=csxa",
            f"data.root={phantom.root}",
            f"paths.cache_dir={tmp_path / 'cache'}",
            f"paths.output_dir={out}",
        ]
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
