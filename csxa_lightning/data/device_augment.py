"""The paper's augmentation for a whole batch on its device (the GPU path).

PaperAugmentation (albumentations + OpenCV, one image at a time, in the loader) is the
reference. This is the same distribution computed batched where the batch already is: the
parameters are those of the PaperAugmentation the config builds (one definition), the draws are
made in the loader from (seed, epoch, batch) like every other random choice of a run, and the
warps give OpenCV's pixels for the same draws: flips first, then a rotation by the first angle
about the image center, rounded to uint8, then a rotation by the second angle times the zoom
factor, rounded again; nearest or bilinear, with the same border rule.

Not ``affine_grid`` + ``grid_sample``: they work in normalized [-1, 1] coordinates, and the
float32 round trip moves a source coordinate by ~1e-5 pixel, which near a half-pixel tie picks
the other nearest neighbour (~1e-5 of the pixels, measured), and they weight the bilinear taps
in another order (+-1 on ~1e-3 of the pixels). Instead the source coordinates are computed in
OpenCV's own convention and precision, and the pixels gathered. OpenCV >= 4.11 (the float SIMD
kernels of ``modules/imgproc/src/warp_kernels.simd.hpp``; the lock's 5.0.0.93) inverts the
2x3 matrix in float64, rounds it to float32, and for output pixel (x, y) computes in float32
``sx = fma(M0, x, y * M1 + M2)`` (likewise sy). Nearest takes ``cvRound(sx)``, round half to
even; bilinear takes ``floor(sx)`` and the fraction ``ax``, blends ``fma(ax, p01 - p00, p00)``
along x, then the same along y, and rounds half to even. Borders apply per tap, as there: 0
outside (constant), mirrored about the edge (reflect), clamped (replicate).

Measured against albumentations for the same draws, on x86 with AVX2 / AVX-512 (hardware fma;
a CPU without it rounds OpenCV's products separately): no pixel differs for widths that are a
multiple of 32 (224 included), all interpolations, borders and zooms. The last ``W mod 16``
(AVX2) or ``W mod 32`` (AVX-512) columns of a row go through OpenCV's scalar loop, whose fma
contraction the compiler chose: there ~1e-5 of the pixels differ, by 1 (bilinear) or by a
neighbour (nearest). OpenCV 4.9/4.10's fixed-point kernels (1/1024-pixel coordinates, rounded
half up) would disagree on ~0.1% of nearest pixels.

OpenCV 5.1 changed these warps for the constant and replicate borders (reflect kept the kernel
above; measured 5.0.0.93 against 5.1.0.95 on the same inputs). Its source coordinates are
computed in more than float32 precision (offsets of 1e-9 pixel move a pixel), nearest rounds an
exact half-pixel tie up instead of to even, and a tie on the far edge (x = W - 0.5) is inside
the image. On random rotations and zooms (no exact ties) 1e-5 to 3e-5 of the nearest pixels and
1e-4 to 4e-4 of the bilinear ones change (bilinear by 1); where ties are exact (zoom 0.5,
half-pixel shifts) nearest changes 5 % (constant) to 14 % (replicate) of the pixels. No model
of its arithmetic tried here matched it exactly (double coordinates with a float32 fraction and
fma blends came closest: 11 bilinear values of 245,760 off), so ``exact_for_opencv`` says where
the equality holds, the lock pins OpenCV below 5.1, and ``DeviceAugmentation.like`` warns, once
per run, where it does not hold.

The work is a few elementwise passes and gathers over the batch (float64 only for the fma
products); per-image OpenCV warps in loader processes would need a core per ~300 images/s.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, fields

import cv2
import numpy as np
import torch

log = logging.getLogger(__name__)

# The OpenCV releases whose warpAffine this reproduces bit for bit: [first, end) as (major,
# minor), every border; from END_OF_EXACT on, only the reflect border (see the docstring).
FIRST_EXACT_OPENCV = (4, 11)
END_OF_EXACT_OPENCV = (5, 1)

# Columns of a per-sample parameter row, as ``PaperAugmentation.sample_params`` reads them back
# and ``DeviceAugmentation.draw`` draws them: flips 0/1, angles in degrees (positive:
# counter-clockwise on screen), zoom factor (1 = none).
HFLIP, VFLIP, FIRST_ANGLE, SECOND_ANGLE, SCALE = range(5)
N_PARAMS = 5

# First entry: the default. torchvision's RandomRotation (the paper's wording is PyTorch's)
# resamples with nearest neighbour and fills the uncovered corners with 0.
INTERPOLATIONS: dict[str, int] = {
    "nearest": cv2.INTER_NEAREST,
    "bilinear": cv2.INTER_LINEAR,
}
BORDER_MODES: dict[str, int] = {
    "constant": cv2.BORDER_CONSTANT,  # filled with 0
    "reflect": cv2.BORDER_REFLECT,  # (d c b a | a b c d | d c b a), mirrored about the edge
    "replicate": cv2.BORDER_REPLICATE,  # (a a a a | a b c d | d d d d)
}


@dataclass(eq=False)
class AugmentSettings:
    """The paper's augmentation settings and their defaults, checked once: the one definition
    PaperAugmentation (per image, in the loader) and DeviceAugmentation (batched, on the
    device) both build on."""

    hflip_p: float = 0.5
    vflip_p: float = 0.5
    first_rotation: float = 20.0
    second_rotation: float = 60.0
    interpolation: str = "nearest"
    border_mode: str = "constant"
    scale_limit: float = 0.0

    def __post_init__(self) -> None:
        self.hflip_p = check_probability("hflip_p", self.hflip_p)
        self.vflip_p = check_probability("vflip_p", self.vflip_p)
        self.first_rotation = check_range("first_rotation", self.first_rotation)
        self.second_rotation = check_range("second_rotation", self.second_rotation)
        self.interpolation = check_choice("interpolation", self.interpolation, INTERPOLATIONS)
        self.border_mode = check_choice("border_mode", self.border_mode, BORDER_MODES)
        self.scale_limit = check_scale_limit(self.scale_limit)

    def settings(self) -> dict:
        """The settings as keyword arguments (those of every AugmentSettings class)."""
        return {f.name: getattr(self, f.name) for f in fields(AugmentSettings)}


@dataclass(eq=False)
class DeviceAugmentation(AugmentSettings):
    """Flips and two sequential rotations (the second with the zoom) of a uint8 (B, C, H, W)
    batch, given per-sample parameter rows from ``draw`` (or ``PaperAugmentation.sample_params``,
    the same columns). A run builds it through PaperAugmentation.device_version()."""

    @classmethod
    def like(cls, paper: AugmentSettings) -> DeviceAugmentation:
        """The device twin of a configured PaperAugmentation (its settings); warns when the
        installed OpenCV warps otherwise, so that the two paths' images differ slightly."""
        twin = cls(**paper.settings())
        if not exact_for_opencv(twin.border_mode):
            log.warning(
                "OpenCV %s warps the %s border differently from OpenCV 4.11-5.0, whose pixels "
                "the device augmentation reproduces: the images of trainer=gpu's device path "
                "differ from the loader path's on a few pixels in 1e4 (README, \"OpenCV "
                'versions"). Install the lock (make venv) for equal images.',
                cv2.__version__,
                twin.border_mode,
            )
        return twin

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """(n, 5) float32 rows [hflip 0/1, vflip 0/1, first angle, second angle (degrees),
        zoom factor] (columns HFLIP, VFLIP, FIRST_ANGLE, SECOND_ANGLE, SCALE): flips
        Bernoulli(p), angles U(-limit, limit), zoom U(1 - scale_limit, 1 + scale_limit), as
        albumentations draws them. The zoom is drawn last and is exactly 1 when scaling is off,
        so the other columns are those of a run without it."""
        params = np.empty((n, N_PARAMS), dtype=np.float32)
        params[:, HFLIP] = rng.random(n) < self.hflip_p
        params[:, VFLIP] = rng.random(n) < self.vflip_p
        params[:, FIRST_ANGLE] = rng.uniform(-self.first_rotation, self.first_rotation, n)
        params[:, SECOND_ANGLE] = rng.uniform(-self.second_rotation, self.second_rotation, n)
        params[:, SCALE] = rng.uniform(1.0 - self.scale_limit, 1.0 + self.scale_limit, n)
        return params

    def __call__(self, images: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise ValueError(f"expected uint8 (B, C, H, W), got {images.dtype} {images.shape}")
        if params.ndim != 2 or params.shape != (images.shape[0], N_PARAMS):
            raise ValueError(
                f"expected ({images.shape[0]}, {N_PARAMS}) parameter rows (one per image, "
                f"columns as DeviceAugmentation.draw gives them), got {tuple(params.shape)}"
            )
        # float64: the warp matrices are computed as albumentations computes them (numpy).
        params = params.to(images.device, torch.float64)
        hflip = params[:, HFLIP].bool().view(-1, 1, 1, 1)
        vflip = params[:, VFLIP].bool().view(-1, 1, 1, 1)
        x = torch.where(hflip, images.flip(-1), images)
        x = torch.where(vflip, x.flip(-2), x)
        x = self._warp(x, params[:, FIRST_ANGLE], torch.ones_like(params[:, SCALE]))
        return self._warp(x, params[:, SECOND_ANGLE], params[:, SCALE])

    def _warp(
        self, images: torch.Tensor, degrees: torch.Tensor, scale: torch.Tensor
    ) -> torch.Tensor:
        """Rotation (counter-clockwise on screen for a positive angle) times zoom about the
        image center, as albumentations' Rotate / Affine build it, resampled as cv2.warpAffine
        does (see the module docstring)."""
        height, width = images.shape[-2:]
        inverse = _invert_affine(_rotation_matrix(degrees, scale, height, width))
        sx, sy = _source_coordinates(inverse, height, width)
        if self.interpolation == "nearest":
            return _sample_nearest(images, sx, sy, self.border_mode)
        return _sample_bilinear(images, sx, sy, self.border_mode)


def opencv_version(text: str | None = None) -> tuple[int, int]:
    """(major, minor) of an OpenCV version string (the installed cv2's by default)."""
    major, minor = (text or cv2.__version__).split(".")[:2]
    return int(major), int(minor)


def exact_for_opencv(border_mode: str, version: str | None = None) -> bool:
    """Whether DeviceAugmentation gives the installed (or the named) OpenCV's pixels exactly
    for this border; see the module docstring for what differs elsewhere and by how much."""
    release = opencv_version(version)
    if release < FIRST_EXACT_OPENCV:
        return False
    return release < END_OF_EXACT_OPENCV or border_mode == "reflect"


def _rotation_matrix(
    degrees: torch.Tensor, scale: torch.Tensor, height: int, width: int
) -> torch.Tensor:
    """(B, 2, 3) float64 forward matrices [k R | c - k R c]: albumentations'
    create_affine_transformation_matrix without shear or translation, R = [[cos, sin],
    [-sin, cos]], center c = (w / 2 - 0.5, h / 2 - 0.5) in pixel-center coordinates."""
    radians = torch.remainder(degrees, 360.0) * (math.pi / 180.0)  # as np.deg2rad(angle % 360)
    cos, sin = radians.cos() * scale, radians.sin() * scale
    cx, cy = width / 2 - 0.5, height / 2 - 0.5
    rows = [
        [cos, sin, cos * -cx + sin * -cy + cx],
        [-sin, cos, -sin * -cx + cos * -cy + cy],
    ]
    return torch.stack([torch.stack(row, -1) for row in rows], 1)


def _invert_affine(matrix: torch.Tensor) -> torch.Tensor:
    """(B, 2, 3) inverse maps (output pixel -> source pixel), with the formula and operation
    order of cv2.warpAffine's own inversion (float64)."""
    m = matrix.flatten(1).unbind(1)
    d = 1.0 / (m[0] * m[4] - m[1] * m[3])
    a11, a12, a21, a22 = m[4] * d, m[1] * -d, m[3] * -d, m[0] * d
    b1 = -a11 * m[2] - a12 * m[5]
    b2 = -a21 * m[2] - a22 * m[5]
    return torch.stack([a11, a12, b1, a21, a22, b2], 1).view(-1, 2, 3)


def _source_coordinates(
    inverse: torch.Tensor, height: int, width: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, H, W) float32 source x and y of every output pixel, as OpenCV's SIMD kernel computes
    them: the matrix rounded to float32, the row term y * M1 + M2 in float32 (two roundings),
    then one float32 fma of M0 * x onto it."""
    m = inverse.float().unsqueeze(-1).unsqueeze(-1)  # (B, 2, 3, 1, 1)
    xs = torch.arange(width, dtype=torch.float32, device=inverse.device).view(1, 1, -1)
    ys = torch.arange(height, dtype=torch.float32, device=inverse.device).view(1, -1, 1)
    # Separate eager ops round after each; torch never fuses this mul and add into an fma.
    sx, sy = (_fma32(m[:, i, 0], xs, ys * m[:, i, 1] + m[:, i, 2]) for i in (0, 1))
    return sx, sy


def _sample_nearest(
    images: torch.Tensor, sx: torch.Tensor, sy: torch.Tensor, border_mode: str
) -> torch.Tensor:
    """cvRound of the source coordinate (half to even, as torch.round), then the border rule."""
    height, width = images.shape[-2:]
    ix, inside_x = _border_index(torch.round(sx).long(), width, border_mode)
    iy, inside_y = _border_index(torch.round(sy).long(), height, border_mode)
    return _gather(images, iy, ix, inside_x & inside_y)


def _sample_bilinear(
    images: torch.Tensor, sx: torch.Tensor, sy: torch.Tensor, border_mode: str
) -> torch.Tensor:
    """OpenCV's float bilinear: per-tap border rule, fma lerps along x then y in float32, then
    rounded half to even and saturated to uint8."""
    height, width = images.shape[-2:]
    x0, y0 = sx.floor(), sy.floor()
    ax, ay = (sx - x0).unsqueeze(1), (sy - y0).unsqueeze(1)  # exact in float32
    ix0, in_x0 = _border_index(x0.long(), width, border_mode)
    ix1, in_x1 = _border_index(x0.long() + 1, width, border_mode)
    iy0, in_y0 = _border_index(y0.long(), height, border_mode)
    iy1, in_y1 = _border_index(y0.long() + 1, height, border_mode)

    def tap(iy: torch.Tensor, ix: torch.Tensor, inside: torch.Tensor) -> torch.Tensor:
        return _gather(images, iy, ix, inside).float()

    p00, p01 = tap(iy0, ix0, in_y0 & in_x0), tap(iy0, ix1, in_y0 & in_x1)
    top = _fma32(ax, p01 - p00, p00)  # differences of uint8 values: exact in float32
    p10, p11 = tap(iy1, ix0, in_y1 & in_x0), tap(iy1, ix1, in_y1 & in_x1)
    bottom = _fma32(ax, p11 - p10, p10)
    value = _fma32(ay, bottom - top, top)  # this difference is rounded to float32, as there
    return torch.round(value).clamp_(0, 255).to(torch.uint8)


def _fma32(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """float32 fma(a, b, c): a * b + c with one rounding. The product of two float32 values is
    exact in float64; the float64 sum is then rounded to float32 (a second rounding matters only
    if the sum falls exactly half-way between two float32 values: never seen in the tests)."""
    return (a.double() * b.double() + c.double()).float()


def _border_index(
    index: torch.Tensor, size: int, border_mode: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """(index inside [0, size), whether the tap lies inside the image) under OpenCV's border
    rule: constant taps outside read 0, reflect mirrors about the edge (BORDER_REFLECT:
    d c b a | a b c d | d c b a, period 2 size), replicate clamps."""
    inside = (index >= 0) & (index < size)
    if border_mode == "reflect":
        folded = torch.remainder(index, 2 * size)
        return torch.where(folded < size, folded, 2 * size - 1 - folded), torch.ones_like(inside)
    clamped = index.clamp(0, size - 1)
    return clamped, inside if border_mode == "constant" else torch.ones_like(inside)


def _gather(
    images: torch.Tensor, iy: torch.Tensor, ix: torch.Tensor, inside: torch.Tensor
) -> torch.Tensor:
    """images[b, :, iy[b, i, j], ix[b, i, j]], 0 where ``inside`` is False; (B, C, H', W')."""
    batch, channels, height, width = images.shape
    flat_index = (iy * width + ix).flatten(1).unsqueeze(1).expand(-1, channels, -1)
    values = images.flatten(2).gather(2, flat_index).view(batch, channels, *ix.shape[1:])
    return values * inside.unsqueeze(1).to(values.dtype)


# The checks of the settings, shared with PaperAugmentation (one definition).


def check_probability(name: str, value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1], got {value}")
    return float(value)


def check_range(name: str, value: float) -> float:
    if not (math.isfinite(value) and value >= 0.0):
        raise ValueError(f"{name} is a half-width in degrees and must be >= 0, got {value}")
    return float(value)


def check_choice(name: str, value: str, choices: dict[str, int]) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
    return value


def check_scale_limit(value: float) -> float:
    if not (math.isfinite(value) and 0.0 <= value < 1.0):
        raise ValueError(
            f"scale_limit is s in the zoom factor U(1 - s, 1 + s) and must lie in [0, 1) "
            f"(0 turns scaling off), got {value}"
        )
    return float(value)
