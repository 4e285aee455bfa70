"""The landmark task's LightningModule (task=landmarks): LandmarkNet (a torchvision ResNet with
Simple Baselines' deconvolution head, models/landmark_net.py) trained on Gaussian heatmaps of
the 23 landmarks with the masked mean squared error (models/heatmap_readout.py), read out to
sub-pixel points. It trains and tests on the batches of data/landmark_datamodule.py: uint8
letterboxed films, heatmap targets, visibility and the points in input pixels.

Validation logs the mean radial error in input pixels (val/mre_px), which selects the tested
checkpoint under protocol=strict (lower is better); the run's scores in film pixels and
millimetres are computed from the test points (training/landmark_run.py, metrics/landmarks.py).
"""

from __future__ import annotations

from collections.abc import Callable

import lightning as L
import torch

from csxa_lightning.models.backbones import weights_file
from csxa_lightning.models.heatmap_readout import heatmap_loss
from csxa_lightning.models.landmark_net import LandmarkNet, predict_points
from csxa_lightning.models.lightning_parts import gathered_once, optimizers
from csxa_lightning.utils.errors import ConfigValueError

# One grey channel normalized as ImageNet's three are on average (mean and std of the RGB
# statistics): a grey stem that sums the RGB kernels then sees what the backbone learnt on.
GREY_MEAN = 0.449
GREY_STD = 0.226


def mean_radial_error(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean Euclidean distance over the landmarks target knows (NaN ones skipped); NaN when
    it knows none."""
    distance = (predicted - target).norm(dim=-1)
    known = ~torch.isnan(distance)
    return distance[known].mean() if known.any() else distance.new_tensor(float("nan"))


class CSXALandmarks(L.LightningModule):
    def __init__(
        self,
        arch: str = "resnet50",
        pretrained: str = "imagenet",
        weights_path: str | None = None,
        download: bool = True,
        num_landmarks: int = 23,
        deconv_channels: int = 256,
        deconv_layers: int = 3,
        optimizer: Callable[..., torch.optim.Optimizer] | None = None,
        scheduler: Callable[..., torch.optim.lr_scheduler.LRScheduler] | None = None,
        channels_last: bool = True,
        compile: bool = False,
        compile_backend: str = "inductor",
        num_classes: int | None = None,
    ) -> None:
        super().__init__()
        if num_classes is not None:  # the classifier's key, set by model=... groups
            raise ConfigValueError(
                f"model.num_classes={num_classes}: a landmark model has no classes; "
                "task=landmarks sets it to null (model.num_landmarks counts the landmarks)"
            )
        self.save_hyperparameters(logger=False, ignore=["optimizer", "scheduler"])
        weights = weights_file(arch, pretrained, weights_path, download)
        self.net = LandmarkNet(
            arch,
            num_landmarks,
            in_channels=1,
            deconv_channels=deconv_channels,
            deconv_layers=deconv_layers,
            weights=None if weights is None else str(weights),
        )
        self.optimizer_factory = optimizer or (lambda params: torch.optim.Adam(params, lr=1e-3))
        self.scheduler_factory = scheduler
        self.channels_last = channels_last
        if channels_last:  # NHWC lets cuDNN use tensor-core convolutions without transposes
            self.net = self.net.to(memory_format=torch.channels_last)
        if compile:  # in place: the state dict keeps its names (checkpoints load both ways)
            self.net.compile(backend=compile_backend)
        # (film index, points in input pixels) of the last test, each test film once.
        self.test_outputs: list[tuple[torch.Tensor, torch.Tensor]] = []

    @property
    def stride(self) -> int:
        return self.net.stride

    def setup(self, stage: str) -> None:
        """The heatmap targets of the trainer's datamodule must be at this network's stride."""
        datamodule = getattr(self.trainer, "datamodule", None)
        data_stride = getattr(datamodule, "stride", self.stride)
        if data_stride != self.stride:
            raise ConfigValueError(
                f"data.stride={data_stride}, but model.deconv_layers="
                f"{self.hparams['deconv_layers']} makes heatmaps at stride {self.stride}; set "
                f"data.stride={self.stride}"
            )

    def prepare_input(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (B, 1, S, S) on the device -> the normalized float the network takes."""
        x = (images.float() / 255.0 - GREY_MEAN) / GREY_STD
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (B, 1, S, S) -> heatmaps (B, K, S / stride, S / stride)."""
        return self.net(self.prepare_input(images))

    def points(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (B, 1, S, S) -> the landmarks' (x, y) in input pixels, (B, K, 2)."""
        return predict_points(self(images).float(), self.stride)

    def step(self, batch: dict[str, torch.Tensor], stage: str) -> tuple[torch.Tensor, torch.Tensor]:
        heatmaps = self(batch["image"]).float()
        loss = heatmap_loss(heatmaps, batch["heatmaps"], batch["visible"])
        size = len(batch["image"])
        # DDP: every rank logs the same validation value, so all pick the same checkpoint.
        self.log(f"{stage}/loss", loss, on_step=False, on_epoch=True, prog_bar=True,
                 batch_size=size, sync_dist=stage != "train")  # fmt: skip
        points = predict_points(heatmaps.detach(), self.stride)
        if stage != "train":
            error = mean_radial_error(points, batch["points"].float())
            self.log(f"{stage}/mre_px", error, on_step=False, on_epoch=True, prog_bar=True,
                     batch_size=size, sync_dist=True)  # fmt: skip
        return loss, points

    def training_step(self, batch, batch_idx):
        return self.step(batch, "train")[0]

    def validation_step(self, batch, batch_idx):
        self.step(batch, "val")

    def on_test_epoch_start(self) -> None:
        self.test_outputs = []

    def test_step(self, batch, batch_idx):
        _, points = self.step(batch, "test")
        self.test_outputs.append((batch["index"].detach().cpu(), points.cpu()))

    def on_test_epoch_end(self) -> None:
        self.test_outputs = gathered_once(self, self.test_outputs)  # DDP: each film once

    def test_points(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(rows of the test frame, their points in input pixels (N, K, 2)) of the last test."""
        if not self.test_outputs:
            raise RuntimeError("no test outputs: run trainer.test first")
        return (
            torch.cat([i for i, _ in self.test_outputs]),
            torch.cat([p for _, p in self.test_outputs]),
        )

    def configure_optimizers(self):
        return optimizers(self.parameters(), self.optimizer_factory, self.scheduler_factory)
