"""The landmark network: heatmap regression of the 23 CSXA landmarks in the style of Simple
Baselines (Xiao et al. 2018, "Simple Baselines for Human Pose Estimation and Tracking").

A torchvision ResNet without its pooling and classifier (stride 32), then deconvolutions that
each double the map (three by default: stride 4), then a 1x1 convolution to one heatmap per
landmark. The LightningModule around it normalises the input and pairs the heatmaps with
targets (models/heatmap_readout.py has the loss and the read-outs).
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from csxa_lightning.models.backbones import build_backbone, known_archs
from csxa_lightning.models.heatmap_readout import readout
from csxa_lightning.utils.errors import ConfigValueError

# torchvision's ResNet family (torchvision.models.ResNet): the same stem and four stages, so
# the same cut below the pooling and the same 1-channel stem.
RESNET_PREFIXES = ("resnet", "resnext", "wide_resnet")

# Simple Baselines' head init: near-zero heatmaps at the start, so the first steps learn where
# the peaks are rather than unlearn random ones.
HEAD_INIT_STD = 0.001

# The backbone's output stride; each deconvolution halves it.
BACKBONE_STRIDE = 32
MAX_DECONV_LAYERS = 5  # stride 1: a heatmap pixel per input pixel


def supported_archs() -> list[str]:
    """The torchvision ResNets LandmarkNet can use."""
    return [a for a in known_archs() if a.startswith(RESNET_PREFIXES)]


def heatmap_stride(deconv_layers: int) -> int:
    """Input pixels per heatmap pixel: 4 for Simple Baselines' three deconvolutions."""
    return BACKBONE_STRIDE // 2**deconv_layers


def check_settings(
    arch: str, num_landmarks: int, in_channels: int, deconv_channels: int, deconv_layers: int
) -> None:
    if arch not in supported_archs():
        raise ConfigValueError(
            f"landmark model arch={arch!r} is not a torchvision ResNet; choose one of "
            f"{', '.join(supported_archs())}"
        )
    problems = []
    if num_landmarks < 1:
        problems.append(f"num_landmarks={num_landmarks} (at least 1)")
    if in_channels not in (1, 3):
        problems.append(f"in_channels={in_channels} (1 for grey films, 3 for RGB)")
    if deconv_channels < 1:
        problems.append(f"deconv_channels={deconv_channels} (at least 1)")
    if not 0 <= deconv_layers <= MAX_DECONV_LAYERS:
        problems.append(f"deconv_layers={deconv_layers} (0 to {MAX_DECONV_LAYERS})")
    if problems:
        raise ConfigValueError(f"landmark model: {'; '.join(problems)}")


def grey_stem(conv: nn.Conv2d, pretrained: bool) -> nn.Conv2d:
    """A 1-channel copy of the RGB stem convolution conv.

    With pretrained weights its kernel is the sum of the RGB kernels: a grey film replicated to
    three channels gives conv(x, W_r) + conv(x, W_g) + conv(x, W_b) = conv(x, W_r + W_g + W_b),
    so the summed kernel sees a grey film exactly as the ImageNet net saw it replicated, at a
    third of the stem's input. Without weights it is freshly initialised as torchvision
    initialises a ResNet's convolutions (summing three random kernels would triple its variance).
    """
    grey = nn.Conv2d(
        1,
        conv.out_channels,
        kernel_size=conv.kernel_size,
        stride=conv.stride,
        padding=conv.padding,
        bias=conv.bias is not None,
    )
    if pretrained:
        with torch.no_grad():
            grey.weight.copy_(conv.weight.sum(dim=1, keepdim=True))
    else:
        nn.init.kaiming_normal_(grey.weight, mode="fan_out", nonlinearity="relu")
    return grey


