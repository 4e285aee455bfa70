"""Impossible config values, found before any data is read and reported together; and sweeps
whose variants would be the same run, found before the first job starts.

Hydra already refuses unknown groups and options (`crop=huge` lists the available crops) and
unknown keys (`data.test_fractoin=...`); what it cannot know is that a fraction must lie in
0..1 or a probability in [0, 1]. Each rule names the key, what it must be, and an example of
a valid override, so that the message is the fix.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from numbers import Real

from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.types import Override
from hydra.types import RunMode
from lightning.pytorch.plugins.environments import SLURMEnvironment
from omegaconf import DictConfig, OmegaConf

from csxa_lightning.config.task_checks import task_problems
from csxa_lightning.data.augment import BORDER_MODES, INTERPOLATIONS
from csxa_lightning.data.balance import MIN_K_NEIGHBORS, MIN_MEMORY_BUDGET_MB
from csxa_lightning.data.cache import ON_BAD_FILE
from csxa_lightning.data.datamodule import AUGMENT_ON
from csxa_lightning.data.images import BIT_DEPTHS
from csxa_lightning.data.transforms import ENHANCED_ORDERS
from csxa_lightning.inference.scoring import TTA_CHOICES
from csxa_lightning.metrics.ensembles import ENSEMBLE_METHODS
from csxa_lightning.phantom.anatomy import EFFECTS
from csxa_lightning.training.decision import DecisionSettings
from csxa_lightning.utils.errors import ConfigValueError

_ABSENT = object()


def _number(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _integer(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# numpy's, torch's and Lightning's seed range: seed=-1 used to end in numpy's traceback.
SEED_MAX = 2**32 - 1
SEED_REQUIREMENT = f"an integer in 0..{SEED_MAX}"


def _seed(value) -> bool:
    return _integer(value) and 0 <= value <= SEED_MAX


def _probability(value) -> bool:
    return _number(value) and 0 <= value <= 1


def one_of(names) -> str:
    """'a, b or c' from the allowed values a class declares (in their order)."""
    names = list(names)
    return ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else names[0]


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
    Rule(
        "data.phantom.effect",
        lambda v: v in EFFECTS,
        "natural, planted or none (what the phantom's films show of their labels)",
        "natural",
    ),
    Rule(
        "data.batch_size",
        lambda v: _integer(v) and v >= 2,
        "an integer >= 2 (BatchNorm cannot train on batches of one sample)",
        "32",
    ),
    Rule("data.num_workers", lambda v: _integer(v) and v >= 0, "an integer >= 0", "4"),
    Rule(
        "data.preprocess_workers",
        lambda v: v is None or (_integer(v) and v >= 1),
        "null (all cores) or an integer >= 1",
        "null",
    ),
    Rule(
        "data.on_bad_file",
        lambda v: v in ON_BAD_FILE,
        "stop (list every unusable file and stop) or skip (leave them out, list them)",
        "skip",
    ),
    Rule(
        "data.augment_on",
        lambda v: v in AUGMENT_ON,
        "auto (device on CUDA), loader (per image, in the loader) or device (batched, on the GPU)",
        "auto",
    ),
    Rule(
        "data.bit_depth",
        lambda v: v == "auto" or (_integer(v) and v in BIT_DEPTHS),
        f"auto or one of {', '.join(map(str, BIT_DEPTHS))} (the bits 16-bit films really hold)",
        "auto",
    ),
    Rule(
        "data.min_size",
        lambda v: _integer(v) and v >= 1,
        "an integer >= 1 (pixels a side below which a film is unusable)",
        "64",
    ),
    Rule(
        "data.max_pixels",
        lambda v: _integer(v) and v >= 1,
        "an integer >= 1 (pixels above which a film is refused undecoded)",
        "100000000",
    ),
    Rule(
        "data.max_join_disagreement",
        lambda v: _number(v) and 0 <= v <= 1,
        "a number in [0, 1] (the share of joined cases whose sheet age or gender may disagree "
        "with the file name; 1 = no check)",
        "0.1",
    ),
    Rule("data.split_seed", _seed, SEED_REQUIREMENT, "42"),
    Rule("seed", _seed, SEED_REQUIREMENT, "42"),
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
        lambda v: v in ("both", *ENHANCED_ORDERS),
        one_of(("both", *ENHANCED_ORDERS)),
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
        lambda v: v in BORDER_MODES,
        one_of(BORDER_MODES),
        next(iter(BORDER_MODES)),
    ),
    Rule(
        "augment.interpolation",
        lambda v: v in INTERPOLATIONS,
        one_of(INTERPOLATIONS),
        next(iter(INTERPOLATIONS)),
    ),
    Rule(
        "augment.scale_limit",
        lambda v: _number(v) and 0 <= v < 1,
        "a number in [0, 1) (the zoom is U(1 - s, 1 + s); 0 = no scaling)",
        "0.1",
    ),
    Rule(
        "data.stratify",
        lambda v: isinstance(v, bool),
        "true or false (a stratified split, or a plain seeded random one as the paper's)",
        "false",
    ),
    Rule(
        "balance.k_neighbors",
        lambda v: _integer(v) and v >= MIN_K_NEIGHBORS,
        f"an integer >= {MIN_K_NEIGHBORS}",
        "5",
    ),
    Rule(
        "balance.memory_budget_mb",
        lambda v: _integer(v) and v >= MIN_MEMORY_BUDGET_MB,
        f"an integer >= {MIN_MEMORY_BUDGET_MB} (MiB)",
        "512",
    ),
    Rule("model.optimizer.lr", lambda v: _number(v) and v > 0, "a number > 0", "3.0e-4"),
    Rule("model.scheduler.step_size", lambda v: _integer(v) and v >= 1, "an integer >= 1", "5"),
    Rule("model.scheduler.gamma", lambda v: _number(v) and 0 < v <= 1, "a number in (0, 1]", "0.5"),
    Rule("trainer.max_epochs", lambda v: _integer(v) and v >= 1, "an integer >= 1", "30"),
    Rule(
        "run_lock.stale_after_hours",
        lambda v: _number(v) and v > 0,
        "a number > 0 (hours before a lock held from another host is taken over)",
        "48",
    ),
)


# The scoring commands' own keys (predict, evaluate): one rule each, shared by both. Their
# thresholds: predict takes a fixed probability, evaluate also a rule (thresholds.parse_rule).
SCORING_RULES = (
    Rule("batch_size", lambda v: _integer(v) and v >= 1, "an integer >= 1 (films at once)", "32"),
    Rule("num_workers", lambda v: _integer(v) and v >= 0, "an integer >= 0", "4"),
    Rule("seed", lambda v: v is None or _seed(v), f"null or {SEED_REQUIREMENT}", "0"),
    Rule("subgroup_min_count", lambda v: _integer(v) and v >= 1, "an integer >= 1", "10"),
    Rule("ensemble", lambda v: v in ENSEMBLE_METHODS, one_of(ENSEMBLE_METHODS), "mean"),
    Rule("tta", lambda v: v in TTA_CHOICES, one_of(TTA_CHOICES), "flip"),
)
PREDICT_RULES = (
    *SCORING_RULES,
    Rule(
        "threshold",
        lambda v: v is None or _probability(v),
        "null (the checkpoint's) or a probability between 0 and 1 (a film is called diseased "
        "when its probability reaches it)",
        "0.5",
    ),
)


def value_problems(cfg: DictConfig, rules: Sequence[Rule]) -> list[str]:
    """One line per impossible value of the keys rules name that cfg has."""
    problems = []
    for rule in rules:
        value = OmegaConf.select(cfg, rule.key, default=_ABSENT)
        if value is _ABSENT or isinstance(value, DictConfig):
            continue  # not part of this config (e.g. crop.size of a keypoint crop)
        if not rule.valid(value):
            problems.append(
                f"{rule.key}={value!r}: must be {rule.requirement}; e.g. {rule.key}={rule.example}"
            )
    return problems


def check_values(cfg: DictConfig, rules: Sequence[Rule]) -> None:
    """ConfigValueError listing every impossible value (a command's own keys), before any
    work: predict and evaluate call it with their rules."""
    raise_problems(value_problems(cfg, rules))


# The callbacks every training run needs, and why (conf/callbacks/none.yaml keeps them all).
REQUIRED_CALLBACKS = {
    "model_checkpoint": "train tests the selected epoch's checkpoint and resumes from last.ckpt",
    "seed_each_epoch": "without it a resumed run draws other dropout masks than one that never "
    "stopped, and ends differently",
}


def callback_problems(cfg: DictConfig) -> list[str]:
    callbacks = cfg.get("callbacks")
    if callbacks is None:
        return []  # not a training config
    return [
        f"callbacks.{name} is missing: {why}. Keep it in your callbacks list (conf/callbacks/"
        f"default.yaml and none.yaml include it), e.g. callbacks=none for no extras"
        for name, why in REQUIRED_CALLBACKS.items()
        if name not in callbacks
    ]


def config_problems(cfg: DictConfig) -> list[str]:
    """One line per impossible value: `key=value: must be ...; e.g. key=example`."""
    problems = value_problems(cfg, RULES) + callback_problems(cfg) + task_problems(cfg)
    if "threshold" in cfg or "calibrate" in cfg:
        val_fraction = OmegaConf.select(cfg, "data.val_fraction", default=0)
        has_validation = _number(val_fraction) and val_fraction > 0
        problems += DecisionSettings.from_config(cfg).problems(has_validation)
    folds, fold = OmegaConf.select(cfg, "cv.folds"), OmegaConf.select(cfg, "cv.fold")
    if _integer(folds) and folds >= 2 and not (_integer(fold) and 0 <= fold < folds):
        problems.append(
            f"cv.fold={fold!r}: must be an integer in 0..{folds - 1} (cv.folds={folds}); "
            "e.g. cv.fold=0"
        )
    return problems


def ddp_launch_problem(cfg: DictConfig) -> str | None:
    """Several processes per run inside a local --multirun cannot work: Lightning starts the
    extra processes with the run folder of a single run, not the sweep job's."""
    trainer = cfg.get("trainer")
    if trainer is None:
        return None
    several = str(trainer.get("devices", 1)) not in ("1", "None") or trainer.get(
        "num_nodes", 1
    ) not in (1, None)
    distributed = str(trainer.get("strategy", "auto")).startswith("ddp")
    multirun = HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
    if several and distributed and multirun and not SLURMEnvironment.detect():
        return (
            f"trainer.strategy={trainer.strategy} with trainer.devices={trainer.devices} inside "
            "a --multirun on one machine: Lightning would start the extra processes in the "
            "wrong folder. Train each variant as a single run (python -m csxa_lightning.train "
            "+variant=... trainer=ddp), or sweep with launcher=slurm, where SLURM starts one "
            "task per GPU."
        )
    return None


def check_config(cfg: DictConfig) -> None:
    """Raise ConfigValueError listing every impossible value, before anything is read; then
    the launch check (ddp_launch_problem), whose message stands alone."""
    problems = config_problems(cfg)
    launch = ddp_launch_problem(cfg)
    if launch and not problems:
        raise ConfigValueError(launch)
    raise_problems(problems)


def raise_problems(problems: list[str]) -> None:
    if len(problems) == 1:
        raise ConfigValueError(f"impossible config value {problems[0]}")
    if problems:
        listed = "\n  ".join(problems)
        raise ConfigValueError(f"{len(problems)} impossible config values:\n  {listed}")


# --- the variants of one sweep must be different runs ------------------------------------------

# The config group of the paper's variants (conf/variant/), swept as +variant=a,b,...
VARIANT_GROUP = "variant"
# The sweeper whose jobs sweep_jobs reproduces (Hydra's default, the only one the project uses).
BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"

# compose(config_name, overrides) -> the job's config without the hydra node: hydra.compose
ComposeFn = Callable[[str | None, list[str]], DictConfig]


def check_sweep_variants(config: DictConfig, config_name: str | None, compose: ComposeFn) -> None:
    """Refuse a --multirun in which two +variant values compose to one config (ConfigValueError
    naming them and the override that made them equal), before any job starts.

    A variant file sets the crop and color (and original_vgg19 the model); a sweep-wide
    override of what a variant sets silently replaces it -- `crop=tight` turns Original into a
    second Cropped, `model=vgg19` Original into a second Original (VGG19) -- and the report
    would show one run twice, each compared with itself. config is the sweep's own config
    (hydra node included: its sweeper params and command-line overrides), as Hydra gives it to
    a callback's on_multirun_start. Every job is composed once more here: a fraction of a
    second each, which Hydra's own check of the jobs also spends."""
    sweeper = config.hydra.sweeper
    if sweeper.get("_target_") != BASIC_SWEEPER:
        return  # another sweeper chooses its own jobs: nothing to reproduce
    arguments = [f"{key}={value}" for key, value in (sweeper.get("params") or {}).items()]
    arguments += list(config.hydra.overrides.task)
    jobs = sweep_jobs(parse_overrides(arguments))
    collapses: list[tuple[list[str], list[str]]] = []
    seen: set[tuple[str, ...]] = set()
    for rest, variants in jobs_by_variant(jobs).items():
        if len(variants) < 2:
            continue
        configs = {v: run_identity(compose(config_name, [*rest, v])) for v in variants}
        for same in collapsed_variants(configs):
            if tuple(same) in seen:
                continue  # the same pair again under another seed or fold
            seen.add(tuple(same))
            collapses.append((culprits(config_name, list(rest), same[:2], compose), same))
    if collapses:
        raise ConfigValueError(collapse_message(collapses))


def parse_overrides(arguments: list[str]) -> list[Override]:
    """Command-line overrides as Hydra parses them (glob() sweeps need the config loader)."""
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser

    hydra = GlobalHydra.instance()
    loader = hydra.config_loader() if hydra.is_initialized() else None
    return OverridesParser.create(config_loader=loader).parse_overrides(arguments)


def culprits(
    config_name: str | None, rest: list[str], pair: list[str], compose: ComposeFn
) -> list[str]:
    """The overrides without which the two variant overrides of pair compose to different
    configs (tried one at a time; an override that cannot be left out is not blamed)."""
    found = []
    for i, override in enumerate(rest):
        without = rest[:i] + rest[i + 1 :]
        try:
            first, second = (run_identity(compose(config_name, [*without, v])) for v in pair)
        except Exception:  # noqa: BLE001  (other overrides need it: e.g. data.root needs data=)
            continue
        if first != second:
            found.append(override)
    return found


# Pure functions: the jobs of a sweep, the variants that coincide, the message.


def sweep_jobs(overrides: Sequence[Override]) -> list[list[str]]:
    """The override lists of the jobs Hydra's basic sweeper launches: every combination of the
    values of the swept keys (a later override of a key replaces an earlier one, in place)."""
    choices: dict[str, list[str]] = {}
    for override in overrides:
        key = override.get_key_element()
        if override.is_sweep_override():
            if not override.is_discrete_sweep():
                return []  # an interval: the basic sweeper refuses it with its own message
            choices[key] = [f"{key}={value}" for value in override.sweep_string_iterator()]
        else:
            choices[key] = [f"{key}={override.get_value_element_as_str()}"]
    return [list(job) for job in itertools.product(*choices.values())]


def jobs_by_variant(jobs: list[list[str]]) -> dict[tuple[str, ...], list[str]]:
    """{the job's other overrides: its variant overrides (+variant=...)}: the jobs that must
    differ from one another are the variants of one combination of everything else."""
    grouped: dict[tuple[str, ...], list[str]] = {}
    for job in jobs:
        variant = [o for o in job if o.lstrip("+~").split("=", 1)[0] == VARIANT_GROUP]
        if len(variant) != 1:
            continue  # no variant in this sweep
        rest = tuple(o for o in job if o not in variant)
        grouped.setdefault(rest, []).append(variant[0])
    return grouped


def run_identity(config: DictConfig) -> str:
    """What a run is: its config (unresolved, so that run-folder paths do not differ), without
    the variant's own name and baseline marker, which differ by construction."""
    content = OmegaConf.to_container(config, resolve=False)
    content.pop(VARIANT_GROUP, None)
    content.pop("hydra", None)
    return json.dumps(content, sort_keys=True, default=str)


def collapsed_variants(identities: dict[str, str]) -> list[list[str]]:
    """Sets (in sweep order) of the variant overrides whose runs are identical."""
    groups: dict[str, list[str]] = {}
    for variant, identity in identities.items():
        groups.setdefault(identity, []).append(variant)
    return [group for group in groups.values() if len(group) > 1]


def collapse_message(collapses: list[tuple[list[str], list[str]]]) -> str:
    """One line per set of identical variants, then what to do."""
    lines = []
    for blamed, variants in collapses:
        named = ", ".join(variants[:-1]) + f" and {variants[-1]}"
        if blamed:
            verb = "makes" if len(blamed) == 1 else "make"
            cause = f"{' and '.join(blamed)} {verb}"
        else:
            cause = "the variant files alone make"
        lines.append(f"{cause} {named} the same run")
    if any(blamed for blamed, _ in collapses):
        what = "Leave that override out of the sweep, or sweep only one of those variants"
    else:
        what = "Give each variant file (conf/variant/) its own settings"
    fix = (
        f"Nothing was trained: the report would compare a run with itself. {what} (the "
        "variants set crop and color and take the sweep's model; original_vgg19 pins VGG19)."
    )
    if len(lines) == 1:
        return f"{lines[0]}. {fix}"
    listed = "\n  ".join(lines)
    return f"{len(lines)} sets of variants of this sweep would be the same run:\n  {listed}\n{fix}"
