"""protocol=paper | strict through the real config, and the departures from the paper each run
records (csxa_lightning/config/protocol.py)."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from csxa_lightning.config.protocol import departures
from csxa_lightning.runs.summary import sweep_objective, variant_name
from csxa_lightning.training.checkpoints import checkpoint_overrides
from tests.helpers import compose_train_config

VARIANTS = (
    "original",
    "original_vgg19",
    "cropped",
    "wide_cropped",
    "colored",
    "colored_cropped",
    "colored_wide_cropped",
)
# The augmentation as the paper's wording implies (torchvision's RandomRotation defaults):
# pinned here so that these tests do not depend on conf/augment/paper.yaml's current values.
PAPER_AUGMENT = [
    "augment.border_mode=constant",
    "++augment.interpolation=nearest",
    "++augment.scale_limit=0.0",
]


def split_settings(cfg) -> dict:
    data = cfg.data
    return {k: data[k] for k in ("split_seed", "test_fraction", "val_fraction", "stratify")} | {
        "folds": cfg.cv.folds
    }


def settings(cfg) -> list[str]:
    return [d["setting"] for d in departures(cfg)]


def by_setting(cfg) -> dict[str, dict]:
    return {d["setting"]: d for d in departures(cfg)}


# --- composition ------------------------------------------------------------------------------


def test_the_default_protocol_is_the_papers():
    cfg = compose_train_config([])
    assert cfg.protocol.name == "paper"
    assert cfg.data.stratify is False and cfg.data.val_fraction == 0
    assert cfg.callbacks.model_checkpoint.monitor is None
    # No validation slice: the last epoch is kept (and last.ckpt is a link to it).
    assert checkpoint_overrides(cfg, has_validation=False) == {"monitor": None, "save_last": "link"}
    assert compose_train_config(["protocol=paper"]) == cfg


def test_strict_stratifies_and_selects_the_checkpoint_on_a_validation_slice():
    cfg = compose_train_config(["protocol=strict"])
    assert cfg.protocol.name == "strict"
    assert cfg.data.stratify is True and cfg.data.val_fraction == 0.1
    assert cfg.callbacks.model_checkpoint.monitor == "val/loss"
    assert cfg.callbacks.model_checkpoint.mode == "min"
    assert checkpoint_overrides(cfg, has_validation=True) == {}  # the best val/loss is tested
    # Nothing else changes: the training recipe stays the paper's.
    paper = compose_train_config([])
    for key in ("model", "trainer", "augment", "balance", "crop", "color", "image_size", "seed"):
        assert cfg[key] == paper[key], key


@pytest.mark.parametrize("protocol", ["paper", "strict"])
def test_a_command_line_value_wins_over_the_protocol(protocol):
    cfg = compose_train_config([f"protocol={protocol}", "data.val_fraction=0.2"])
    assert cfg.data.val_fraction == 0.2 and cfg.protocol.name == protocol
    cfg = compose_train_config(["data.stratify=true", f"protocol={protocol}"])
    assert cfg.data.stratify is True


@pytest.mark.parametrize("experiment", ["table1", "demo"])
def test_experiments_use_the_papers_protocol_unless_told_otherwise(experiment):
    cfg = compose_train_config([f"experiment={experiment}"])
    assert cfg.protocol.name == "paper"
    assert cfg.data.stratify is False and cfg.data.val_fraction == 0
    strict = compose_train_config([f"experiment={experiment}", "protocol=strict"])
    assert strict.protocol.name == "strict" and strict.data.val_fraction == 0.1
    if experiment == "demo":  # the preset's own values survive the protocol
        assert strict.image_size == 64 and strict.data.phantom.n == 300


@pytest.mark.parametrize("protocol", ["paper", "strict"])
def test_every_variant_gets_the_same_split_settings(protocol):
    """The split is a function of the index and these settings only (tests/unit/test_split.py):
    equal settings, equal split, for every variant of Table 1."""
    base = split_settings(compose_train_config([f"protocol={protocol}"]))
    for variant in VARIANTS:
        cfg = compose_train_config([f"protocol={protocol}", f"+variant={variant}"])
        assert split_settings(cfg) == base, variant
        assert variant_name(cfg) == variant


def test_a_plain_run_has_no_variant_name():
    assert variant_name(compose_train_config([])) is None


# --- the sweep objective ----------------------------------------------------------------------


def test_the_sweep_objective_is_the_validation_score_never_a_test_metric():
    assert sweep_objective({"selection_score": 0.31, "balanced_accuracy": 0.9}) == 0.31
    # protocol=paper: no validation slice, no objective (the test set must not be tuned on).
    assert sweep_objective({"selection_score": None, "balanced_accuracy": 0.9}) is None
    assert sweep_objective({"balanced_accuracy": 0.9}) is None  # runs recorded before


# --- departures -------------------------------------------------------------------------------


def test_under_the_papers_protocol_only_the_remaining_departures_are_listed():
    cfg = compose_train_config(["trainer=cpu", *PAPER_AUGMENT])
    found = departures(cfg)
    assert [d["setting"] for d in found] == [
        "data",  # the default data is the phantom
        "data.split_seed",  # the paper's split is not published
        "normalization",  # paper silent on SMOTE's synthetic films
        "model.pretrained",  # paper silent on which ImageNet weights
        "data.batch_size",  # paper silent
    ]
    for d in found:
        assert list(d) == ["setting", "ours", "paper", "why"]
        assert all(isinstance(v, str) and v for v in d.values())
    batch = found[-1]
    assert batch["ours"] == "32" and batch["paper"] == "not stated"
    assert batch["why"].startswith("paper silent, our choice")
    assert found[0]["ours"] == "synthetic phantom films (n = 500, 3.6 % healthy)"
    assert "IMAGENET1K_V2" in found[3]["ours"]


def test_csxa_itself_is_no_departure_and_vgg19_has_one_set_of_imagenet_weights(tmp_path):
    cfg = compose_train_config(
        ["data=csxa", f"data.root={tmp_path}", "model=vgg19", "trainer=cpu", *PAPER_AUGMENT]
    )
    assert settings(cfg) == ["data.split_seed", "normalization", "data.batch_size"]


def test_strict_lists_the_stratified_split_and_the_validation_slice():
    found = by_setting(compose_train_config(["protocol=strict", "trainer=cpu", *PAPER_AUGMENT]))
    assert found["data.stratify"]["ours"] == "true"
    assert found["data.stratify"]["paper"].startswith("false: a plain seeded random split")
    assert found["data.val_fraction"]["ours"] == "0.1"
    assert found["data.val_fraction"]["paper"] == "0: no validation set"
    checkpoint = found["callbacks.model_checkpoint.monitor"]
    assert checkpoint["ours"] == "the epoch with the lowest val/loss is tested"
    assert checkpoint["paper"] == "the last (30th) epoch is tested"
    paper = set(settings(compose_train_config(["trainer=cpu", *PAPER_AUGMENT])))
    assert set(found) - paper == {
        "data.stratify",
        "data.val_fraction",
        "callbacks.model_checkpoint.monitor",
    }


def test_a_validation_slice_under_the_papers_protocol_is_listed_but_selects_nothing():
    found = by_setting(compose_train_config(["data.val_fraction=0.2"]))
    assert found["data.val_fraction"]["ours"] == "0.2"
    assert "callbacks.model_checkpoint.monitor" not in found  # the last epoch is still tested


def test_a_changed_value_is_listed_with_ours_and_the_papers():
    found = by_setting(
        compose_train_config(
            ["model.optimizer.lr=1e-3", "model.scheduler.step_size=10", "trainer.max_epochs=5"]
        )
    )
    assert found["model.optimizer.lr"]["ours"] == "0.001"
    assert found["model.optimizer.lr"]["paper"] == "0.0003"
    assert found["model.scheduler.step_size"]["ours"] == "10"
    assert found["model.scheduler.step_size"]["paper"] == "5 epochs"
    assert (found["trainer.max_epochs"]["ours"], found["trainer.max_epochs"]["paper"]) == (
        "5",
        "30",
    )
    assert "model.scheduler.gamma" not in found


def test_the_demo_lists_its_small_scale():
    found = by_setting(compose_train_config(["experiment=demo", *PAPER_AUGMENT]))
    assert found["image_size"]["ours"] == "64"
    assert found["model.pretrained"]["ours"] == "none"
    assert found["trainer.max_epochs"]["ours"] == "6"
    assert found["data"]["ours"] == (
        "synthetic phantom films (n = 300, 50.0 % healthy, effect planted)"
    )


def test_variant_specific_departures():
    colored_wide = by_setting(compose_train_config(["+variant=colored_wide_cropped"]))
    assert colored_wide["evaluation of color=enhanced"]["ours"].startswith(
        "each test film scored once: the two channel orders' probabilities averaged"
    )
    assert "+ 100 px above and below, + 50 px left and right" in colored_wide["crop=wide"]["ours"]
    assert "crop.margin_x" not in colored_wide  # the default margins are our reading
    original = settings(compose_train_config(["+variant=original"]))
    assert "evaluation of color=enhanced" not in original and "crop=wide" not in original
    one_order = by_setting(compose_train_config(["+variant=colored", "color.orders=gray_eq_inv"]))
    assert one_order["color.orders"]["ours"] == "gray_eq_inv"
    assert "evaluation of color=enhanced" not in one_order
    tight = by_setting(compose_train_config(["+variant=cropped", "crop.margin_x=20"]))
    assert (tight["crop.margin_x"]["ours"], tight["crop.margin_x"]["paper"][:1]) == ("20", "0")


def test_augmentation_and_balance_departures():
    found = by_setting(
        compose_train_config(
            ["augment.border_mode=reflect", "++augment.interpolation=bilinear", "balance=none"]
        )
    )
    assert found["augment.border_mode"]["ours"] == "reflect"
    assert found["augment.border_mode"]["paper"].startswith("constant")
    assert found["augment.interpolation"]["ours"] == "bilinear"
    assert found["balance"]["ours"] == "NoBalancing"
    assert "normalization" not in found  # no synthetic films to leave out
    none = by_setting(compose_train_config(["augment=none"]))
    assert none["augment"]["ours"] == "NoAugmentation"
    assert not any(s.startswith("augment.") for s in none)


def test_distributed_batch_size_and_mixed_precision_are_named():
    found = by_setting(compose_train_config(["trainer=ddp", "trainer.precision=bf16-mixed"]))
    assert found["data.batch_size"]["ours"] == "32 per process, 64 in all (2 processes)"
    assert found["trainer.precision"]["ours"] == "bf16-mixed"


def test_departures_is_pure_and_reads_a_plain_dict_too():
    cfg = compose_train_config(["protocol=strict", "trainer=cpu"])
    before = OmegaConf.to_yaml(cfg)
    listed = departures(cfg)
    assert OmegaConf.to_yaml(cfg) == before
    assert departures(OmegaConf.to_container(cfg)) == listed
    assert departures(cfg) == listed
