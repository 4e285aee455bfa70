"""torchvision backbones with a 2-way head, and their initial weights.

ImageNet weights come from torchvision's cache ($TORCH_HOME/hub/checkpoints/), downloaded
there the first time as `torchvision.models.*(weights=...)` does (torch.hub's downloader, its
SHA-256 prefix checked against the file name), or from an explicit file. model.download=false
(air-gapped clusters) never downloads. When the file cannot be had we stop and say which file
to put where -- never silently train from scratch.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import torch
import torchvision
from torch import nn

from csxa_lightning.utils.errors import ConfigValueError, UserError

log = logging.getLogger(__name__)

# Transformers: their blocks keep tokens, not a spatial map, so Grad-CAM has no layer to read
# (it would need a reshape of the tokens, which models/cam.py does not do).
NO_CAM_PREFIXES = ("vit_", "swin_", "swin3d_", "maxvit_")


# Built without their auxiliary training heads (a second output the training step does not
# expect); torchvision's default init (init_weights=False), as for every other family.
BUILD_OPTIONS = {
    "googlenet": {"aux_logits": False, "init_weights": False},
    "inception_v3": {"aux_logits": False, "init_weights": False},
}


class NoCamLayerError(UserError):
    """The backbone has no convolutional feature map for Grad-CAM."""


def known_archs() -> list[str]:
    """Every image classifier of torchvision (model.arch accepts any of them)."""
    return torchvision.models.list_models(module=torchvision.models)


def arch_weights(arch: str) -> type[torchvision.models.WeightsEnum] | None:
    """torchvision's weights enum of arch (its ImageNet weights), None for an unknown arch."""
    return torchvision.models.get_model_weights(arch) if arch in known_archs() else None


PRETRAINED_CHOICES = ("imagenet", "none")


class WeightsNotFoundError(UserError, FileNotFoundError):
    """Pretrained weights are not on this machine; the message says which file and how."""


def imagenet_weights_url(arch: str) -> str:
    """Where torchvision downloads the DEFAULT ImageNet weights of arch from."""
    return torchvision.models.get_model_weights(arch).DEFAULT.url


def imagenet_weights_file(arch: str) -> Path:
    """Where torchvision keeps the DEFAULT ImageNet weights of arch (e.g. resnet50-11ad3fa6.pth)."""
    url = imagenet_weights_url(arch)
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)


