"""A run folder: the files training/run.py writes into it, and the report's reading of them.

    split.csv            every image of the run and its split (train/val/test)
    skipped_files.csv    images left out, and why (only when there are some)
    normalization.json   the input normalization computed on the training split
    checkpoints/         Lightning's checkpoints (epochNNN.ckpt, last.ckpt)
    logs/metrics.csv     the per-epoch curves (training/csv_logger.py: kept across a resume)
    predictions.csv      one row per test image (predictions_frame)
    metrics.json         the test metrics and how the run was made; written last: its
                         presence means "finished"
    .hydra/              the config and overrides Hydra saved
    run.lock             while a job trains the folder (runs/lock.py)
    .retraining/         while force=true retrains a finished run: the new run's files, which
                         replace these only once it has finished (runs/retraining.py); never a run

Nothing here trains or plots: training/run.py calls the writers, the report
(results/document.py) and the Grad-CAM section the readers.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from csxa_lightning.config.resolvers import PHANTOM_RESOLVER, SAVED_CONFIG_RESOLVERS
from csxa_lightning.metrics.classification import (
    NonFiniteProbabilityError,
    bootstrap_seed,
    metrics_with_intervals,
)
from csxa_lightning.metrics.paper import PUBLISHED_TABLE1
from csxa_lightning.runs.lock import LOCK_FILE, LockHolder, read_holder
from csxa_lightning.utils.errors import UserError
from csxa_lightning.utils.whole_files import write_text_whole

if TYPE_CHECKING:
    import torch

SPLIT_FILE = "split.csv"
SKIPPED_FILE = "skipped_files.csv"
NORMALIZATION_FILE = "normalization.json"
CHECKPOINT_DIR = "checkpoints"
LAST_CHECKPOINT = "last.ckpt"
PREDICTIONS_FILE = "predictions.csv"
METRICS_FILE = "metrics.json"
HYDRA_DIR = ".hydra"
CONFIG_FILE = "config.yaml"
OVERRIDES_FILE = "overrides.yaml"
LOGS_DIR = "logs"  # conf/logger/csv.yaml's name
STAGING_DIR = ".retraining"  # a forced retraining's run, until it replaces the finished one
# What a training job writes into its folder (a run that fails keeps only its log and .hydra/).
RUN_OUTPUTS = (
    SPLIT_FILE,
    SKIPPED_FILE,
    NORMALIZATION_FILE,
    CHECKPOINT_DIR,
    LOGS_DIR,
    PREDICTIONS_FILE,
    METRICS_FILE,
)


class RunsNotFoundError(UserError, FileNotFoundError):
    """No sweep, or no finished run folder in it, where the report looks."""


class RunFolderError(UserError):
    """A finished run folder whose files cannot be read (damaged, edited, another version)."""


def predictions_frame(
    test_frame: pd.DataFrame, index: torch.Tensor, prob: torch.Tensor, threshold: float = 0.5
) -> pd.DataFrame:
    """One row per test image: case_id, stem, label, prob_diseased, pred."""
    order = index.numpy().argsort()
    rows = test_frame.iloc[index.numpy()[order]]
    prob_np = prob.float().numpy()[order]
    if len(rows) != len(test_frame) or rows.index.duplicated().any():
        raise RuntimeError(
            f"test produced {len(rows)} predictions for {len(test_frame)} images; each test "
            "image must be scored exactly once"
        )
    return pd.DataFrame(
        {
            "case_id": rows["case_id"].to_numpy(),
            "stem": rows["stem"].to_numpy(),
            "label": rows["label"].to_numpy(),
            "prob_diseased": prob_np,
            "pred": (prob_np >= threshold).astype(int),
        }
    )


def write_split(folder: Path, split: pd.DataFrame, skipped: pd.DataFrame) -> None:
    """split.csv, and skipped_files.csv when images were left out."""
    write_text_whole(folder / SPLIT_FILE, split.to_csv(index=False))
    if len(skipped):
        write_text_whole(folder / SKIPPED_FILE, skipped.to_csv(index=False))


def write_run(folder: Path, predictions: pd.DataFrame, metrics: dict) -> Path:
    """predictions.csv, then metrics.json (last: its presence means the run finished); returns
    the path of metrics.json. Each is written whole (whole_files): a job killed meanwhile
    leaves no half metrics.json that would read as a finished run."""
    write_text_whole(folder / PREDICTIONS_FILE, predictions.to_csv(index=False))
    return write_metrics(folder, metrics)


def write_metrics(folder: Path, metrics: dict) -> Path:
    return write_text_whole(folder / METRICS_FILE, json.dumps(metrics, indent=2) + "\n")


def rebased_checkpoint(metrics: dict, old: Path, new: Path) -> dict:
    """metrics with its checkpoint path moved from under folder old to under folder new (a
    forced retraining's run moving into place); any other path is kept."""
    named = recorded_checkpoint(metrics)
    if named is None or not Path(named).is_relative_to(old):
        return metrics
    return {**metrics, "checkpoint": str(new / Path(named).relative_to(old))}


def is_staging(folder: Path) -> bool:
    """Inside a forced retraining's staging folder: not a run (yet)."""
    return STAGING_DIR in folder.parts


def is_training_run_folder(folder: Path) -> bool:
    """A folder a training run wrote: Hydra's saved config beside the run's split or checkpoints
    (a folder merely holding a "checkpoints" folder is not one)."""
    return (folder / HYDRA_DIR / CONFIG_FILE).is_file() and (
        (folder / SPLIT_FILE).is_file() or (folder / CHECKPOINT_DIR).is_dir()
    )


def is_finished(folder: Path) -> bool:
    return (folder / METRICS_FILE).exists()


def has_checkpoints(folder: Path) -> bool:
    """Whether earlier work of the run is kept in folder (a resumable checkpoint)."""
    return any((folder / CHECKPOINT_DIR).glob("*.ckpt"))


def discard_run_outputs(folder: Path) -> None:
    """Remove what a training job wrote into folder (RUN_OUTPUTS), keeping the log and the
    config Hydra saved; the folder itself goes when nothing is left in it."""
    for name in RUN_OUTPUTS:
        path = folder / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()


def read_metrics(folder: Path) -> dict:
    """metrics.json as written; {} when it holds no object."""
    recorded = json.loads((folder / METRICS_FILE).read_text())
    return recorded if isinstance(recorded, dict) else {}


def recorded_checkpoint(metrics: dict) -> str | None:
    """The tested checkpoint metrics.json names; None when the run tested the model of the last
    epoch without a checkpoint (JSON null; runs written before this rule wrote "None")."""
    named = metrics.get("checkpoint")
    return None if named in (None, "", "None") else str(named)


def checkpoint_candidates(folder: Path, metrics: dict) -> list[Path]:
    """Where the tested checkpoint may be, most likely first: the run's own checkpoints/ (the
    folder may have been moved or copied since), then the recorded path; last.ckpt when no
    checkpoint was recorded (the model of the last epoch was tested)."""
    named = recorded_checkpoint(metrics)
    if named is None:
        return [folder / CHECKPOINT_DIR / LAST_CHECKPOINT]
    return list(dict.fromkeys([folder / CHECKPOINT_DIR / Path(named).name, Path(named)]))


def existing_checkpoint(folder: Path, metrics: dict) -> tuple[Path | None, list[Path]]:
    """(the first of checkpoint_candidates that is a file, or None; the candidates looked at)."""
    candidates = checkpoint_candidates(folder, metrics)
    return next((c for c in candidates if c.is_file()), None), candidates


@dataclass
class Run:
    """One finished run folder."""

    path: Path
    arch: str
    crop: str
    color: str
    seed: int
    fold: int  # cross-validation fold, -1 without cross-validation
    title: str
    overrides: list[str]
    predictions: pd.DataFrame
    metrics: dict = field(default_factory=dict)
    variant: str | None = None  # the +variant name (conf/variant/), None for a plain run
    is_baseline: bool | None = None  # variant.baseline; None when the run has no marker
    recorded: dict = field(default_factory=dict)  # what training wrote into metrics.json
    phantom: dict | None = None  # data.phantom: the phantom set's settings; None on real data
    order: int | None = None  # its row in the paper's Table 1 (table1_row); None: not one of it
    # An ensemble's members' seeds (results/ensembles.py); () for a run that trained.
    members: tuple[int, ...] = ()
    # Where its keypoint crops' landmarks came from: annotated, or predicted (a landmark model)
    landmarks: str = "annotated"

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.arch, self.crop, self.color)

    @property
    def test_ids(self) -> np.ndarray:
        return self.predictions["case_id"].to_numpy()

    @property
    def repeat(self) -> tuple[int, int]:
        """Which repetition: runs of one (seed, fold) share a test set and pair up."""
        return (self.seed, self.fold)

    @property
    def correct(self) -> np.ndarray:
        return (self.predictions["pred"] == self.predictions["label"]).to_numpy()

    @property
    def config_file(self) -> Path:
        return self.path / HYDRA_DIR / CONFIG_FILE


