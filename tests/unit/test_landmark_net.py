"""The landmark network and its heatmap read-outs: shapes, sub-pixel read-out on synthetic
Gaussians, the masked loss, the stride-4 coordinate mapping, a tiny overfit, and the refusal
of a non-ResNet backbone. Random initialisation throughout: nothing is downloaded."""

from __future__ import annotations

import time

import pytest
import torch
import torchvision

from csxa_lightning.models.heatmap_readout import heatmap_loss, quadratic_peak, soft_argmax
from csxa_lightning.models.landmark_net import (
    LandmarkNet,
    heatmap_to_input,
    predict_points,
    supported_archs,
)
from csxa_lightning.utils.errors import ConfigValueError


def gaussian_maps(centres: torch.Tensor, height: int, width: int, sigma: float) -> torch.Tensor:
    """(..., 2) (x, y) centres in heatmap pixels -> (..., height, width) Gaussians of peak 1."""
    ys = torch.arange(height, dtype=torch.float32)[:, None]
    xs = torch.arange(width, dtype=torch.float32)[None, :]
    cx, cy = centres[..., 0, None, None], centres[..., 1, None, None]
    return torch.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * sigma**2))


@pytest.fixture(scope="module")
def net() -> LandmarkNet:
    torch.manual_seed(0)
    return LandmarkNet("resnet18", in_channels=1).eval()


@pytest.mark.parametrize("in_channels", [1, 3])
def test_heatmaps_are_a_quarter_of_the_input(in_channels):
    model = LandmarkNet("resnet18", in_channels=in_channels).eval()
    with torch.no_grad():
        heatmaps = model(torch.randn(2, in_channels, 64, 64))
    assert heatmaps.shape == (2, 23, 16, 16)
    assert model.stride == 4
    assert model.backbone.conv1.in_channels == in_channels


def test_head_starts_as_simple_baselines_does(net):
    deconvs = [m for m in net.head if isinstance(m, torch.nn.ConvTranspose2d)]
    assert len(deconvs) == 3
    assert all(m.kernel_size == (4, 4) and m.stride == (2, 2) for m in deconvs)
    assert all(m.padding == (1, 1) and m.output_padding == (0, 0) for m in deconvs)
    assert all(m.out_channels == 256 for m in deconvs)
    final = net.head[-1]
    assert final.kernel_size == (1, 1) and final.out_channels == 23
    assert float(final.weight.detach().std()) == pytest.approx(0.001, rel=0.2)
    assert not final.bias.any()
    bns = [m for m in net.head if isinstance(m, torch.nn.BatchNorm2d)]
    assert all(bool((m.weight == 1).all() and (m.bias == 0).all()) for m in bns)


def test_an_input_off_the_stride_grid_is_refused(net):
    with pytest.raises(ConfigValueError, match="multiples of 32"):
        net(torch.zeros(1, 1, 64, 70))


def test_a_grey_stem_sums_the_loaded_rgb_kernels(tmp_path):
    reference = torchvision.models.resnet18(weights=None)  # shaped like the ImageNet file
    path = tmp_path / "resnet18-local.pth"
    torch.save(reference.state_dict(), path)
    grey = LandmarkNet("resnet18", in_channels=1, weights=str(path)).eval()
    rgb = LandmarkNet("resnet18", in_channels=3, weights=str(path)).eval()
    assert torch.equal(grey.backbone.layer4[1].conv2.weight, reference.layer4[1].conv2.weight)
    assert torch.allclose(grey.backbone.conv1.weight, reference.conv1.weight.sum(1, keepdim=True))
    film = torch.randn(1, 1, 64, 64)
    with torch.no_grad():  # a grey film through the summed stem = replicated through RGB
        assert torch.allclose(
            grey.backbone(film), rgb.backbone(film.expand(-1, 3, -1, -1)), atol=1e-4
        )


@pytest.mark.parametrize("arch", ["vgg16", "densenet121", "not_a_model"])
def test_a_non_resnet_arch_is_refused_in_one_line(arch):
    with pytest.raises(ConfigValueError) as caught:
        LandmarkNet(arch)
    message = str(caught.value)
    assert "\n" not in message
    assert repr(arch) in message and "resnet18" in message and "resnet50" in message
    assert "vgg16" not in supported_archs()


def test_quadratic_peak_finds_a_sub_pixel_centre():
    centres = torch.tensor([[[5.3, 7.8], [10.45, 3.6]]])
    maps = gaussian_maps(centres, 16, 16, sigma=1.0)
    assert torch.allclose(quadratic_peak(maps), centres, atol=0.05)
    # The plain parabola (not on the log) is still within a tenth of a pixel.
    assert torch.allclose(quadratic_peak(maps, log_domain=False), centres, atol=0.1)


def test_soft_argmax_finds_a_sub_pixel_centre_and_has_a_gradient():
    centres = torch.tensor([[[5.3, 7.8], [10.45, 3.6]]])
    maps = gaussian_maps(centres, 16, 16, sigma=1.0).requires_grad_()
    points = soft_argmax(maps, beta=10.0)
    assert torch.allclose(points, centres, atol=0.2)
    points.sum().backward()
    assert maps.grad is not None and maps.grad.abs().sum() > 0


