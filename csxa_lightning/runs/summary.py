"""metrics.json's content: the test metrics of a finished fit, and what the run was.

Built from the objects a run ends with (config, predictions, DataModule, Trainer); nothing here
trains or writes (runs/folder.py writes the file). The keys are those of the README's "What a
run writes".
"""

from __future__ import annotations

import time

import pandas as pd
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from csxa_lightning.metrics.classification import compute_metrics, metrics_with_intervals
from csxa_lightning.runs.environment import ENVIRONMENT_KEY, run_environment

# The threshold every run used before rules existed, and the paper's (the larger softmax
# output): metrics.json repeats these metrics at it when a rule chose another.
DEFAULT_THRESHOLD = 0.5
AT_DEFAULT = ("accuracy", "balanced_accuracy", "sensitivity", "specificity")


class Timer:
    """Wall-clock seconds of the parts of a run (a resumed run: the part after resuming)."""

    def __init__(self) -> None:
        self.last = time.perf_counter()
        self.seconds: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = round(now - self.last, 2)
        self.last = now


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
    """What train's main() hands to Hydra (a sweeper's objective, e.g. Optuna's): the
    validation metric that selected the tested checkpoint (metrics.json's selection_score,
    val/loss under protocol=strict: lower is better), or None without a validation slice.
    Never a test metric: a sweep that tuned on the test set would report an optimistic test
    score."""
    score = metrics.get("selection_score")
    return None if score is None else float(score)


def decision_keys(y, prob, decision: dict) -> dict:
    """How the threshold was set (threshold_rule: 0.5, youden, sensitivity:0.95 ...), the
    temperature (1: uncalibrated), how many validation films fitted them, and the headline
    metrics at the default threshold 0.5 beside those at the chosen one."""
    at_default = compute_metrics(y, prob, DEFAULT_THRESHOLD)
    return {
        "threshold_rule": str(decision["threshold_rule"]),
        "temperature": float(decision["temperature"]),
        "decision_fitted_on": int(decision.get("fitted_on", 0)),
        # Set when the fitted temperature ended on a bound of its search (training/decision.py).
        "temperature_warning": decision.get("temperature_warning"),
        **{f"{name}_at_default": at_default[name] for name in AT_DEFAULT},
    }


def run_summary(
    cfg: DictConfig,
    recorded_departures: list,
    predictions: pd.DataFrame,
    datamodule,
    trainer,
    timer: Timer,
    decision: dict | None = None,
) -> dict:
    """metrics.json's content: the test metrics with their intervals at the run's decision
    threshold, and what the run was. decision: the rule fitted on validation films
    (training/decision.py); None: threshold 0.5, temperature 1."""
    checkpoint = trainer.checkpoint_callback
    decision = decision or {"threshold": 0.5, "threshold_rule": "0.5", "temperature": 1.0}
    y, prob = predictions["label"].to_numpy(), predictions["prob_diseased"].to_numpy()
    metrics = metrics_with_intervals(y, prob, threshold=decision["threshold"], seed=cfg.seed)
    metrics.update(decision_keys(y, prob, decision))
    metrics.update(
        arch=cfg.model.arch,
        # +variant name (conf/variant/), None for a plain run
        variant=variant_name(cfg),
        # protocol=paper | strict (conf/protocol/), and what still departs from the paper
        protocol=OmegaConf.select(cfg, "protocol.name", default=None),
        departures=recorded_departures,
        # the folder the images were read from (data.root, or the phantom set's folder)
        dataset_root=str(datamodule.dataset_root()),
        # where the keypoint crops' landmarks came from: annotated, or a landmark model's
        landmarks=datamodule.landmarks_state(),
        # the tested checkpoint; null: the model of the last epoch, tested without one
        checkpoint=checkpoint.best_model_path or None,
        selected_by=checkpoint.monitor or "last epoch",
        # the value of selected_by at the tested checkpoint (None: last epoch)
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
        **{f"seconds_{part}": seconds for part, seconds in timer.seconds.items()},
    )
    # what produced the numbers: Python, package versions, accelerator, this package's commit
    metrics[ENVIRONMENT_KEY] = run_environment(trainer.strategy.root_device)
    return metrics
