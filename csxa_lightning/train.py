"""python -m csxa_lightning.train [overrides]  (and --multirun): train, then test, one variant.

Thin entry point: Hydra composes conf/train.yaml, `train(cfg)` does the work and can be called
directly (the tests do).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import hydra
import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from lightning.fabric.utilities.rank_zero import rank_zero_only
from lightning.pytorch.plugins.environments import SLURMEnvironment
from omegaconf import DictConfig, OmegaConf

from csxa_lightning import config as _config  # noqa: F401  (registers the resolvers)
from csxa_lightning.config_checks import check_config
from csxa_lightning.data.datamodule import CSXADataModule
from csxa_lightning.errors import ConfigValueError, exit_on_user_error
from csxa_lightning.model import CSXAClassifier
from csxa_lightning.protocol import departures
from csxa_lightning.results.metrics import metrics_with_intervals
from csxa_lightning.results.runs import (
    METRICS_FILE,
    NORMALIZATION_FILE,
    is_finished,
    predictions_frame,
    read_metrics,
    write_run,
    write_split,
)

log = logging.getLogger(__name__)


def readable_checkpoint(path: Path) -> str | None:
    """path if it holds a checkpoint torch can read, else None. Lightning writes checkpoints
    through a temporary file, but where that file lies on another file system the final move is
    a copy, and a job killed during it leaves a truncated file: the run then starts over, with
    a warning, instead of failing inside Lightning. The damaged file is kept for inspection."""
    if not path.exists():
        return None
    try:
        # mmap: the archive's index is checked without reading the tensors into memory.
        torch.load(path, map_location="cpu", weights_only=False, mmap=True)
    except Exception as err:  # noqa: BLE001  (any unreadable file means: start over)
        damaged = path.with_name(path.name + ".damaged")
        if not is_global_zero():
            return None  # rank 0 sees the same file, keeps it and says so
        path.replace(damaged)
        log.warning(
            "%s cannot be read (%s: %s); it was cut off while being written. Starting the run "
            "over; the file is kept as %s",
            path,
            type(err).__name__,
            err,
            damaged,
        )
        return None
    return str(path)


def is_global_zero() -> bool:
    """Process 0 of a DDP run (or the only process). Lightning reads the rank from the
    environment its launcher, torchrun or SLURM sets, before any trainer exists."""
    return rank_zero_only.rank == 0


def check_ddp_launch(cfg: DictConfig) -> None:
    """Several processes per run inside a local --multirun cannot work: Lightning starts the
    extra processes with the run folder of a single run, not the sweep job's."""
    trainer = cfg.trainer
    several = str(trainer.get("devices", 1)) not in ("1", "None") or trainer.get(
        "num_nodes", 1
    ) not in (1, None)
    distributed = str(trainer.get("strategy", "auto")).startswith("ddp")
    multirun = HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
    if several and distributed and multirun and not SLURMEnvironment.detect():
        raise ConfigValueError(
            f"trainer.strategy={trainer.strategy} with trainer.devices={trainer.devices} inside "
            "a --multirun on one machine: Lightning would start the extra processes in the "
            "wrong folder. Train each variant as a single run (python -m csxa_lightning.train "
            "+variant=... trainer=ddp), or sweep with launcher=slurm, where SLURM starts one "
            "task per GPU."
        )


def checkpoint_overrides(cfg: DictConfig, has_validation: bool) -> dict:
    """Without a validation split the last epoch is kept, and every epoch's checkpoint is the
    newest: last.ckpt becomes a link to it instead of a second copy (one write per epoch, not
    two). With validation the kept checkpoint is the best epoch's, and last.ckpt must be a
    copy of the newest."""
    if has_validation:
        return {}
    link = cfg.callbacks.model_checkpoint.get("save_last") is True
    return {"monitor": None, **({"save_last": "link"} if link else {})}


def variant_name(cfg: DictConfig) -> str | None:
    """The +variant this run is (conf/variant/<name>.yaml): the name the variant file records
    in the config, else Hydra's choice of the group, else None (a plain run)."""
    recorded = cfg.get("variant")
    if isinstance(recorded, str):
        return recorded
    if isinstance(recorded, DictConfig) and recorded.get("name") is not None:
        return str(recorded.name)
    if HydraConfig.initialized():
        choice = HydraConfig.get().runtime.choices.get("variant")
        return str(choice) if choice is not None else None
    return None


def selection_score(checkpoint) -> float | None:
    """The monitored validation metric (callbacks.model_checkpoint.monitor, e.g. val/loss) of
    the tested checkpoint; None when the last epoch is tested (no validation slice, or no
    monitor: protocol=paper)."""
    if not checkpoint.monitor or checkpoint.best_model_score is None:
        return None
    return float(checkpoint.best_model_score)


def sweep_objective(metrics: dict) -> float | None:
    """What main() hands to Hydra (a sweeper's objective, e.g. Optuna's): the validation metric
    that selected the tested checkpoint (metrics.json's selection_score, val/loss under
    protocol=strict: lower is better), or None without a validation slice. Never a test
    metric: a sweep that tuned on the test set would report an optimistic test score."""
    score = metrics.get("selection_score")
    return None if score is None else float(score)