TITLES = {
    ("none", "none"): "Original",
    ("tight", "none"): "Cropped",
    ("wide", "none"): "Wide cropped",
    ("none", "enhanced"): "Colored",
    ("tight", "enhanced"): "Colored, cropped",
    ("wide", "enhanced"): "Colored, wide cropped",
}
MODEL_NAMES = {"resnet50": "ResNet50", "vgg19": "VGG19", "resnet18": "ResNet18"}


def default_title(arch: str, crop: str, color: str) -> str:
    """The paper's name of a run without a variant title; see run_title."""
    return run_title(TITLES.get((crop, color), f"crop={crop}, color={color}"), arch, crop, color)


def run_title(name: str, arch: str, crop: str, color: str) -> str:
    """A variant's name (variant.title, conf/variant/) with its model, which is named for the
    originals and for every model other than ResNet50."""
    if (crop, color) == ("none", "none") or arch != "resnet50":
        name += f" ({MODEL_NAMES.get(arch, arch)})"
    return name


def run_repeat(run: Run) -> str:
    fold = f", fold {run.fold}" if run.fold >= 0 else ""
    if run.members:
        seeds = ", ".join(str(s) for s in run.members)
        return f"ensemble of seeds {seeds}{fold}"
    return f"seed {run.seed}{fold}"


