"""Where a run departs from the paper's method, value by value (Reddy et al.; README "Two
protocols").

`departures(cfg)` reads a composed train config (conf/train.yaml) and lists every setting whose
value is not the paper's, and every choice the paper leaves open that we had to make. Training
records the list in metrics.json and the report prints it beside the results. Pure: a config
in, a list out; no data, no files, no network.

Each item is a dict of four strings, always in this order (the report's columns):
``setting`` (the config key to change, or what is meant), ``ours`` (this run's value),
``paper`` (the paper's value, or "not stated" where it is silent) and ``why`` (what the
difference changes, in a few words).

Two kinds of entries, both plain data:
- ``ValueCheck``: one config key against the paper's value(s);
- a small function per departure that is not one key equal to one value (the phantom
  data, the checkpoint selection, the test-time averaging of the channel orders ...).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass

from omegaconf import DictConfig, OmegaConf

NOT_STATED = "not stated"
SILENT = "paper silent, our choice: "
_ABSENT = object()

SMOTE = "csxa_lightning.data.balance.SMOTEBalancing"
PAPER_AUGMENT = "csxa_lightning.data.augment.PaperAugmentation"
# What the augmentation did before its config named these settings (bilinear rotations, a
# reflected border, no zoom): used only when neither the config nor the class names them.
_LEGACY_AUGMENT = {"interpolation": "bilinear", "border_mode": "reflect", "scale_limit": 0.0}


def _get(cfg: DictConfig, key: str, default=None):
    value = OmegaConf.select(cfg, key, default=_ABSENT)
    return default if value is _ABSENT else value


def _text(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _same(ours, paper) -> bool:
    options = paper if isinstance(paper, tuple) else (paper,)
    for option in options:
        numbers = all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in (ours, option)
        )
        if numbers and math.isclose(ours, option, rel_tol=1e-9, abs_tol=1e-12):
            return True
        if not numbers and ours == option:
            return True
    return False


def _short(target: str | None) -> str:
    return str(target).rsplit(".", 1)[-1] if target else "none"


def _folds(cfg: DictConfig) -> int:
    return int(_get(cfg, "cv.folds", 0) or 0)


def _is(key: str, value) -> Callable[[DictConfig], bool]:
    return lambda cfg: _get(cfg, key) == value


def _single_split(cfg: DictConfig) -> bool:
    return _folds(cfg) < 2


def _paper_augmentation(cfg: DictConfig) -> bool:
    return _get(cfg, "augment._target_") == PAPER_AUGMENT


def _augment_value(cfg: DictConfig, name: str):
    """augment.<name>: the config's value, else the augmentation class's own default, else
    what the augmentation did before the setting existed."""
    value = _get(cfg, f"augment.{name}", _ABSENT)
    if value is not _ABSENT:
        return value
    try:
        from hydra.utils import get_class

        parameter = inspect.signature(get_class(_get(cfg, "augment._target_"))).parameters.get(name)
    except Exception:  # noqa: BLE001  (an unknown class: fall back to the known behaviour)
        parameter = None
    if parameter is not None and parameter.default is not inspect.Parameter.empty:
        return parameter.default
    return _LEGACY_AUGMENT.get(name)


@dataclass(frozen=True)
class ValueCheck:
    """One config key against the paper's value (a tuple: any of them agrees with the paper).
    applies: whether the key means something in this run (k_neighbors only with SMOTE ...);
    absent: our value when the config does not have the key."""

    setting: str
    paper: object
    paper_text: str
    why: str
    applies: Callable[[DictConfig], bool] = lambda cfg: True
    absent: object = None
    value: Callable[[DictConfig], object] | None = None  # computes ours instead of reading it

    def __call__(self, cfg: DictConfig) -> dict | None:
        if not self.applies(cfg):
            return None
        ours = self.value(cfg) if self.value else _get(cfg, self.setting, self.absent)
        if _same(ours, self.paper):
            return None
        return item(self.setting, _text(ours), self.paper_text, self.why)


def item(setting: str, ours: str, paper: str, why: str) -> dict:
    return {"setting": setting, "ours": ours, "paper": paper, "why": why}


def _augment_check(name: str, paper, paper_text: str, why: str) -> ValueCheck:
    return ValueCheck(
        f"augment.{name}",
        paper,
        paper_text,
        why,
        applies=_paper_augmentation,
        value=lambda cfg: _augment_value(cfg, name),
    )


# --- departures that are not one key against one value (used in CHECKS below) -------------


def _phantom(cfg: DictConfig) -> dict | None:
    phantom = _get(cfg, "data.phantom")
    if phantom is None:
        return None
    n = phantom.get("n", "?")
    healthy = phantom.get("healthy_fraction")
    share = f", {100 * healthy:.1f} % healthy" if isinstance(healthy, int | float) else ""
    effect = phantom.get("effect", "natural")
    planted = "" if effect == "natural" else f", effect {effect}"
    return item(
        "data",
        f"synthetic phantom films (n = {n}{share}{planted})",
        "CSXA: 4963 films, 181 healthy",
        "the numbers say nothing about CSXA",
    )


def _split_seed(cfg: DictConfig) -> dict | None:
    if not _single_split(cfg):
        return None
    return item(
        "data.split_seed",
        _text(_get(cfg, "data.split_seed")),
        "not published (its test set: 47 healthy + 1194 diseased films)",
        "which films are tested is not the paper's: compare results by distribution, not "
        "film by film",
    )


def _batch_size(cfg: DictConfig) -> dict | None:
    size = _get(cfg, "data.batch_size")
    devices, nodes = _get(cfg, "trainer.devices", 1), _get(cfg, "trainer.num_nodes", 1) or 1
    distributed = str(_get(cfg, "trainer.strategy", "auto")).startswith("ddp")
    ours = _text(size)
    if distributed and isinstance(devices, int) and isinstance(size, int) and devices * nodes > 1:
        ours += f" per process, {size * devices * nodes} in all ({devices * nodes} processes)"
    return item(
        "data.batch_size",
        ours,
        NOT_STATED,
        SILENT + "sets the optimizer steps per epoch and the gradient noise",
    )


def _checkpoint(cfg: DictConfig) -> dict | None:
    monitor = _get(cfg, "callbacks.model_checkpoint.monitor")
    if not (_get(cfg, "data.val_fraction", 0) or 0) > 0 or not monitor:
        return None
    mode = _get(cfg, "callbacks.model_checkpoint.mode", "min")
    best = "lowest" if mode == "min" else "highest"
    return item(
        "callbacks.model_checkpoint.monitor",
        f"the epoch with the {best} {monitor} is tested",
        "the last (30th) epoch is tested",
        "the tested model is chosen on held-out films, not fixed in advance",
    )


def _normalization(cfg: DictConfig) -> dict | None:
    if _short(_get(cfg, "balance._target_")) not in ("SMOTEBalancing", "RandomOversampling"):
        return None
    return item(
        "normalization",
        "per-channel mean and std of the real training films (synthetic ones left out)",
        "of the training images (whether SMOTE's synthetic films count: not stated)",
        SILENT + "the synthetic healthy films would shift the statistics slightly",
    )


def _test_time_averaging(cfg: DictConfig) -> dict | None:
    if _get(cfg, "color.name") != "enhanced" or _get(cfg, "color.orders") != "both":
        return None
    return item(
        "evaluation of color=enhanced",
        "each test film scored once: the two channel orders' probabilities averaged",
        "not stated (two files per film; its test set counts 1241 films)",
        SILENT + "one score per film keeps the test set at one item per patient film",
    )


def _wide_crop_reading(cfg: DictConfig) -> dict | None:
    if _get(cfg, "crop.name") != "wide":
        return None
    margin_x, margin_y = _get(cfg, "crop.margin_x"), _get(cfg, "crop.margin_y")
    return item(
        "crop=wide",
        f"the landmark box + {_text(margin_y)} px above and below, + {_text(margin_x)} px "
        "left and right, clipped at the film's border",
        "enlarged by up to 200 px vertically and 100 px horizontally (per side or in all: "
        "not stated)",
        SILENT + "read as the total; read per side, the margins would be twice ours",
    )


def _imagenet_weights(cfg: DictConfig) -> dict | None:
    if _get(cfg, "model.pretrained") != "imagenet" or _get(cfg, "model.weights_path"):
        return None
    from csxa_lightning.models.backbones import arch_weights

    weights = arch_weights(str(_get(cfg, "model.arch")))
    if weights is None or len(weights) < 2:
        return None  # one set of ImageNet weights: nothing to choose
    return item(
        "model.pretrained",
        f"torchvision's DEFAULT ImageNet weights, {weights.DEFAULT.name} (of "
        f"{', '.join(w.name for w in weights)})",
        "ImageNet (which weights: not stated)",
        SILENT + "the starting weights differ between torchvision's versions",
    )


def _precision(cfg: DictConfig) -> dict | None:
    precision = str(_get(cfg, "trainer.precision", "32-true"))
    if precision in ("32", "32-true"):
        return None
    return item(
        "trainer.precision",
        precision,
        "not stated (PyTorch's default: 32-bit float)",
        SILENT + "mixed precision is faster; rounding differs slightly",
    )


# One ordered table: the report lists the departures in this order.
CHECKS: tuple[Callable[[DictConfig], dict | None], ...] = (
    # --- data and split ----------------------------------------------------------------------
    _phantom,
    _split_seed,
    ValueCheck(
        "cv.folds",
        0,
        "one 75/25 split (its Table 1 caption speaks of a paired t-test across folds)",
        "k stratified folds: every film is tested once; results pair up across folds",
    ),
    ValueCheck(
        "data.test_fraction",
        0.25,
        "0.25 (1241 of 4963 films tested)",
        "another test-set size: fewer or more films scored, wider or narrower intervals",
        applies=_single_split,
    ),
    ValueCheck(
        "data.stratify",
        False,
        "false: a plain seeded random split (its test set: 47 healthy of 1241)",
        "a stratified split tests 45 of CSXA's 181 healthy films whatever the seed; the "
        "paper's test set is not reproduced",
        applies=_single_split,
    ),
    ValueCheck(
        "data.val_fraction",
        0,
        "0: no validation set",
        "that share of the training films is held out: the model trains on fewer films",
        absent=0,
    ),
    _checkpoint,
    # --- preprocessing -----------------------------------------------------------------------
    ValueCheck(
        "crop.size",
        500,
        "500 (a 500 x 500 center crop)",
        "the base crop keeps more or less of the film's border, labels and footnotes",
        applies=_is("crop.name", "none"),
    ),
    ValueCheck(
        "crop.margin_x",
        0,
        "0 (the landmarks' bounding box as is)",
        "the tight crop keeps more of the neck than the paper's",
        applies=_is("crop.name", "tight"),
    ),
    ValueCheck(
        "crop.margin_y",
        0,
        "0 (the landmarks' bounding box as is)",
        "the tight crop keeps more of the neck than the paper's",
        applies=_is("crop.name", "tight"),
    ),
    ValueCheck(
        "crop.margin_x",
        50,
        "up to 100 px horizontally in all (read: 50 px each side)",
        "a wider or narrower box than the paper's wide crop",
        applies=_is("crop.name", "wide"),
    ),
    ValueCheck(
        "crop.margin_y",
        100,
        "up to 200 px vertically in all (read: 100 px above and below)",
        "a taller or shorter box than the paper's wide crop",
        applies=_is("crop.name", "wide"),
    ),
    _wide_crop_reading,
    ValueCheck(
        "color.orders",
        "both",
        "both channel orders (two files per film)",
        "one order: half the training samples, and no averaging at test time",
        applies=_is("color.name", "enhanced"),
    ),
    _test_time_averaging,
    ValueCheck(
        "image_size",
        224,
        "224 x 224",
        "the network sees coarser or finer detail than the paper's",
    ),
    # --- class balance and normalization -----------------------------------------------------
    ValueCheck(
        "balance",
        "SMOTEBalancing",
        "SMOTE on the training films until the classes are equal",
        "another answer to 181 healthy vs 4782 diseased films changes what the model favours",
        value=lambda cfg: _short(_get(cfg, "balance._target_")),
    ),
    ValueCheck(
        "balance.k_neighbors",
        5,
        "not stated (imbalanced-learn's default: 5)",
        "SMOTE interpolates between more or fewer healthy neighbours",
        applies=_is("balance._target_", SMOTE),
    ),
    _normalization,
    # --- augmentation (training only) --------------------------------------------------------
    ValueCheck(
        "augment",
        "PaperAugmentation",
        "flips (p = 0.5 each), then rotations U(-20, 20) and U(-60, 60) degrees",
        "other training-time augmentation: a different training distribution",
        value=lambda cfg: _short(_get(cfg, "augment._target_")),
    ),
    _augment_check("hflip_p", 0.5, "0.5", "flips more or less often than the paper's"),
    _augment_check("vflip_p", 0.5, "0.5", "flips more or less often than the paper's"),
    _augment_check("first_rotation", 20.0, "20 (U(-20, 20) degrees)", "other rotation angles"),
    _augment_check("second_rotation", 60.0, "60 (U(-60, 60) degrees)", "other rotation angles"),
    _augment_check(
        "interpolation",
        "nearest",
        "nearest (torchvision RandomRotation's default; the paper's wording is PyTorch's)",
        "rotated films are resampled smoother (or blockier) than the paper's",
    ),
    _augment_check(
        "border_mode",
        "constant",
        "constant, filled with 0 (torchvision RandomRotation's default)",
        "the corners uncovered by a rotation show film content instead of black",
    ),
    _augment_check(
        "scale_limit",
        0.0,
        "none in the Methods (Figure 1's caption names scaling)",
        "random zoom adds a transformation the Methods do not describe",
    ),
    # --- model and training ------------------------------------------------------------------
    ValueCheck(
        "model.arch",
        ("resnet50", "vgg19"),
        "resnet50 or vgg19",
        "another network than the paper's",
    ),
    ValueCheck(
        "model.pretrained",
        "imagenet",
        "imagenet (pre-trained on ImageNet)",
        "training from scratch: not the paper's transfer learning; results are far lower",
    ),
    _imagenet_weights,
    ValueCheck(
        "model.weights_path",
        None,
        "torchvision's ImageNet weights",
        "the starting weights are a file of ours, not torchvision's ImageNet ones",
    ),
    ValueCheck(
        "model.optimizer._target_",
        "torch.optim.Adam",
        "torch.optim.Adam",
        "another optimizer",
    ),
    ValueCheck(
        "model.optimizer.lr",
        3e-4,
        "0.0003",
        "another learning rate: the paper's training is not reproduced",
    ),
    ValueCheck(
        "model.optimizer.weight_decay",
        0,
        "not stated (Adam's default: 0)",
        "weight decay regularises the weights the paper's training did not",
        absent=0,
    ),
    ValueCheck(
        "model.scheduler._target_",
        "torch.optim.lr_scheduler.StepLR",
        "torch.optim.lr_scheduler.StepLR (rate halved every 5 epochs)",
        "another learning-rate schedule",
    ),
    ValueCheck(
        "model.scheduler.step_size",
        5,
        "5 epochs",
        "the rate is halved at other epochs",
        applies=lambda cfg: _get(cfg, "model.scheduler") is not None,
    ),
    ValueCheck(
        "model.scheduler.gamma",
        0.5,
        "0.5",
        "the rate falls faster or slower",
        applies=lambda cfg: _get(cfg, "model.scheduler") is not None,
    ),
    ValueCheck(
        "trainer.max_epochs",
        30,
        "30",
        "fewer or more epochs than the paper's, and the tested model is another epoch's",
    ),
    _batch_size,
    _precision,
    ValueCheck(
        "threshold",
        0.5,
        "0.5 (the larger of the two softmax outputs)",
        "the decision threshold is chosen on the validation slice: every threshold metric "
        "is read at another point of the ROC curve",
        absent=0.5,
    ),
    ValueCheck(
        "calibrate",
        "none",
        "none (the softmax output as it is)",
        "probabilities are temperature-scaled on the validation slice: calls at a fixed "
        "threshold, and calibration, differ from the uncalibrated model's",
        absent="none",
    ),
)


def departures(cfg: DictConfig | dict) -> list[dict]:
    """Every departure of this run's config from the paper's method, in CHECKS' order: the
    data and the split, preprocessing, balance, augmentation, model and training. Each:
    {"setting", "ours", "paper", "why"}, all strings."""
    if not isinstance(cfg, DictConfig):
        cfg = OmegaConf.create(cfg)
    return [d for d in (check(cfg) for check in CHECKS) if d is not None]
