"""The callbacks presets compose with the real config (each preset running a tiny training:
tests/integration/test_presets_run.py)."""

from __future__ import annotations

import pytest

from csxa_lightning.training.checkpoints import build_callbacks
from tests.helpers import TINY_TRAINING, compose_train_config


def test_default_callbacks_compose_each_file_and_none_keeps_what_every_run_needs(tmp_path):
    default = compose_train_config([*TINY_TRAINING, f"paths.output_dir={tmp_path}"])
    assert set(default.callbacks) == {
        "model_checkpoint", "seed_each_epoch", "log_interval", "finite_loss", "lr_monitor",
        "early_stopping", "model_summary",
    }  # fmt: skip
    none = compose_train_config([*TINY_TRAINING, "callbacks=none"])
    assert set(none.callbacks) == {"model_checkpoint", "seed_each_epoch", "log_interval"}
    names = [type(c).__name__ for c in build_callbacks(default, has_validation=True)]
    assert names == [
        "RunModelCheckpoint", "SeedEachEpoch", "LogIntervalWithinEpoch", "StopOnNonFiniteLoss",
        "LearningRateMonitor", "EarlyStopping", "ModelSummary",
    ]  # fmt: skip
    seven = compose_train_config([*TINY_TRAINING, "seed=7", f"paths.output_dir={tmp_path}"])
    seeding = build_callbacks(seven, has_validation=True)[1]
    assert seeding.seed == 7  # ${seed}: the run's own seed


def test_a_callbacks_list_without_the_per_epoch_seeding_is_refused(tmp_path):
    from csxa_lightning.config.checks import check_config
    from csxa_lightning.utils.errors import ConfigValueError

    cfg = compose_train_config([*TINY_TRAINING, "~callbacks.seed_each_epoch"])
    with pytest.raises(ConfigValueError, match="callbacks.seed_each_epoch is missing: without"):
        check_config(cfg)


def test_a_missing_tracker_package_names_the_extra(monkeypatch, tmp_path):
    import importlib.util

    from csxa_lightning.config.preflight import MachineSetupError, preflight

    paths = [f"paths.output_dir={tmp_path / 'run'}", f"paths.cache_dir={tmp_path / 'cache'}"]
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    cfg = compose_train_config([*TINY_TRAINING, *paths, "logger=mlflow"])
    with pytest.raises(MachineSetupError, match=r"logger.mlflow .*csxa-lightning\[tracking\]"):
        preflight(cfg)
    preflight(compose_train_config([*TINY_TRAINING, *paths]))  # csv: nothing needed


def test_mlflow_skinny_without_the_sqlite_store_names_what_is_missing(monkeypatch, tmp_path):
    import importlib.util

    from csxa_lightning.config.preflight import MachineSetupError, preflight

    paths = [f"paths.output_dir={tmp_path / 'run'}", f"paths.cache_dir={tmp_path / 'cache'}"]
    found = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: None if name == "alembic" else found(name)
    )
    cfg = compose_train_config([*TINY_TRAINING, *paths, "logger=mlflow"])
    with pytest.raises(MachineSetupError, match=r"tracking_uri=sqlite:///.*needs alembic, which"):
        preflight(cfg)
