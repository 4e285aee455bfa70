"""Same seed, same config, same machine: the same split, the same predictions."""

from __future__ import annotations

from csxa_lightning.train import train
from tests.conftest import TINY_TRAINING, compose_train_config


def test_deterministic_runs_give_identical_predictions(phantom, tmp_path):
    outputs = []
    for name in ("first", "second"):
        out = tmp_path / name
        cfg = compose_train_config(
            TINY_TRAINING
            + [
                "data=csxa",
                f"data.root={phantom.root}",
                f"paths.output_dir={out}",
                f"paths.cache_dir={tmp_path / 'cache'}",
                "trainer.deterministic=true",
                "trainer.max_epochs=2",
                "seed=7",
            ]
        )
        train(cfg)
        outputs.append(out)
    for name in ("predictions.csv", "split.csv", "normalization.json"):
        assert (outputs[0] / name).read_bytes() == (outputs[1] / name).read_bytes(), name
