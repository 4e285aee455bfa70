"""The paper's augmentation for a whole batch on its device (the GPU path).

PaperAugmentation (albumentations, one image at a time, in the loader) is the reference. This
is the same distribution computed batched where the batch already is: the parameters are those
of the PaperAugmentation the config builds (one definition), the draws are made in the loader
from (seed, epoch, batch) like every other random choice of a run, and the warps follow
albumentations' conventions exactly: flips first, then a rotation by the first angle about the
image centre, rounded to uint8, then a rotation by the second angle, rounded again (two
resamplings, as the paper's two Keras layers do), bilinear, with the same border rule.
On a GPU a batch of 256 costs a few milliseconds; per-image OpenCV warps in loader processes
would need a core per ~300 images/s.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from csxa_lightning.data.augment import PaperAugmentation

# OpenCV border rule -> grid_sample padding. With align_corners=False, "reflection" mirrors
# about the pixel edge (d c b a | a b c d): cv2.BORDER_REFLECT, Keras' "reflect".
PADDING = {"reflect": "reflection", "constant": "zeros", "replicate": "border"}
# Columns of the per-sample parameter rows the loader hands over.
HFLIP, VFLIP, FIRST_ANGLE, SECOND_ANGLE = range(4)


class DeviceAugmentation:
    """Flips and two sequential rotations of a uint8 (B, C, H, W) batch, given per-sample
    parameters from ``draw``. Square images only (every model input here is S x S)."""

    def __init__(self, **settings) -> None:
        """settings: those of PaperAugmentation (hflip_p, vflip_p, first_rotation,
        second_rotation, border_mode), checked by it: one definition of the parameters."""
        self._adopt(PaperAugmentation(**settings))

    @classmethod
    def like(cls, paper: PaperAugmentation) -> DeviceAugmentation:
        """The device twin of a configured PaperAugmentation."""
        twin = cls.__new__(cls)
        twin._adopt(paper)
        return twin

    def _adopt(self, paper: PaperAugmentation) -> None:
        self.hflip_p, self.vflip_p = paper.hflip_p, paper.vflip_p
        self.first_rotation, self.second_rotation = paper.first_rotation, paper.second_rotation
        self.border_mode = paper.border_mode

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """(n, 4) float32 rows [hflip 0/1, vflip 0/1, first angle, second angle (degrees)]:
        flips Bernoulli(p), angles U(-limit, limit), as albumentations draws them."""
        params = np.empty((n, 4), dtype=np.float32)
        params[:, HFLIP] = rng.random(n) < self.hflip_p
        params[:, VFLIP] = rng.random(n) < self.vflip_p
        params[:, FIRST_ANGLE] = rng.uniform(-self.first_rotation, self.first_rotation, n)
        params[:, SECOND_ANGLE] = rng.uniform(-self.second_rotation, self.second_rotation, n)
        return params

    def __call__(self, images: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise ValueError(f"expected uint8 (B, C, H, W), got {images.dtype} {images.shape}")
        if images.shape[-1] != images.shape[-2]:
            raise ValueError(f"expected square images, got {tuple(images.shape[-2:])}")
        params = params.to(images.device, torch.float32)
        hflip = params[:, HFLIP].bool().view(-1, 1, 1, 1)
        vflip = params[:, VFLIP].bool().view(-1, 1, 1, 1)
        x = torch.where(hflip, images.flip(-1), images)
        x = torch.where(vflip, x.flip(-2), x)
        for column in (FIRST_ANGLE, SECOND_ANGLE):
            x = self._rotate(x, params[:, column])
        return x

    def _rotate(self, images: torch.Tensor, degrees: torch.Tensor) -> torch.Tensor:
        """Rotation about the centre, counter-clockwise on screen for a positive angle (as
        albumentations' Rotate), bilinear, rounded back to uint8 like OpenCV's warpAffine."""
        radians = degrees * (math.pi / 180.0)
        cos, sin = radians.cos(), radians.sin()
        zero = torch.zeros_like(cos)
        # affine_grid maps output to input coordinates (x right, y down, [-1, 1]): sampling the
        # input at R(-angle) turns the picture by +angle on screen.
        theta = torch.stack(
            [torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1
        )
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)
        warped = F.grid_sample(
            images.float(),
            grid,
            mode="bilinear",
            padding_mode=PADDING[self.border_mode],
            align_corners=False,
        )
        return warped.round_().clamp_(0, 255).to(torch.uint8)
