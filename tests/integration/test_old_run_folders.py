"""Run folders written before the package took its layered layout (models/, training/ ...)
still work: their saved config names classes by the old module paths."""

from __future__ import annotations

import shutil

from omegaconf import OmegaConf

from csxa_lightning.runs.identity import ADDED_SINCE, MOVED_MODULES
from csxa_lightning.training.run import train
from tests.helpers import compose_train_config
from tests.integration.conftest import TINY_RUN_OVERRIDES


def as_saved_before_the_move(cfg) -> str:
    """cfg as the version before the move saved it: classes by their old module paths, and no
    callbacks.seed_each_epoch or callbacks.log_interval (built in code then)."""
    config = OmegaConf.to_container(cfg, resolve=False)
    for added in ADDED_SINCE:
        del config["callbacks"][added.split(".")[1]]
    text = OmegaConf.to_yaml(OmegaConf.create(config))
    for old, new in MOVED_MODULES.items():
        text = text.replace(f"{new}.", f"{old}.")
    return text


def test_a_sweep_started_again_skips_a_run_folder_saved_before_the_move(
    tiny_run, phantom_run_overrides, tmp_path
):
    run = tmp_path / "run"  # the fixture's
    shutil.copytree(tiny_run.folder, run)
    # tiny_run's config (its dataset is the session's phantom), writing to the copy
    cfg = compose_train_config([*phantom_run_overrides, *TINY_RUN_OVERRIDES])
    saved = run / ".hydra" / "config.yaml"
    old_text = as_saved_before_the_move(cfg)
    assert "_target_: csxa_lightning.model.CSXAClassifier" in old_text
    assert "seed_each_epoch" not in old_text
    saved.write_text(old_text)
    (run / ".hydra-incoming").mkdir()  # what Hydra's command line saves for this start
    OmegaConf.save(cfg, run / ".hydra-incoming" / "config.yaml")
    before = (run / "metrics.json").read_bytes()
    metrics = train(cfg)  # finished earlier: skipped, not refused as "another config"
    assert metrics["n"] == tiny_run.predictions.shape[0]
    assert (run / "metrics.json").read_bytes() == before
    assert saved.read_text() == old_text
