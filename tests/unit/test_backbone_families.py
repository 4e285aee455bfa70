"""Any torchvision classifier as the backbone: for one model of each family the 2-way head and
the Grad-CAM layer are found, a training step runs, and Grad-CAM maps come out (transformers:
a clear refusal instead). Random initialisation, tiny inputs: no network, seconds on a CPU."""

from __future__ import annotations

import pytest
import torch

from csxa_lightning.models.backbones import (
    NoCamLayerError,
    build_backbone,
    cam_layer_name,
    head_name,
    known_archs,
)
from csxa_lightning.models.cam import grad_cam
from csxa_lightning.models.classifier import CSXAClassifier
from csxa_lightning.utils.errors import ConfigValueError
from tests.helpers import compose_train_config

FAMILIES = {
    # arch: (head, Grad-CAM layer)
    "resnet18": ("fc", "layer4"),
    "vgg11": ("classifier.6", "features.18"),
    "densenet121": ("classifier", "features"),
    "efficientnet_b0": ("classifier.1", "features"),
    "convnext_tiny": ("classifier.2", "features"),
    "regnet_y_400mf": ("fc", "trunk_output"),
    "mobilenet_v3_small": ("classifier.3", "features"),
}


@pytest.mark.parametrize("arch", sorted(FAMILIES))
def test_head_and_cam_layer_are_found_and_a_training_step_runs(arch):
    torch.manual_seed(0)
    classifier = CSXAClassifier(arch=arch, pretrained="none", channels_last=False)
    net = classifier.net
    assert (head_name(net, arch), cam_layer_name(net, arch)) == FAMILIES[arch]
    assert net.get_submodule(FAMILIES[arch][0]).out_features == 2
    images = torch.randint(0, 256, (2, 1, 3, 64, 64), dtype=torch.uint8)
    net.train()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01)
    before = net.get_submodule(FAMILIES[arch][0]).weight.detach().clone()
    logits = net(classifier.prepare_input(images[:, 0]))
    torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1])).backward()
    optimizer.step()
    assert not torch.equal(before, net.get_submodule(FAMILIES[arch][0]).weight)
    net.eval()
    cams = grad_cam(classifier, arch, images, [1, 0])
    assert cams.maps.shape == (2, 64, 64) and cams.layer == FAMILIES[arch][1]
    assert cams.grid[0] >= 1


@pytest.mark.slow  # building ViT-B/16 (86 M parameters) takes a while on a busy CPU
@pytest.mark.parametrize(("arch", "head"), [("vit_b_16", "heads.head"), ("swin_t", "head")])
def test_transformers_get_a_head_and_a_clear_refusal_of_grad_cam(arch, head):
    net = build_backbone(arch, pretrained="none")
    assert head_name(net, arch) == head and net.get_submodule(head).out_features == 2
    with pytest.raises(NoCamLayerError, match="transformer"):
        cam_layer_name(net, arch)


def test_unknown_or_headless_archs_are_refused():
    assert {"densenet121", "convnext_tiny", "vit_b_16"} <= set(known_archs())
    with pytest.raises(ConfigValueError, match="not a torchvision classifier"):
        build_backbone("resnet7", pretrained="none")
    with pytest.raises(ConfigValueError, match="no Linear output layer"):
        build_backbone("squeezenet1_0", pretrained="none")


@pytest.mark.parametrize("name", ["densenet121", "efficientnet_b0", "convnext_tiny"])
def test_named_model_configs_compose(name):
    cfg = compose_train_config([f"model={name}"])
    assert cfg.model.arch == name and cfg.model.num_classes == 2
