"""Backbones: 2-way heads, local weights through weights_path and torchvision's cache, the
download into that cache (from a local file:// URL), and a clear stop when ImageNet weights
cannot be had. Nothing here touches the network."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch
import torchvision

from csxa_lightning.models import backbones
from csxa_lightning.models.backbones import (
    WeightsNotFoundError,
    build_backbone,
    ensure_imagenet_weights,
    imagenet_weights_file,
)


@pytest.mark.parametrize(
    ("arch", "head"), [("resnet18", "fc"), ("resnet50", "fc"), ("vgg19", "classifier.6")]
)
def test_head_is_two_way(arch, head):
    model = build_backbone(arch, pretrained="none")
    assert model.get_submodule(head).out_features == 2
    with torch.no_grad():
        assert model.eval()(torch.zeros(1, 3, 64, 64)).shape == (1, 2)


def test_weights_path_loads_an_imagenet_shaped_state_dict(tmp_path):
    reference = torchvision.models.resnet18(weights=None)  # 1000-way head, like ImageNet files
    path = tmp_path / "resnet18-local.pth"
    torch.save(reference.state_dict(), path)
    model = build_backbone("resnet18", weights_path=str(path))
    assert torch.equal(model.conv1.weight, reference.conv1.weight)
    assert torch.equal(model.layer4[1].bn2.running_var, reference.layer4[1].bn2.running_var)
    assert model.fc.out_features == 2  # the 1000-way head is not taken


def test_weights_path_loads_our_own_lightning_checkpoint_head_included(tmp_path):
    trained = build_backbone("resnet18", pretrained="none")
    path = tmp_path / "epoch003.ckpt"
    torch.save({"state_dict": {f"net.{k}": v for k, v in trained.state_dict().items()}}, path)
    model = build_backbone("resnet18", weights_path=str(path))
    assert torch.equal(model.fc.weight, trained.fc.weight)


def test_weights_of_another_architecture_are_refused(tmp_path):
    path = tmp_path / "resnet50.pth"
    torch.save(torchvision.models.resnet50(weights=None).state_dict(), path)
    with pytest.raises(ValueError, match="resnet50.pth.*does not fit"):
        build_backbone("resnet18", weights_path=str(path))


def test_missing_weights_path_names_the_file(tmp_path):
    with pytest.raises(WeightsNotFoundError, match="nothing.pth"):
        build_backbone("resnet18", weights_path=str(tmp_path / "nothing.pth"))


def test_imagenet_weights_come_from_torch_home_or_stop_with_the_file_name(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    expected = tmp_path / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    assert imagenet_weights_file("resnet18") == expected
    with pytest.raises(WeightsNotFoundError) as err:
        build_backbone("resnet18", pretrained="imagenet", download=False)
    assert str(expected) in str(err.value) and "model.pretrained=none" in str(err.value)
    assert "model.download=false" in str(err.value)

    expected.parent.mkdir(parents=True)
    reference = torchvision.models.resnet18(weights=None)
    torch.save(reference.state_dict(), expected)
    model = build_backbone("resnet18", pretrained="imagenet")
    assert torch.equal(model.conv1.weight, reference.conv1.weight)


def test_unknown_choices_are_named():
    with pytest.raises(ValueError, match="model.arch='resnet999'"):
        build_backbone("resnet999")
    with pytest.raises(ValueError, match="model.pretrained='coco'"):
        build_backbone("resnet18", pretrained="coco")


def served_weights(folder: Path, state: dict, digest_prefix: str | None = None) -> str:
    """A state dict saved as torchvision names its files (<arch>-<sha256 prefix>.pth), and the
    file:// URL it is downloaded from."""
    folder.mkdir(parents=True, exist_ok=True)
    staged = folder / "staged.pth"
    torch.save(state, staged)
    prefix = digest_prefix or hashlib.sha256(staged.read_bytes()).hexdigest()[:8]
    served = folder / f"resnet18-{prefix}.pth"
    staged.rename(served)
    return served.as_uri()


def test_absent_imagenet_weights_are_downloaded_into_torch_home_with_their_hash_checked(
    tmp_path, monkeypatch
):
    reference = torchvision.models.resnet18(weights=None)
    url = served_weights(tmp_path / "server", reference.state_dict())
    monkeypatch.setattr(backbones, "imagenet_weights_url", lambda arch: url)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))

    model = build_backbone("resnet18", pretrained="imagenet")

    cached = tmp_path / "torch" / "hub" / "checkpoints" / url.rsplit("/", 1)[1]
    assert cached.is_file()  # where torchvision keeps it: the next run reads it from there
    assert torch.equal(model.conv1.weight, reference.conv1.weight)
    (tmp_path / "server" / cached.name).unlink()  # the second time: read from the cache
    assert ensure_imagenet_weights("resnet18") == cached


def test_a_download_whose_hash_does_not_match_is_refused_and_leaves_no_file(tmp_path, monkeypatch):
    url = served_weights(tmp_path / "server", {"x": torch.zeros(1)}, digest_prefix="00000000")
    monkeypatch.setattr(backbones, "imagenet_weights_url", lambda arch: url)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    refused = r"Downloading it failed \(RuntimeError: invalid hash"
    with pytest.raises(WeightsNotFoundError, match=refused):
        ensure_imagenet_weights("resnet18")
    assert list((tmp_path / "torch" / "hub" / "checkpoints").iterdir()) == []


def test_without_network_the_message_says_what_to_copy_where(tmp_path, monkeypatch):
    def no_network(url, dst, hash_prefix=None, progress=True):
        raise OSError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(WeightsNotFoundError) as err:
        ensure_imagenet_weights("resnet18")
    message = str(err.value)
    assert message.startswith(f"ImageNet weights for resnet18 not found: expected {tmp_path}")
    assert "Downloading it failed (OSError: [Errno -3]" in message
    assert "model.weights_path=" in message and "model.pretrained=none" in message
