"""Every value bounded once, shared by the commands that take it: seeds, batch sizes and
thresholds are refused with one line before any work (each used to end in a traceback, or, for
predict's threshold=2, to call every film healthy)."""

from __future__ import annotations

import pytest

from csxa_lightning.config.checks import (
    PREDICT_RULES,
    SCORING_RULES,
    check_config,
    check_values,
)
from csxa_lightning.utils.errors import ConfigValueError
from tests.helpers import TINY_TRAINING, compose_config, compose_train_config


@pytest.mark.parametrize("key", ["seed", "data.split_seed"])
def test_a_negative_or_too_large_seed_is_refused(key):
    for value in (-1, 2**32):
        with pytest.raises(ConfigValueError, match=rf"{key}={value}: must be an integer in "
                           r"0\.\.4294967295; e\.g\."):  # fmt: skip
            check_config(compose_train_config([*TINY_TRAINING, f"{key}={value}"]))
    check_config(compose_train_config([*TINY_TRAINING, f"{key}={2**32 - 1}"]))  # the largest


def test_predict_refuses_batch_size_0_and_a_threshold_that_is_no_probability():
    base = ["ckpt=a.ckpt", "input=x.png"]
    with pytest.raises(ConfigValueError, match=r"batch_size=0: must be an integer >= 1"):
        check_values(compose_config("predict", [*base, "batch_size=0"]), PREDICT_RULES)
    with pytest.raises(ConfigValueError, match=r"threshold=2: must be null \(the checkpoint's\) "
                       r"or a probability between 0 and 1"):  # fmt: skip
        check_values(compose_config("predict", [*base, "threshold=2"]), PREDICT_RULES)
    with pytest.raises(ConfigValueError, match=r"2 impossible config values"):
        check_values(
            compose_config("predict", [*base, "threshold=-0.1", "num_workers=-1"]), PREDICT_RULES
        )
    check_values(compose_config("predict", [*base, "threshold=1"]), PREDICT_RULES)


def test_evaluate_shares_the_scoring_rules():
    base = ["ckpt=a.ckpt", "data.root=/nowhere"]
    with pytest.raises(ConfigValueError, match=r"seed=-1: must be null or an integer in 0\.\."):
        check_values(compose_config("evaluate", [*base, "seed=-1"]), SCORING_RULES)
    with pytest.raises(ConfigValueError, match=r"batch_size=0: must be an integer >= 1"):
        check_values(compose_config("evaluate", [*base, "batch_size=0"]), SCORING_RULES)
    check_values(compose_config("evaluate", base), SCORING_RULES)


def test_an_image_size_whose_batch_cannot_fit_stops_before_any_data(tmp_path):
    from csxa_lightning.config.preflight import MachineSetupError, batch_memory_problems, preflight

    cfg = compose_train_config(
        [*TINY_TRAINING, "image_size=100000", f"paths.output_dir={tmp_path}"]
    )
    with pytest.raises(MachineSetupError, match=r"image_size=100000 with data.batch_size=16: "
                       r"the inputs of one batch alone take 1788.1 GiB as float32, more than "
                       r"this machine's [0-9.]+ GiB of RAM"):  # fmt: skip
        preflight(cfg)
    assert not any(tmp_path.iterdir())  # nothing written
    # The floor itself: 16 x 3 x 224^2 float32 values are 9.2 MiB.
    assert batch_memory_problems(224, 16, "RAM", 10 * 2**20) == []
    assert len(batch_memory_problems(224, 16, "RAM", 9 * 2**20)) == 1


def test_an_output_folder_where_nothing_can_be_written_is_one_line_before_any_work(tmp_path):
    from csxa_lightning.config.preflight import MachineSetupError, preflight

    cfg = compose_train_config([*TINY_TRAINING, "paths.output_dir=/proc/csxa-run"])
    with pytest.raises(MachineSetupError, match=r"paths.output_dir=/proc/csxa-run: cannot create "
                       r"files in /proc \(.*\); choose a folder you can write to\."):  # fmt: skip
        preflight(cfg)


@pytest.mark.parametrize(
    "key, refused, accepted",
    [("memory_budget_mb", [0, 0.5], 1), ("k_neighbors", [0], 1)],
)
def test_the_config_check_and_smote_hold_the_same_bounds(key, refused, accepted):
    """The config checks and SMOTEBalancing state one rule (data/balance.py's minimums): the
    check used to let memory_budget_mb=0.5 through to a class that refused it."""
    from hydra.utils import instantiate

    for value in refused:
        cfg = compose_train_config([*TINY_TRAINING, "balance=smote", f"balance.{key}={value}"])
        with pytest.raises(ConfigValueError, match=rf"balance\.{key}={value}: must be"):
            check_config(cfg)
    cfg = compose_train_config([*TINY_TRAINING, "balance=smote", f"balance.{key}={accepted}"])
    check_config(cfg)
    assert getattr(instantiate(cfg.balance), key) == accepted