def resnet_trunk(arch: str, in_channels: int, weights: str | None) -> tuple[nn.Sequential, int]:
    """The ResNet up to its last stage (stride 32) and that stage's channel count.

    weights: a state dict file (an ImageNet file as torchvision keeps it, or one of our
    checkpoints; backbones.read_state_dict reads both) or None for random initialisation. This
    never downloads: the LightningModule asks backbones.weights_file for the ImageNet file.
    """
    # 1000 classes: an ImageNet file's classifier fits and loads, to be dropped just below.
    model = build_backbone(arch, 1000, pretrained="none", weights_path=weights, download=False)
    if in_channels == 1:
        model.conv1 = grey_stem(model.conv1, pretrained=weights is not None)
    channels = model.fc.in_features
    # Named children keep the torchvision names in the state dict (backbone.layer4.1.conv2 ...).
    layers = OrderedDict(
        (name, child) for name, child in model.named_children() if name not in ("avgpool", "fc")
    )
    return nn.Sequential(layers), channels


def deconv_head(
    in_channels: int, deconv_channels: int, deconv_layers: int, num_landmarks: int
) -> nn.Sequential:
    """Simple Baselines' head: (ConvTranspose 4x4 stride 2 -> BN -> ReLU) x deconv_layers, each
    doubling the map exactly (kernel 4, padding 1, output padding 0), then a 1x1 convolution to
    one heatmap per landmark; initialised as Simple Baselines does."""
    layers: list[nn.Module] = []
    for i in range(deconv_layers):
        layers += [
            nn.ConvTranspose2d(
                in_channels if i == 0 else deconv_channels,
                deconv_channels,
                kernel_size=4,
                stride=2,
                padding=1,
                output_padding=0,
                bias=False,  # the BatchNorm after it has the bias
            ),
            nn.BatchNorm2d(deconv_channels),
            nn.ReLU(inplace=True),
        ]
    final_in = deconv_channels if deconv_layers else in_channels
    layers.append(nn.Conv2d(final_in, num_landmarks, kernel_size=1))
    head = nn.Sequential(*layers)
    for module in head.modules():
        if isinstance(module, nn.ConvTranspose2d | nn.Conv2d):
            nn.init.normal_(module.weight, std=HEAD_INIT_STD)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    return head


class LandmarkNet(nn.Module):
    """(B, in_channels, H, W) float, already normalised -> (B, num_landmarks, H/4, W/4)
    heatmaps (H/stride, W/stride for another deconv_layers). H and W must be multiples of 32
    (the backbone's stride): letterboxed squares of 256, 384 or 512 px are."""

    def __init__(
        self,
        arch: str = "resnet50",
        num_landmarks: int = 23,
        in_channels: int = 1,
        deconv_channels: int = 256,
        deconv_layers: int = 3,
        weights: str | None = None,
    ) -> None:
        super().__init__()
        check_settings(arch, num_landmarks, in_channels, deconv_channels, deconv_layers)
        self.in_channels = in_channels
        self.stride = heatmap_stride(deconv_layers)
        self.backbone, channels = resnet_trunk(arch, in_channels, weights)
        self.head = deconv_head(channels, deconv_channels, deconv_layers, num_landmarks)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        height, width = images.shape[-2:]
        if height % BACKBONE_STRIDE or width % BACKBONE_STRIDE:
            # Otherwise the backbone rounds down and the heatmaps no longer sit on the
            # stride grid predict_points maps back with.
            raise ConfigValueError(
                f"landmark model: input {height}x{width} px; its sides must be multiples of "
                f"{BACKBONE_STRIDE} (e.g. 256, 384, 512)"
            )
        return self.head(self.backbone(images))


def heatmap_to_input(points: torch.Tensor, stride: int) -> torch.Tensor:
    """(x, y) in heatmap pixels -> input pixels, pixel centres at integers in both.

    Heatmap pixel i covers input pixels stride*i .. stride*i + stride - 1, whose centre is
    stride*i + (stride - 1)/2: x_in = (x_h + 0.5) * stride - 0.5 (stride 4: 4*x_h + 1.5). The
    heatmap targets are drawn at x_h = (x_in + 0.5) / stride - 0.5, its inverse.
    """
    return (points + 0.5) * stride - 0.5


def predict_points(heatmaps: torch.Tensor, stride: int = 4) -> torch.Tensor:
    """(B, K, h, w) heatmaps -> (B, K, 2) (x, y) in input pixels: the model's read-out
    (heatmap_readout.readout: the log-domain quadratic peak) mapped through heatmap_to_input.
    stride: LandmarkNet.stride (4 with three deconvolutions)."""
    return heatmap_to_input(readout(heatmaps), stride)
