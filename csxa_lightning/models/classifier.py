"""The LightningModule: a torchvision backbone with a 2-way head, trained with cross-entropy."""

from __future__ import annotations

import math
from collections.abc import Callable
from numbers import Real

import lightning as L
import torch
import torch.nn.functional as F
from torchmetrics import MetricCollection
from torchmetrics.classification import BinaryAccuracy, BinaryAUROC, MulticlassAccuracy

from csxa_lightning.metrics.calibration import PROB_EPS  # the clipping the fit used
from csxa_lightning.models.backbones import build_backbone
from csxa_lightning.models.lightning_parts import gathered_once, optimizers
from csxa_lightning.utils.errors import UserError

# Where a checkpoint keeps the decision rule fitted on the validation slice after training
# (csxa_lightning/training/decision.py): the temperature and the threshold. Absent: 1 and 0.5.
DECISION_KEY = "csxa_decision"
DEFAULT_DECISION = {"temperature": 1.0, "threshold": 0.5, "threshold_rule": "0.5", "fitted_on": 0}


class DecisionError(UserError):
    """A checkpoint's decision rule that is not one: edited, or written by something else."""


def checked_decision(decision) -> dict:
    """A stored decision rule, checked value by value (a checkpoint is data): the keys of
    DEFAULT_DECISION only, a finite temperature > 0, a threshold in [0, 1], a text rule and a
    film count. None: the default rule."""
    if decision is None:
        return dict(DEFAULT_DECISION)
    if not isinstance(decision, dict):
        raise DecisionError(f"{DECISION_KEY} is a {type(decision).__name__}, not a rule")
    problems = [f"{k} (not a setting of the rule)" for k in decision if k not in DEFAULT_DECISION]
    rule = {**DEFAULT_DECISION, **decision}

    def number(key: str) -> float | None:
        value = rule[key]
        ok = isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)
        return float(value) if ok else None

    temperature, threshold = number("temperature"), number("threshold")
    if temperature is None or temperature <= 0:
        problems.append(f"temperature={rule['temperature']!r} (a number > 0)")
    # Up to just above 1: "every film healthy" when a score is exactly 1 (candidate_thresholds).
    if threshold is None or not 0 <= threshold <= math.nextafter(1.0, math.inf):
        problems.append(f"threshold={rule['threshold']!r} (a probability)")
    if not isinstance(rule["threshold_rule"], str):
        problems.append(f"threshold_rule={rule['threshold_rule']!r} (text)")
    fitted = rule["fitted_on"]
    if isinstance(fitted, bool) or not isinstance(fitted, int) or fitted < 0:
        problems.append(f"fitted_on={fitted!r} (a film count)")
    if problems:
        raise DecisionError(
            f"{DECISION_KEY}: {'; '.join(problems)}; the checkpoint was written by another "
            "version, or was edited"
        )
    return rule


# Until setup() takes the training set's own statistics from the datamodule: ImageNet's.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def stage_metrics(prefix: str) -> MetricCollection:
    # Balanced accuracy = macro-averaged per-class recall; with 96 % diseased, plain accuracy
    # alone cannot tell a model from always answering "diseased".
    return MetricCollection(
        {
            "acc": BinaryAccuracy(),
            "bal_acc": MulticlassAccuracy(num_classes=2, average="macro"),
            "auroc": BinaryAUROC(),
        },
        prefix=f"{prefix}/",
    )


def update_metrics(metrics: MetricCollection, prob_all: torch.Tensor, labels: torch.Tensor) -> None:
    """prob_all: (B, classes) probabilities; labels: (B,) class indices."""
    prob = prob_all[:, 1]
    metrics["acc"].update(prob, labels)
    metrics["bal_acc"].update(prob_all, labels)
    metrics["auroc"].update(prob, labels)


