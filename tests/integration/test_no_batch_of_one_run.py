"""The issue's reproduction of a batch of one, trained: 46 training samples at batch size 45
make one optimizer step of 46, not a step of 45 and a step of one that BatchNorm cannot train."""

from __future__ import annotations

import numpy as np

from csxa_lightning.training.run import train
from tests.helpers import compose_train_config


def test_the_issues_reproduction_trains(tmp_path):
    # 60 films, half healthy, no validation, oversampled to 46 training samples; batch 45
    cfg = compose_train_config(
        [
            "model=resnet18",
            "model.pretrained=none",
            "image_size=32",
            "trainer=cpu",
            "trainer.max_epochs=1",
            "data.phantom.n=60",
            "data.phantom.healthy_fraction=0.5",
            "data.val_fraction=0",
            "balance=oversample",
            "data.batch_size=45",
            f"paths.output_dir={tmp_path / 'run'}",
            f"paths.cache_dir={tmp_path / 'cache'}",
        ]
    )
    metrics = train(cfg)
    assert metrics["train_samples"] == 46 and metrics["optimizer_steps"] == 1
    assert np.isfinite(metrics["balanced_accuracy"])