def download_weights(url: str, path: Path) -> None:
    """url into path as torchvision does: torch.hub's downloader, through a temporary file in
    path's folder (renamed when complete, so concurrent jobs never see half a file), the
    SHA-256 prefix in the file name checked (e.g. resnet18-f37072fd.pth)."""
    match = torch.hub.HASH_REGEX.search(path.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    log.info("downloading %s to %s", url, path)
    torch.hub.download_url_to_file(
        url, str(path), hash_prefix=match.group(1) if match else None, progress=sys.stderr.isatty()
    )


def ensure_imagenet_weights(arch: str, download: bool = True) -> Path:
    """The ImageNet weights file of arch, downloaded first when absent and download is true;
    WeightsNotFoundError (which file, from where, how to get it) when it cannot be had."""
    path = imagenet_weights_file(arch)
    if path.is_file():
        return path
    url = imagenet_weights_url(arch)
    if download:
        try:
            download_weights(url, path)
            return path
        except Exception as err:  # noqa: BLE001  (no network, refused, hash mismatch, disk)
            why = f"Downloading it failed ({type(err).__name__}: {str(err)[:200]})."
    else:
        why = "This run does not download them (model.download=false)."
    raise WeightsNotFoundError(
        f"ImageNet weights for {arch} not found: expected {path} (from {url}). {why} "
        f"Copy that file into {path.parent} (on a machine with network: "
        f"python -c \"import torchvision; torchvision.models.{arch}(weights='DEFAULT')\" "
        "then copy it from $TORCH_HOME/hub/checkpoints/), or pass "
        "model.weights_path=/path/to/file.pth, or model.pretrained=none to train from "
        "random initialisation on purpose."
    )


def weights_file(
    arch: str, pretrained: str, weights_path: str | None, download: bool = True
) -> Path | None:
    """The file a backbone's initial weights come from (None: random initialisation), checked
    to exist -- the ImageNet file downloaded if need be -- before any data is read."""
    if weights_path:
        path = Path(weights_path).expanduser()
        if not path.is_file():
            raise WeightsNotFoundError(f"model.weights_path={path}: no such file")
        return path
    if pretrained == "imagenet":
        return ensure_imagenet_weights(arch, download)
    return None


def replace_head(model: nn.Module, head: str, num_classes: int) -> None:
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
    arch: str,
    num_classes: int = 2,
    pretrained: str = "imagenet",
    weights_path: str | None = None,
    download: bool = True,
) -> nn.Module:
    """A torchvision classifier with a num_classes head and the requested initial weights."""
    if arch not in known_archs():
        raise ConfigValueError(
            f"model.arch={arch!r} is not a torchvision classifier; choose one of "
            f"torchvision.models.list_models(module=torchvision.models), e.g. resnet50, "
            "densenet121, efficientnet_b0, convnext_tiny"
        )
    if pretrained not in PRETRAINED_CHOICES:
        raise ConfigValueError(
            f"model.pretrained={pretrained!r}; choose one of {PRETRAINED_CHOICES}"
        )
    model = torchvision.models.get_model(arch, weights=None, **BUILD_OPTIONS.get(arch, {}))
    head = head_name(model, arch)
    replace_head(model, head, num_classes)
    path = weights_file(arch, pretrained, weights_path, download)
    if path is not None:
        load_backbone_weights(model, read_state_dict(path), head, str(path))
    return model


def head_name(model: nn.Module, arch: str) -> str:
    """Attribute path of the final Linear layer (the one replaced by the 2-way classifier): the
    last Linear in registration order, which is the output layer of every torchvision family
    (ResNet fc, VGG classifier.6, DenseNet classifier, EfficientNet classifier.1, ConvNeXt
    classifier.2, ViT heads.head ...)."""
    linears = [name for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not linears:  # SqueezeNet classifies with a convolution
        raise ConfigValueError(
            f"model.arch={arch}: has no Linear output layer to replace with a 2-way head"
        )
    return linears[-1]


def cam_layer_name(model: nn.Module, arch: str) -> str:
    """Attribute path of the layer Grad-CAM reads: the last top-level block that holds a
    convolution (ResNet layer4, DenseNet/EfficientNet/ConvNeXt/MobileNet features, RegNet
    trunk_output). When that block is a Sequential ending in parameter-free layers (VGG's and
    AlexNet's final ReLU and max pooling), its last layer with parameters instead: the finer
    map the pooling would halve (VGG19: features.34, 1/16 of the input side)."""
    if arch.startswith(NO_CAM_PREFIXES):
        raise NoCamLayerError(
            f"model.arch={arch}: a transformer has no convolutional feature map for Grad-CAM; "
            "train a convolutional backbone for Grad-CAM pictures (or leave cam=false)"
        )
    blocks = [
        (name, block)
        for name, block in model.named_children()
        if "aux" not in name.lower()  # GoogLeNet's and Inception's auxiliary heads
        and any(isinstance(m, nn.Conv2d) for m in block.modules())
    ]
    if not blocks:
        raise NoCamLayerError(f"model.arch={arch}: has no convolution for Grad-CAM")
    name, block = blocks[-1]
    if isinstance(block, nn.Sequential):
        with_parameters = [i for i, layer in enumerate(block) if list(layer.parameters())]
        if with_parameters and with_parameters[-1] < len(block) - 1:
            return f"{name}.{with_parameters[-1]}"
    return name