def train(cfg: DictConfig) -> dict:
    """Fit, test the selected checkpoint, write split.csv, predictions.csv and metrics.json."""
    check_config(cfg)  # before anything is read or written
    check_ddp_launch(cfg)
    out = Path(cfg.paths.output_dir)
    if is_finished(out) and not cfg.get("force", False):
        # A restarted sweep skips what is done; force=true retrains in the same folder.
        log.info("%s holds a finished run; skipping it (force=true retrains)", out)
        print(f"metrics: {out / METRICS_FILE} (finished earlier; skipped)")
        return read_metrics(out)
    out.mkdir(parents=True, exist_ok=True)
    recorded_departures = departures(cfg)  # a config it cannot read fails before training
    L.seed_everything(cfg.seed, workers=True)
    if torch.cuda.is_available():
        torch.set_float32_matmul_precision("high")  # TF32 for the fp32 parts

    started = time.perf_counter()
    datamodule: CSXADataModule = instantiate(cfg.data)
    datamodule.setup("fit")
    prepared = time.perf_counter()
    if is_global_zero():  # every rank computed the same; one writes
        write_split(out, datamodule.split_frame, datamodule.skipped)
        datamodule.save_normalization(out / NORMALIZATION_FILE)

    model: CSXAClassifier = instantiate(cfg.model)
    model.set_normalization(*datamodule.normalization)  # also stored in the checkpoint
    model.set_class_weights(datamodule.class_weights)

    checkpoint = instantiate(
        cfg.callbacks.model_checkpoint,
        **checkpoint_overrides(cfg, datamodule.has_validation),
    )
    callbacks = [checkpoint] + [
        instantiate(c) for k, c in cfg.callbacks.items() if k != "model_checkpoint"
    ]
    loggers = [instantiate(c) for c in (cfg.get("logger") or {}).values()]
    trainer: L.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    # An interrupted run (last.ckpt, no metrics.json) continues where it stopped; force=true
    # starts over. Order and augmentation are functions of (seed, epoch), so the resumed run
    # ends as an uninterrupted one would.
    resume_from = (
        None
        if cfg.get("force", False)
        else readable_checkpoint(Path(checkpoint.dirpath) / "last.ckpt")
    )
    if resume_from:
        log.info("resuming the interrupted run in %s from %s", out, resume_from)
    trainer.fit(model, datamodule=datamodule, ckpt_path=resume_from)
    fitted = time.perf_counter()

    # Best validation checkpoint, or the last epoch when there is no validation split.
    ckpt_path = checkpoint.best_model_path or None
    trainer.test(model, datamodule=datamodule, ckpt_path=ckpt_path)
    tested = time.perf_counter()

    # Every test image once, all ranks' scores (see CSXAClassifier.on_test_epoch_end).
    predictions = predictions_frame(datamodule.frames["test"], *model.test_probabilities())
    metrics = metrics_with_intervals(
        predictions["label"].to_numpy(), predictions["prob_diseased"].to_numpy(), seed=cfg.seed
    )
    metrics.update(
        arch=cfg.model.arch,
        # +variant name (conf/variant/), None for a plain run
        variant=variant_name(cfg),
        # protocol=paper | strict (conf/protocol/), and what still departs from the paper
        protocol=OmegaConf.select(cfg, "protocol.name", default=None),
        departures=recorded_departures,
        # the folder the images were read from (data.root, or the phantom set's folder)
        dataset_root=str(datamodule.dataset_root()),
        # the tested checkpoint; null: the model of the last epoch, tested without one
        checkpoint=ckpt_path,
        selected_by=checkpoint.monitor or "last epoch",
        # the value of selected_by at the tested checkpoint (None: last epoch); main()'s return
        selection_score=selection_score(checkpoint),
        epochs=trainer.current_epoch,
        n_train=len(datamodule.frames["train"]),
        n_val=len(datamodule.frames["val"]),
        # what one training epoch holds: films x channel orders, synthetic ones included
        train_samples=len(datamodule.datasets["train"]),
        # optimizer steps of the whole training (a resumed run: counted from the start); an
        # enhanced variant with both channel orders takes twice the steps of its films
        optimizer_steps=int(trainer.global_step),
        # Lightning's numeric precision (e.g. 32-true, bf16-mixed); not a metric
        trainer_precision=str(trainer.precision),
        input_pipeline="device" if datamodule.batches_on_device else "loader",
        device=str(trainer.strategy.root_device),
        processes=trainer.world_size,
        # wall-clock seconds of this process (a resumed run: the part after resuming)
        seconds_data=round(prepared - started, 2),
        seconds_fit=round(fitted - prepared, 2),
        seconds_test=round(tested - fitted, 2),
    )
    if not trainer.is_global_zero:
        return metrics
    written = write_run(out, predictions, metrics)
    log.info(
        "test accuracy %.4f (majority baseline %.4f), balanced accuracy %.4f, AUROC %.4f",
        metrics["accuracy"],
        metrics["majority_accuracy"],
        metrics["balanced_accuracy"],
        metrics["auroc"],
    )
    print(f"metrics: {written}")
    return metrics


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    log.debug("config:\n%s", OmegaConf.to_yaml(cfg))
    with exit_on_user_error(log):  # also logged: the run's log file says why it stopped
        return sweep_objective(train(cfg))


if __name__ == "__main__":
    main()