def phantom_settings(config) -> dict | None:
    """The run's data.phantom (n, seed, healthy_fraction, effect) as a dict; None when it
    trained on a real dataset (or wrote no such block)."""
    phantom = OmegaConf.select(config, "data.phantom")
    if phantom is None:
        return None
    settings = OmegaConf.to_container(phantom, resolve=False)
    return {"effect": "natural", **settings} if isinstance(settings, dict) else None


def table1_row(variant, arch: str, crop: str, color: str) -> int | None:
    """The run's row in the paper's Table 1 (1 first), by which the report orders its runs:
    variant.order, as its variant file (conf/variant/) sets it. A run saved before variants
    recorded it takes the row of its variant's name, or without a variant, of its crop and
    color (the original of the row's model first); None for a run that is no row of it."""
    if variant.get("order") is not None:
        return int(variant["order"])
    rows = list(enumerate(PUBLISHED_TABLE1, start=1))
    if variant.get("name") is not None:
        named = [number for number, row in rows if row.variant == variant["name"]]
        return named[0] if named else None
    alike = [
        (row.arch != arch, number) for number, row in rows if (row.crop, row.color) == (crop, color)
    ]
    return min(alike)[1] if alike else None


def load_run(folder: Path) -> Run:
    """The run of a finished folder; RunFolderError naming it when its files cannot be read."""
    try:
        return read_run(folder)
    except (
        OSError,
        ValueError,
        KeyError,
        AttributeError,
        TypeError,
        OmegaConfBaseException,
        yaml.YAMLError,
    ) as err:
        if isinstance(err, UserError):
            raise
        raise RunFolderError(
            f"{folder}: cannot read this run ({type(err).__name__}: {str(err)[:200]}); its "
            "files are damaged or were written by another version. Train it again "
            "(force=true), or move the folder out of the sweep folder."
        ) from err


# ${name:...}: an interpolation calling the resolver `name` (nested ones included).
RESOLVER_CALL = re.compile(r"\$\{\s*([\w.]+)\s*:")


def load_saved_config(path: Path) -> DictConfig:
    """A run folder's saved config, read as data. Reading a value resolves its interpolations,
    and a resolver runs code: a value that calls a resolver outside SAVED_CONFIG_RESOLVERS (one
    this package does not have, or the phantom generator, which writes files) is refused
    before any value is read (RunFolderError, naming the key). A phantom run saves the
    generator as its data.root beside data.phantom; the report never reads that key then (it
    finds the set from data.phantom: phantom.store.phantom_dir), so only there is it allowed."""
    config = OmegaConf.load(path)
    raw = OmegaConf.to_container(config, resolve=False)
    phantom = isinstance(raw, dict) and isinstance((raw.get("data") or {}).get("phantom"), dict)
    for key, value in flat_values(raw):
        for name in RESOLVER_CALL.findall(str(value)):
            generator = name == PHANTOM_RESOLVER and key == "data.root" and phantom
            if name not in SAVED_CONFIG_RESOLVERS and not generator:
                raise RunFolderError(
                    f"{path}: {key} calls the resolver ${{{name}:...}}, which a saved run "
                    "config may not (it writes files, or is not one of this package's); the "
                    "file was edited or comes from elsewhere. Train the run again "
                    "(force=true), or move the folder out of the sweep folder"
                )
    return config


def flat_values(tree: object, prefix: str = "") -> list[tuple[str, object]]:
    """(dotted key, value) of every leaf of a nested dict/list; keys count as values too."""
    if isinstance(tree, dict):
        found = []
        for key, value in tree.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            found += [(name, key), *flat_values(value, name)]
        return found
    if isinstance(tree, list):
        return [pair for i, v in enumerate(tree) for pair in flat_values(v, f"{prefix}[{i}]")]
    return [(prefix, tree)]


