"""One tiny trained run shared by the tests that use a trained model (predict, export, Grad-CAM):
training it once per session keeps them within seconds on 2 cores."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from omegaconf import OmegaConf

from tests.helpers import compose_train_config, phantom_training

# Landmark crop and both channel orders: prediction must find the LabelMe files and average the
# two orders as the test did. 64 px: ResNet18's layer4 is 2 x 2 there, so a CAM can vary
# (at the tiny default of 32 px it is one cell).
TINY_RUN_OVERRIDES = ["crop=tight", "color=enhanced", "image_size=64"]


@dataclass(frozen=True)
class TinyRun:
    folder: Path
    checkpoint: Path  # the tested one (metrics.json names it)
    dataset: Path
    predictions: pd.DataFrame  # the run's predictions.csv, stems as text

    def png(self, stem: str) -> Path:
        return self.dataset / "datasets-PNG" / f"{stem}.png"

    def annotation(self, stem: str) -> Path:
        return self.dataset / "datasets-JSON" / f"{stem}.json"


@pytest.fixture(scope="session")
def tiny_run(phantom, tmp_path_factory) -> TinyRun:
    """A 1-epoch ResNet18 run on the session's phantom set; treat its folder as read-only."""
    from csxa_lightning.training.run import train

    base = tmp_path_factory.mktemp("tiny_run")
    folder = base / "run"
    cfg = compose_train_config([*phantom_training(phantom.root, base), *TINY_RUN_OVERRIDES])
    metrics = train(cfg)
    # What Hydra's command line would also have written (the report reads it).
    (folder / ".hydra").mkdir()
    OmegaConf.save(cfg, folder / ".hydra" / "config.yaml")
    predictions = pd.read_csv(folder / "predictions.csv", dtype={"stem": str})
    return TinyRun(folder, Path(metrics["checkpoint"]), Path(phantom.root), predictions)