def test_quadratic_peak_keeps_the_integer_argmax_on_the_border():
    maps = torch.zeros(1, 3, 8, 8)
    maps[0, 0, 0, 0] = 1.0  # a corner: no neighbour beyond on either axis
    maps[0, 1, 4, 7] = 1.0  # the right edge: refined along y only (flat there), not along x
    maps[0, 1, 4, 6] = 0.9
    maps[0, 2, 3, 4], maps[0, 2, 3, 5] = 1.0, 1.0  # two equal pixels: clamped to half a pixel
    points = quadratic_peak(maps)
    assert points[0, 0].tolist() == [0.0, 0.0]
    assert points[0, 1].tolist() == [7.0, 4.0]
    assert points[0, 2, 0].item() == pytest.approx(4.5)  # never further than half a pixel


def test_the_chosen_readout_beats_soft_argmax_on_small_maps():
    """The measurement behind heatmap_readout's choice, on fewer maps (16x16, sigma 1)."""
    generator = torch.Generator().manual_seed(0)
    centres = 3 + 10 * torch.rand(1, 400, 2, generator=generator)
    clean = gaussian_maps(centres, 16, 16, sigma=1.0)

    def error(points: torch.Tensor) -> float:
        return float((points - centres).norm(dim=-1).mean())

    assert error(quadratic_peak(clean)) < 1e-3
    noisy = clean + 0.05 * torch.randn(clean.shape, generator=generator)
    assert error(quadratic_peak(noisy)) < 0.15
    assert error(quadratic_peak(noisy)) < error(soft_argmax(noisy))


def test_heatmap_loss_ignores_invisible_landmarks():
    target = torch.rand(2, 4, 8, 8)
    pred = target.clone()
    visible = torch.tensor([[True, False, True, True], [True, True, True, False]])
    assert heatmap_loss(pred, target, visible).item() == 0.0
    pred[0, 1] += 5.0  # invisible: no change
    pred[1, 3] = float("nan")
    assert heatmap_loss(pred, target, visible).item() == 0.0
    pred[0, 0] += 1.0  # visible: one map of the six visible is 1 off everywhere
    assert heatmap_loss(pred, target, visible).item() == pytest.approx(1 / 6)
    none = torch.zeros(2, 4, dtype=torch.bool)
    pred.requires_grad_()
    loss = heatmap_loss(pred, target, none)
    loss.backward()
    assert loss.item() == 0.0


def test_the_stride_four_mapping_puts_heatmap_pixels_on_their_input_blocks():
    # Heatmap pixel 0 covers input pixels 0..3 (centre 1.5); pixel 15 covers 60..63.
    points = torch.tensor([[[0.0, 15.0]]])
    assert heatmap_to_input(points, 4).tolist() == [[[1.5, 61.5]]]
    maps = torch.zeros(1, 1, 16, 16)
    maps[0, 0, 15, 0] = 1.0
    assert predict_points(maps).tolist() == [[[1.5, 61.5]]]


def blob_films(points: torch.Tensor, size: int) -> torch.Tensor:
    """Films with a bright blob per landmark, its brightness the landmark's identity (the
    first brightest): (N, K, 2) input-pixel points -> (N, 1, size, size)."""
    brightness = torch.linspace(1.0, 0.4, points.shape[1])[None, :, None, None]
    blobs = gaussian_maps(points, size, size, sigma=1.5) * brightness
    return blobs.amax(dim=1, keepdim=True) * 4 - 1  # roughly zero-mean, as normalised input


def recompute_batch_norm(model: torch.nn.Module, films: torch.Tensor) -> None:
    """Running statistics of every BatchNorm set to the films' own (PreciseBN): after a few
    dozen steps the running averages still lag the moving weights, and eval mode would read the
    lag rather than what the network learned."""
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # a cumulative average: one batch gives its own statistics
    model.train()
    with torch.no_grad():
        model(films)


@pytest.fixture
def one_thread():
    """One intra-op thread: on a shared 2-core machine two threads spin against other jobs
    and made a training step several times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow  # about 7 s: make test stays under 10 min
def test_a_tiny_landmark_net_overfits_blobs(one_thread):
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(1)
    points = 8 + 48 * torch.rand(4, 3, 2, generator=generator)  # 4 films, 3 landmarks, 64 px
    films = blob_films(points, 64)
    targets = gaussian_maps((points + 0.5) / 4 - 0.5, 16, 16, sigma=1.0)
    visible = torch.ones(points.shape[:2], dtype=torch.bool)
    model = LandmarkNet("resnet18", num_landmarks=3, in_channels=1)

    def mean_error() -> float:
        model.eval()
        with torch.no_grad():
            found = predict_points(model(films), model.stride)
        return float((found - points).norm(dim=-1).mean())

    before = mean_error()
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    start = time.perf_counter()
    for _ in range(50):
        optimizer.zero_grad()
        heatmap_loss(model(films), targets, visible).backward()
        optimizer.step()
    recompute_batch_norm(model, films)
    after = mean_error()
    print(
        f"overfit: mean error {before:.2f} -> {after:.2f} px in {time.perf_counter() - start:.1f} s"
    )
    assert after < 2.0 and after < before / 10, (before, after)