class CSXAClassifier(L.LightningModule):
    def __init__(
        self,
        arch: str = "resnet50",
        pretrained: str = "imagenet",
        weights_path: str | None = None,
        num_classes: int = 2,
        optimizer: Callable[..., torch.optim.Optimizer] | None = None,
        scheduler: Callable[..., torch.optim.lr_scheduler.LRScheduler] | None = None,
        channels_last: bool = True,
        compile: bool = False,
        compile_backend: str = "inductor",
        download: bool = True,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(logger=False, ignore=["optimizer", "scheduler"])
        self.net = build_backbone(arch, num_classes, pretrained, weights_path, download)
        self.optimizer_factory = optimizer or (lambda params: torch.optim.Adam(params, lr=3e-4))
        self.scheduler_factory = scheduler
        self.channels_last = channels_last
        if channels_last:  # NHWC lets cuDNN use tensor-core convolutions without transposes
            self.net = self.net.to(memory_format=torch.channels_last)
        if compile:
            # In place (nn.Module.compile): the state dict keeps its names, so checkpoints of
            # compiled and plain runs load into each other.
            self.net.compile(backend=compile_backend)
        # Normalization lives in the module (and its checkpoint) so that prediction applies the
        # statistics training used.
        self.register_buffer("input_mean", torch.tensor(IMAGENET_MEAN).view(1, -1, 1, 1))
        self.register_buffer("input_std", torch.tensor(IMAGENET_STD).view(1, -1, 1, 1))
        # Cross-entropy class weights (balance=weighted); None = unweighted.
        self.register_buffer("class_weights", None, persistent=False)
        # One metrics object per stage: their states must never mix.
        self.train_metrics = stage_metrics("train")
        self.val_metrics = stage_metrics("val")
        self.test_metrics = stage_metrics("test")
        self.test_outputs: list[tuple[torch.Tensor, torch.Tensor]] = []
        # Training (probabilities, labels) of the epoch, still on the device: the training
        # metrics are updated once, at the epoch's end. Updated every step, torchmetrics'
        # input checks (torch.unique) would make the CPU wait for the GPU every step.
        self.train_outputs: list[tuple[torch.Tensor, torch.Tensor]] = []
        # The decision rule: temperature and threshold fitted on validation films (1 and 0.5
        # until then); plain floats, so applying them never waits for the GPU.
        self.decision = dict(DEFAULT_DECISION)

    def set_normalization(self, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        """Per-channel statistics of the training images; one value is used for all three."""
        self.input_mean.copy_(torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.input_std.copy_(torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def set_class_weights(self, weights: list[float] | None) -> None:
        self.class_weights = None if weights is None else torch.tensor(weights, dtype=torch.float32)

    def set_decision(self, decision: dict | None) -> None:
        """temperature, threshold and threshold_rule (DEFAULT_DECISION for what is absent),
        checked: a rule read from a checkpoint is data."""
        self.decision = checked_decision(decision)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint[DECISION_KEY] = dict(self.decision)

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.set_decision(checkpoint.get(DECISION_KEY))

    def setup(self, stage: str) -> None:
        """The model wires itself to its data: the training set's normalization and class
        weights from the trainer's datamodule (after its setup("fit")). Without a datamodule
        that has them (prediction, export: a model loaded from a checkpoint) the buffers keep
        what they hold; resuming restores the checkpoint's buffers after this hook."""
        datamodule = self.trainer.datamodule  # setup() is called by a trainer
        if getattr(datamodule, "normalization", None) is None:
            return
        self.set_normalization(*datamodule.normalization)  # also stored in the checkpoint
        self.set_class_weights(datamodule.class_weights)

    def prepare_input(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (B, C, H, W) on the device -> normalized float, 3 channels for the backbone."""
        x = images.float().div_(255.0)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)  # gray replicated: ImageNet backbones expect 3
        x = (x - self.input_mean) / self.input_std
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(self.prepare_input(images))

    def class_probabilities(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (B, variants, C, H, W) -> (B, classes): softmax per channel order, averaged.

        An evaluation item holds every channel order of one film; averaging their probabilities
        scores each image exactly once. Test and prediction both use this, so they agree."""
        batch_size, variants = images.shape[:2]
        logits = self(images.flatten(0, 1)).float().view(batch_size, variants, -1)
        prob = logits.softmax(dim=-1).mean(dim=1)
        temperature = float(self.decision["temperature"])
        if temperature == 1.0:
            return prob
        # Temperature scaling of the averaged probability, as it was fitted (training/decision.py).
        diseased = torch.sigmoid(torch.logit(prob[:, 1], eps=PROB_EPS) / temperature)
        return torch.stack([1 - diseased, diseased], dim=1)

    def _step(self, batch: dict[str, torch.Tensor], metrics: MetricCollection, stage: str):
        images, labels = batch["image"], batch["label"]
        if images.ndim == 5:
            prob_all = self.class_probabilities(images)
            loss = F.nll_loss(prob_all.clamp_min(1e-12).log(), labels, weight=self.class_weights)
        else:
            logits = self(images).float()
            prob_all = logits.softmax(dim=-1)
            loss = F.cross_entropy(logits, labels, weight=self.class_weights)
        prob = prob_all[:, 1]
        if stage == "train":
            self.train_outputs.append((prob_all.detach(), labels))
        else:
            update_metrics(metrics, prob_all, labels)
        self.log(
            f"{stage}/loss",
            loss,
            on_step=False,
            on_epoch=True,
            prog_bar=True,
            batch_size=len(labels),
            # DDP: every rank must see the same val/loss to pick the same best checkpoint
            # (a no-op in one process). Metric objects synchronize themselves.
            sync_dist=stage != "train",
        )
        if stage != "train":
            self.log_dict(metrics, on_step=False, on_epoch=True, prog_bar=True)
        return loss, prob

    def on_train_epoch_start(self) -> None:
        self.train_outputs = []

    def training_step(self, batch, batch_idx):
        loss, _ = self._step(batch, self.train_metrics, "train")
        return loss

    def on_train_epoch_end(self) -> None:
        if not self.train_outputs:
            return
        prob_all = torch.cat([p for p, _ in self.train_outputs])
        labels = torch.cat([y for _, y in self.train_outputs])
        self.train_outputs = []
        update_metrics(self.train_metrics, prob_all, labels)
        self.log_dict(self.train_metrics, on_step=False, on_epoch=True)

    def validation_step(self, batch, batch_idx):
        self._step(batch, self.val_metrics, "val")

    def on_test_epoch_start(self) -> None:
        self.test_outputs = []

    def test_step(self, batch, batch_idx):
        _, prob = self._step(batch, self.test_metrics, "test")
        self.test_outputs.append((batch["index"].detach().cpu(), prob.detach().cpu()))

    def on_test_epoch_end(self) -> None:
        self.test_outputs = gathered_once(self, self.test_outputs)  # DDP: each film once

    def test_probabilities(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(row indices into the test frame, probability of diseased) of the last test run,
        each test image once (all ranks' under DDP)."""
        if not self.test_outputs:
            raise RuntimeError("no test outputs: run trainer.test first")
        index = torch.cat([i for i, _ in self.test_outputs])
        prob = torch.cat([p for _, p in self.test_outputs])
        return index, prob

    def configure_optimizers(self):
        return optimizers(self.parameters(), self.optimizer_factory, self.scheduler_factory)
