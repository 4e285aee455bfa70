"""Grad-CAM maps of the classifier and their overlays on the model input.

Uses pytorch-grad-cam (`grad-cam` on PyPI): it hooks any named layer of a plain nn.Module, so
the torchvision backbones need no wrapper, and it upsamples and scales the maps itself. The
layer is the backbone's last convolutional block (backbones.cam_layer_name).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.image import show_cam_on_image
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

from csxa_lightning.models.backbones import cam_layer_name
from csxa_lightning.models.classifier import CSXAClassifier


@dataclass
class CamMaps:
    maps: np.ndarray  # (B, H, W) float32 in [0, 1], H x W = the model input's size
    layer: str  # the backbone layer the maps come from
    grid: tuple[int, int]  # that layer's spatial size: the maps' true resolution


def grad_cam(
    classifier: CSXAClassifier, arch: str, images: torch.Tensor, classes: list[int]
) -> CamMaps:
    """Grad-CAM of classes[i] (logit of that class) for image i.

    images: uint8 (B, variants, C, H, W) as evaluation sees them. One map per channel order,
    averaged, as the model averages their probabilities. Each map is scaled to [0, 1] by the
    library; an all-zero map means no positive evidence for that class at this layer.
    """
    layer_name = cam_layer_name(classifier.net, arch)
    layer = classifier.net.get_submodule(layer_name)
    targets = [ClassifierOutputTarget(int(c)) for c in classes]
    device = classifier.input_mean.device
    cam = GradCAM(model=classifier.net, target_layers=[layer])
    maps, grid = [], (0, 0)
    try:
        # Gradients are needed even when the caller predicts under inference mode.
        with torch.inference_mode(False), torch.enable_grad():
            for variant in range(images.shape[1]):
                x = classifier.prepare_input(images[:, variant].to(device))
                maps.append(cam(input_tensor=x, targets=targets))
                grid = tuple(cam.activations_and_grads.activations[0].shape[-2:])
    finally:
        # Not `with GradCAM(...)`: its __exit__ swallows IndexErrors.
        cam.activations_and_grads.release()
        classifier.net.zero_grad(set_to_none=True)
    return CamMaps(np.mean(maps, axis=0).astype(np.float32), layer_name, grid)


def overlay(image: np.ndarray, cam_map: np.ndarray) -> np.ndarray:
    """RGB uint8 (H, W, 3): the map (jet colors) over the first channel of a (C, H, W) uint8
    model input -- gray for every color variant (enhanced puts gray first)."""
    gray = image[0].astype(np.float32) / 255.0
    rgb = np.repeat(gray[:, :, None], 3, axis=2)
    return show_cam_on_image(rgb, cam_map, use_rgb=True, image_weight=0.6)