def read_run(folder: Path) -> Run:
    config = load_saved_config(folder / HYDRA_DIR / CONFIG_FILE)
    overrides_file = folder / HYDRA_DIR / OVERRIDES_FILE
    overrides = list(OmegaConf.load(overrides_file)) if overrides_file.exists() else []
    predictions = pd.read_csv(folder / PREDICTIONS_FILE, dtype={"stem": str}).sort_values(
        "case_id", ignore_index=True
    )  # stems keep their leading zeros (0001035): they name the images
    arch = str(config.model.arch)
    crop, color = str(config.crop.name), str(config.color.name)
    cv = config.get("cv") or {}
    variant = config.get("variant") or {}
    # The variant's own title when the run recorded one (conf/variant/*.yaml), else the
    # paper's name of its crop and color.
    name = variant.get("title")
    title = run_title(str(name), arch, crop, color) if name else default_title(arch, crop, color)
    recorded = read_metrics(folder)
    landmarks = str((recorded.get("landmarks") or {}).get("source", "annotated"))
    if landmarks == "predicted":
        title += " (predicted landmarks)"
    run = Run(
        folder,
        arch,
        crop,
        color,
        int(config.seed),
        int(cv.get("fold", 0)) if cv.get("folds", 0) else -1,
        str(title),
        [str(o) for o in overrides],
        predictions,
        variant=variant.get("name"),
        is_baseline=bool(variant["baseline"]) if "baseline" in variant else None,
        recorded=recorded,
        phantom=phantom_settings(config),
        order=table1_row(variant, arch, crop, color),
        landmarks=landmarks,
    )
    # The seed training used for metrics.json's intervals: the report's are the same numbers.
    seed = run.recorded.get("bootstrap_seed", bootstrap_seed(run.seed))
    # At the run's own decision threshold (0.5 unless a rule chose another on validation).
    try:
        run.metrics = metrics_with_intervals(
            predictions["label"].to_numpy(),
            predictions["prob_diseased"].to_numpy(),
            threshold=float(run.recorded.get("threshold", 0.5)),
            seed=seed,
        )
    except NonFiniteProbabilityError as err:
        raise NonFiniteProbabilityError(f"{folder / PREDICTIONS_FILE}: {err}") from err
    return run


@dataclass(frozen=True)
class UnfinishedRun:
    """A run folder of a sweep without metrics.json: a job trains it now (holder), or it was
    interrupted and no job holds it (holder None; started again, it resumes)."""

    path: Path
    holder: LockHolder | None

    def describe(self) -> str:
        if self.holder is None:
            return "interrupted (no job holds it; run the sweep again to resume it)"
        return f"in progress ({self.holder.describe()})"


def unfinished_runs(sweep_dir: Path) -> list[UnfinishedRun]:
    """Run folders under sweep_dir that a job has started (config saved) and not finished."""
    folders = sorted(
        p.parent.parent
        for p in Path(sweep_dir).rglob(f"{HYDRA_DIR}/{CONFIG_FILE}")
        if not is_staging(p.parent.parent)
        and not is_finished(p.parent.parent)
        and ((p.parent.parent / LOCK_FILE).exists() or has_checkpoints(p.parent.parent))
    )
    return [UnfinishedRun(f, read_holder(f / LOCK_FILE)) for f in folders]


def find_runs(sweep_dir: Path) -> list[Run]:
    """Every finished run folder under sweep_dir, in the order of the paper's Table 1 (Run.order;
    runs that are no row of it after the others), then by title and repetition."""
    folders = sorted(
        p.parent
        for p in sweep_dir.rglob(PREDICTIONS_FILE)
        if not is_staging(p.parent)
        and is_finished(p.parent)
        and (p.parent / HYDRA_DIR / CONFIG_FILE).exists()
    )
    if not folders:
        unfinished = unfinished_runs(sweep_dir)
        started = (
            f"; {len(unfinished)} started and not finished: "
            + "; ".join(f"{u.path.name} {u.describe()}" for u in unfinished[:5])
            if unfinished
            else ""
        )
        raise RunsNotFoundError(
            f"{sweep_dir}: no finished run folders (predictions.csv, metrics.json and "
            f".hydra/config.yaml){started}; run a sweep first, e.g. python -m "
            "csxa_lightning.train experiment=table1, or build the report when its runs end"
        )
    runs = [load_run(f) for f in folders]
    runs.sort(key=lambda r: (r.order is None, r.order or 0, r.title, r.repeat))
    return runs


def latest_sweep(log_dir: Path) -> Path:
    """The sweep folder (multirun.yaml) under log_dir written last."""
    candidates = [p.parent for p in log_dir.glob("**/multirun.yaml")]
    if not candidates:
        raise RunsNotFoundError(f"no sweep under {log_dir}; run one with --multirun first")
    return max(candidates, key=lambda p: p.stat().st_mtime)
