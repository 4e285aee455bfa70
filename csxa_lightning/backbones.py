"""torchvision backbones with a 2-way head, and their weights from a local file only.

No network at run time: ImageNet weights come from torchvision's cache
($TORCH_HOME/hub/checkpoints/) or an explicit file; when absent we stop and say which file to
put where -- never silently train from scratch.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torchvision
from torch import nn

from csxa_lightning.errors import ConfigValueError, UserError


@dataclass(frozen=True)
class Arch:
    build: Callable[..., nn.Module]
    weights: type[torchvision.models.WeightsEnum]
    head: str  # attribute path of the final Linear layer, replaced by the 2-way classifier
    # Attribute path of the last convolutional block, where Grad-CAM reads activations and
    # gradients: the last layer that still has a spatial map (ResNet: 1/32 of the input side;
    # VGG19: its last Conv2d, before the final pooling, 1/16).
    cam_layer: str


ARCHS: dict[str, Arch] = {
    "resnet18": Arch(
        torchvision.models.resnet18, torchvision.models.ResNet18_Weights, "fc", "layer4"
    ),
    "resnet50": Arch(
        torchvision.models.resnet50, torchvision.models.ResNet50_Weights, "fc", "layer4"
    ),
    "vgg19": Arch(
        torchvision.models.vgg19, torchvision.models.VGG19_Weights, "classifier.6", "features.34"
    ),
}
PRETRAINED_CHOICES = ("imagenet", "none")


class WeightsNotFoundError(UserError, FileNotFoundError):
    """Pretrained weights are not on this machine; the message says which file and how."""


def imagenet_weights_file(arch: str) -> Path:
    """Where torchvision keeps the DEFAULT ImageNet weights of arch (e.g. resnet50-11ad3fa6.pth)."""
    url = ARCHS[arch].weights.DEFAULT.url
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)


def _replace_head(model: nn.Module, head: str, num_classes: int) -> None:
    parent_path, _, name = head.rpartition(".")
    parent = model.get_submodule(parent_path)
    # nn.Module keeps children by name, "6" inside a Sequential included: get/setattr work.
    setattr(parent, name, nn.Linear(getattr(parent, name).in_features, num_classes))


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """A plain state dict, a {'state_dict': ...} wrapper or a Lightning checkpoint of ours."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise WeightsNotFoundError(f"model.weights_path={path}: no such file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for a file that is not a checkpoint
        raise ConfigValueError(
            f"model.weights_path={path}: not a PyTorch state dict ({err})"
        ) from err
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ConfigValueError(
            f"model.weights_path={path}: holds {type(state).__name__}, not a state dict"
        )
    # Our LightningModule stores the backbone under "net."; accept its checkpoints directly.
    if any(k.startswith("net.") for k in state):
        state = {k[4:]: v for k, v in state.items() if k.startswith("net.")}
    return state


def load_backbone_weights(
    model: nn.Module, state: dict[str, torch.Tensor], head: str, source: str
) -> None:
    """Load every backbone tensor from state; the head too when its shape fits (our own model).

    An ImageNet file has a 1000-way head, which is skipped: the 2-way head stays freshly
    initialised. Any other mismatch is an error naming the file.
    """
    own = model.state_dict()
    head_keys = {f"{head}.weight", f"{head}.bias"}
    usable = {
        k: v
        for k, v in state.items()
        if k in own and (k not in head_keys or v.shape == own[k].shape)
    }
    missing = [k for k in own if k not in usable and k not in head_keys]
    wrong_shape = [
        k for k in state if k in own and k not in head_keys and state[k].shape != own[k].shape
    ]
    if missing or wrong_shape:
        raise ConfigValueError(
            f"{source}: does not fit this backbone ({len(missing)} tensors missing, e.g. "
            f"{missing[:3]}; wrong shapes: {wrong_shape[:3]}). Is it the weights of another "
            "architecture? Set model.arch to match the file."
        )
    model.load_state_dict(usable, strict=False)


def build_backbone(
    arch: str, num_classes: int = 2, pretrained: str = "imagenet", weights_path: str | None = None
) -> nn.Module:
    """A torchvision classifier with a num_classes head and the requested initial weights."""
    if arch not in ARCHS:
        raise ConfigValueError(f"model.arch={arch!r} is not known; choose one of {sorted(ARCHS)}")
    if pretrained not in PRETRAINED_CHOICES:
        raise ConfigValueError(
            f"model.pretrained={pretrained!r}; choose one of {PRETRAINED_CHOICES}"
        )
    spec = ARCHS[arch]
    model = spec.build(weights=None)
    _replace_head(model, spec.head, num_classes)
    if weights_path:
        load_backbone_weights(model, read_state_dict(weights_path), spec.head, str(weights_path))
    elif pretrained == "imagenet":
        path = imagenet_weights_file(arch)
        if not path.is_file():
            raise WeightsNotFoundError(
                f"ImageNet weights for {arch} not found: expected {path} "
                f"(from {spec.weights.DEFAULT.url}). This machine does not download them. "
                f"Copy that file into {path.parent} (on a machine with network: "
                f"python -c \"import torchvision; torchvision.models.{arch}(weights='DEFAULT')\" "
                "then copy it from $TORCH_HOME/hub/checkpoints/), or pass "
                "model.weights_path=/path/to/file.pth, or model.pretrained=none to train from "
                "random initialisation on purpose."
            )
        load_backbone_weights(model, read_state_dict(path), spec.head, str(path))
    return model
