"""Reading landmark positions out of heatmaps, and the heatmap loss (pure torch functions).

Coordinates are (x, y) in heatmap pixels with pixel centres at integers: a map whose single
bright pixel is row r, column c reads (c, r). models/landmark_net.py maps them to input pixels.

The model reads its points with quadratic_peak in the log domain (readout below). Measured
once while writing this module: mean distance (heatmap px) from the true centre over 4000
Gaussian maps each, centres uniform at sub-pixel positions away from the border, independent
Gaussian pixel noise of the std given, peak height 1 or 0.5 (an MSE-trained net may fall short
of its targets' peak):

    map, sigma, peak, noise   quadratic (log)  quadratic (raw)  soft_argmax beta=10/25/50
    64x64, 2, 1.0, 0          0.000            0.012            1.34 / 0.074 / 0.20
    64x64, 2, 1.0, 0.05       0.251            0.258            1.40 / 0.262 / 0.36
    64x64, 2, 1.0, 0.10       0.468            0.480            1.60 / 0.453 / 0.56
    64x64, 2, 0.5, 0.05       0.471            0.483            17.7 / 0.384 / 0.46
    16x16, 1, 1.0, 0          0.000            0.047            0.14 / 0.279 / 0.33
    16x16, 1, 1.0, 0.05       0.083            0.099            0.16 / 0.291 / 0.34
    16x16, 1, 0.5, 0.05       0.169            0.184            1.82 / 0.247 / 0.33

The log-domain parabola is exact on a clean Gaussian whatever the map's size or peak height,
and needs no setting. soft_argmax's best beta depends on both (10 at 16x16, 25 at 64x64; a
wrong one costs pixels, up to 17.7 px when the peak halves): tuned, it wins only on noisy
64x64 maps, by under 0.1 px. tests/unit/test_landmark_net.py re-checks the clean and noisy
16x16 rows on fewer maps.
soft_argmax stays for losses on points, which need a gradient.
"""

from __future__ import annotations

import torch

# soft_argmax's default inverse temperature: the best of 10/25/50 in the table above on 64x64
# maps with sigma 2 (a 256-px input at stride 4 with Simple Baselines' sigma).
SOFT_ARGMAX_BETA = 25.0

# The parabola's vertex moves at most half a pixel from the argmax: further away, another pixel
# would be the argmax, so a larger step only comes from noise or a flat top.
MAX_OFFSET = 0.5

# Floor before the logarithm: a heatmap regressed with MSE has values at and below 0 in its
# background; the floor keeps the log finite, and the step it gives is clamped anyway.
LOG_FLOOR = 1e-6


def soft_argmax(heatmaps: torch.Tensor, beta: float = SOFT_ARGMAX_BETA) -> torch.Tensor:
    """(B, K, H, W) -> (B, K, 2): the expected (x, y) under softmax(beta * heatmap), per map.

    Differentiable everywhere (a loss on points can train through it). beta trades two biases:
    a small beta lets the whole background weigh in and pulls every point towards the centre
    of the map; a large one narrows the softmax below a pixel and pulls the point to the
    nearest pixel centre.
    """
    batch, landmarks, height, width = heatmaps.shape
    weights = torch.softmax(beta * heatmaps.float().flatten(2), dim=-1)
    weights = weights.view(batch, landmarks, height, width)
    xs = torch.arange(width, dtype=weights.dtype, device=weights.device)
    ys = torch.arange(height, dtype=weights.dtype, device=weights.device)
    x = (weights.sum(dim=2) * xs).sum(dim=-1)  # marginal over rows, then its mean
    y = (weights.sum(dim=3) * ys).sum(dim=-1)
    return torch.stack([x, y], dim=-1)


def parabola_offset(left: torch.Tensor, centre: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
    """The vertex of the parabola through (-1, left), (0, centre), (1, right): one Newton step
    -f'/f'' with central differences, clamped to +-MAX_OFFSET; 0 where the curve is not
    concave (a flat or odd top has no vertex to trust)."""
    slope = (right - left) / 2
    curvature = right - 2 * centre + left
    concave = curvature < 0
    step = -slope / torch.where(concave, curvature, torch.ones_like(curvature))
    return torch.where(concave, step, torch.zeros_like(step)).clamp(-MAX_OFFSET, MAX_OFFSET)


def axis_refinement(
    values: torch.Tensor, index: torch.Tensor, size: int, dim: int, other: torch.Tensor
) -> torch.Tensor:
    """The sub-pixel offset along one axis (dim 2: y, rows; dim 3: x, columns) at the argmax;
    0 on the border of that axis, where the pixel beyond is missing."""
    inside = (index > 0) & (index < size - 1)
    before = (index - 1).clamp(0, size - 1)
    after = (index + 1).clamp(0, size - 1)
    flat = values.flatten(2)
    width = values.shape[3]

    def at(i: torch.Tensor) -> torch.Tensor:
        position = i * width + other if dim == 2 else other * width + i
        return flat.gather(2, position.unsqueeze(-1)).squeeze(-1)

    offset = parabola_offset(at(before), at(index), at(after))
    return torch.where(inside, offset, torch.zeros_like(offset))


def quadratic_peak(heatmaps: torch.Tensor, log_domain: bool = True) -> torch.Tensor:
    """(B, K, H, W) -> (B, K, 2): the argmax pixel, moved per axis to the vertex of the
    parabola through it and its two neighbours on that axis (clamped to +-0.5 px). On the
    border of an axis, the integer argmax on that axis.

    log_domain fits the parabola to log(heatmap), as DARK does (Zhang et al. 2020,
    "Distribution-Aware Coordinate Representation for Human Pose Estimation"): the log of a
    Gaussian is a parabola, so a clean Gaussian's centre is found exactly; fitted to the values
    themselves the vertex is biased towards the argmax pixel. Not differentiable (an argmax).
    """
    maps = heatmaps.detach().float()
    height, width = maps.shape[2:]
    if log_domain:
        maps = maps.clamp_min(LOG_FLOOR).log()
    best = maps.flatten(2).argmax(dim=-1)
    row, column = best // width, best % width
    dx = axis_refinement(maps, column, width, 3, row)
    dy = axis_refinement(maps, row, height, 2, column)
    return torch.stack([column + dx, row + dy], dim=-1)


def heatmap_loss(pred: torch.Tensor, target: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
    """Mean squared error between (B, K, H, W) heatmaps over the visible landmarks only.

    visible: (B, K) bool; an invisible landmark's map contributes nothing, neither to the sum
    nor to the count. Simple Baselines (Xiao et al. 2018, JointsMSELoss) zeroes invisible maps
    too but divides by every joint (and halves): here the mean is over the visible maps'
    pixels, so the loss's scale does not depend on how many landmarks a batch lacks. With no
    visible landmark the loss is 0 (still attached to pred, so backward runs).
    """
    if pred.shape != target.shape or visible.shape != pred.shape[:2]:
        raise ValueError(
            f"heatmap_loss: pred {tuple(pred.shape)}, target {tuple(target.shape)} and visible "
            f"{tuple(visible.shape)} do not fit (B, K, H, W), (B, K, H, W), (B, K)"
        )
    mask = visible[:, :, None, None]
    # where, not a product: a masked map holding inf or NaN must not reach the sum either.
    squared = torch.where(mask, (pred.float() - target.float()).square(), 0.0)
    pixels = visible.sum() * pred.shape[2] * pred.shape[3]
    return squared.sum() / pixels.clamp_min(1)


def readout(heatmaps: torch.Tensor) -> torch.Tensor:
    """The read-out the model uses for its points (see the module's docstring)."""
    return quadratic_peak(heatmaps)
