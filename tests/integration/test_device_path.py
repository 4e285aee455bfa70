"""The GPU input path (data.augment_on=device), run on the CPU: the same samples in the same
order as the per-item path, augmented after the transfer, and a complete training run."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import torch
from hydra.utils import instantiate

from csxa_lightning.training.run import train
from tests.helpers import compose_train_config


def datamodule(phantom, tmp_path, augment_on, *extra):
    cfg = compose_train_config(
        [
            "data=csxa",
            f"data.root={phantom.root}",
            f"paths.cache_dir={tmp_path / 'cache'}",
            "image_size=32",
            "color=enhanced",
            "data.batch_size=8",
            f"data.augment_on={augment_on}",
            *extra,
        ]
    )
    dm = instantiate(cfg.data)
    dm.setup("fit")
    return dm


def test_device_batches_hold_the_per_item_samples_in_the_same_order(phantom, tmp_path):
    # protocol=strict: a validation split, so that all three loaders are compared.
    per_item = datamodule(phantom, tmp_path, "loader", "augment=none", "protocol=strict")
    batched = datamodule(phantom, tmp_path, "device", "augment=none", "protocol=strict")
    for loader_name in ("train_dataloader", "val_dataloader", "test_dataloader"):
        a, b = getattr(per_item, loader_name)(), getattr(batched, loader_name)()
        if loader_name == "train_dataloader":
            # what Lightning does: set_epoch on loader.batch_sampler.sampler, or loader.sampler
            a.batch_sampler.sampler.set_epoch(2), b.sampler.set_epoch(2)
        pairs = list(zip(a, b, strict=True))
        assert pairs, loader_name
        for one, other in pairs:
            for key in ("image", "label", "index"):
                torch.testing.assert_close(one[key], other[key], rtol=0, atol=0)
    assert batched.device_augment is None  # augment=none: nothing to do on the device


def test_device_batches_are_augmented_after_the_transfer(phantom, tmp_path):
    dm = datamodule(phantom, tmp_path, "device")
    loader = dm.train_dataloader()
    batch = next(iter(loader))
    assert set(batch) == {"image", "label", "index", "augment"}
    raw = batch["image"].clone()
    params = batch["augment"].clone()
    out = dm.on_after_batch_transfer(batch, 0)
    assert "augment" not in out and out["image"].shape == raw.shape
    assert out["image"].dtype == torch.uint8
    expected = dm.device_augment(raw, params)
    torch.testing.assert_close(out["image"], expected, rtol=0, atol=0)
    assert (out["image"] != raw).any(dim=(1, 2, 3)).all()  # every sample rotated by > 0 degrees
    # Evaluation batches carry no parameters and pass unchanged.
    test_batch = next(iter(dm.test_dataloader()))
    assert "augment" not in test_batch and test_batch["image"].ndim == 5
    assert dm.on_after_batch_transfer(dict(test_batch), 0)["image"] is test_batch["image"]


def test_training_on_the_device_path_scores_each_test_film_once(phantom_run_overrides, tmp_path):
    out = tmp_path / "run"
    cfg = compose_train_config(
        [
            *phantom_run_overrides,
            "color=enhanced",
            "data.augment_on=device",
            "trainer.max_epochs=2",
            "+callbacks.keys._target_=tests.helpers.RecordBatchKeys",
            f"+callbacks.keys.path={tmp_path / 'keys.txt'}",
        ]
    )
    metrics = train(cfg)
    # Lightning ran the datamodule's hook: the model saw augmented batches, no parameters.
    assert set((tmp_path / "keys.txt").read_text().split()) == {"image,index,label"}
    split = pd.read_csv(out / "split.csv", dtype={"stem": str})
    predictions = pd.read_csv(out / "predictions.csv", dtype={"stem": str})
    test_stems = split.loc[split["split"] == "test", "stem"]
    assert sorted(predictions["stem"]) == sorted(test_stems)
    assert metrics["n"] == len(test_stems) and metrics["epochs"] == 2
    assert np.isfinite(json.loads((out / "metrics.json").read_text())["balanced_accuracy"])
