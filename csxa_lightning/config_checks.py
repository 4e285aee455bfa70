"""Impossible config values, found before any data is read and reported together.

Hydra already refuses unknown groups and options (`crop=huge` lists the available crops) and
unknown keys (`data.test_fractoin=...`); what it cannot know is that a fraction must lie in
0..1 or a probability in [0, 1]. Each rule names the key, what it must be, and an example of
a valid override, so that the message is the fix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from numbers import Real

from omegaconf import DictConfig, OmegaConf

_ABSENT = object()


class ConfigValueError(ValueError):
    """One or more config values no run could use."""


def _number(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _integer(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Rule:
    key: str
    valid: Callable[[object], bool]
    requirement: str
    example: str


RULES = (
    Rule(
        "data.test_fraction",
        lambda v: _number(v) and 0 < v < 1,
        "a number strictly between 0 and 1 (the share of images held out for testing)",
        "0.25",
    ),
    Rule(
        "data.val_fraction",
        lambda v: _number(v) and 0 <= v < 1,
        "a number in [0, 1) (the share of the training images kept for validation; 0 = none)",
        "0.1",
    ),
    Rule(
        "data.phantom.healthy_fraction",
        lambda v: _number(v) and 0 < v < 1,
        "a number strictly between 0 and 1 (the share of healthy films in the phantom set)",
        "0.036470",
    ),
    Rule("data.phantom.n", lambda v: _integer(v) and v >= 8, "an integer >= 8", "500"),
    Rule("data.batch_size", lambda v: _integer(v) and v >= 1, "an integer >= 1", "32"),
    Rule("data.num_workers", lambda v: _integer(v) and v >= 0, "an integer >= 0", "4"),
    Rule(
        "data.preprocess_workers",
        lambda v: v is None or (_integer(v) and v >= 1),
        "null (all cores) or an integer >= 1",
        "null",
    ),
    Rule(
        "data.on_bad_file",
        lambda v: v in ("stop", "skip"),
        "stop (list every unusable file and stop) or skip (leave them out, list them)",
        "skip",
    ),
    Rule(
        "data.augment_on",
        lambda v: v in ("auto", "loader", "device"),
        "auto (device on CUDA), loader (per image, in the loader) or device (batched, on the GPU)",
        "auto",
    ),
    Rule("data.split_seed", _integer, "an integer", "42"),
    Rule("seed", _integer, "an integer", "42"),
    Rule(
        "cv.folds",
        lambda v: _integer(v) and (v == 0 or v >= 2),
        "0 (one train/test split) or an integer >= 2 (k-fold cross-validation)",
        "5",
    ),
    Rule(
        "image_size",
        lambda v: _integer(v) and v >= 32,
        "an integer >= 32 (pixels per side of the network input; the paper uses 224)",
        "224",
    ),
    Rule("crop.size", lambda v: _integer(v) and v >= 1, "an integer >= 1 (pixels)", "500"),
    Rule("crop.margin_x", lambda v: _number(v) and v >= 0, "a number >= 0 (pixels)", "50"),
    Rule("crop.margin_y", lambda v: _number(v) and v >= 0, "a number >= 0 (pixels)", "100"),
    Rule(
        "color.orders",
        lambda v: v in ("both", "gray_eq_inv", "gray_inv_eq"),
        "both, gray_eq_inv or gray_inv_eq",
        "both",
    ),
    Rule("augment.hflip_p", lambda v: _number(v) and 0 <= v <= 1, "a probability in [0, 1]", "0.5"),
    Rule("augment.vflip_p", lambda v: _number(v) and 0 <= v <= 1, "a probability in [0, 1]", "0.5"),
    Rule(
        "augment.first_rotation",
        lambda v: _number(v) and 0 <= v <= 180,
        "an angle in [0, 180] degrees",
        "20",
    ),
    Rule(
        "augment.second_rotation",
        lambda v: _number(v) and 0 <= v <= 180,
        "an angle in [0, 180] degrees",
        "60",
    ),
    Rule(
        "augment.border_mode",
        lambda v: v in ("reflect", "constant", "replicate"),
        "reflect, constant or replicate",
        "reflect",
    ),
    Rule("balance.k_neighbors", lambda v: _integer(v) and v >= 1, "an integer >= 1", "5"),
    Rule("balance.memory_budget_mb", lambda v: _number(v) and v > 0, "a number > 0", "512"),
    Rule("model.optimizer.lr", lambda v: _number(v) and v > 0, "a number > 0", "3.0e-4"),
    Rule("model.scheduler.step_size", lambda v: _integer(v) and v >= 1, "an integer >= 1", "5"),
    Rule("model.scheduler.gamma", lambda v: _number(v) and 0 < v <= 1, "a number in (0, 1]", "0.5"),
    Rule("trainer.max_epochs", lambda v: _integer(v) and v >= 1, "an integer >= 1", "30"),
)


def config_problems(cfg: DictConfig) -> list[str]:
    """One line per impossible value: `key=value: must be ...; e.g. key=example`."""
    problems = []
    for rule in RULES:
        value = OmegaConf.select(cfg, rule.key, default=_ABSENT)
        if value is _ABSENT or isinstance(value, DictConfig):
            continue  # not part of this config (e.g. crop.size of a keypoint crop)
        if not rule.valid(value):
            problems.append(
                f"{rule.key}={value!r}: must be {rule.requirement}; e.g. {rule.key}={rule.example}"
            )
    folds, fold = OmegaConf.select(cfg, "cv.folds"), OmegaConf.select(cfg, "cv.fold")
    if _integer(folds) and folds >= 2 and not (_integer(fold) and 0 <= fold < folds):
        problems.append(
            f"cv.fold={fold!r}: must be an integer in 0..{folds - 1} (cv.folds={folds}); "
            "e.g. cv.fold=0"
        )
    return problems


def check_config(cfg: DictConfig) -> None:
    """Raise ConfigValueError listing every impossible value, before anything is read."""
    problems = config_problems(cfg)
    if len(problems) == 1:
        raise ConfigValueError(f"impossible config value {problems[0]}")
    if problems:
        listed = "\n  ".join(problems)
        raise ConfigValueError(f"{len(problems)} impossible config values:\n  {listed}")
