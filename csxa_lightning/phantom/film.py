"""The film side of a phantom radiograph: the per-case look (tissue densities and acquisition
settings), the unexposed film base, and the exposure that turns attenuation into a gray film."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from csxa_lightning.phantom.drawing import smooth_noise


@dataclass(frozen=True)
class Look:
    """Per-case densities and acquisition settings (inter-case variation of both classes)."""

    soft: float
    bone: float
    cortex: float
    posterior: float
    airway: float
    shoulder: float
    trabecular: float
    offset: float
    contrast: float
    gamma: float
    blur_sigma: float
    grain: float


def sample_look(rng: np.random.Generator) -> Look:
    soft = rng.uniform(0.24, 0.34)
    return Look(
        soft=soft,
        bone=rng.uniform(0.26, 0.36),
        cortex=rng.uniform(1.25, 1.5),
        posterior=rng.uniform(0.13, 0.19),
        airway=soft * rng.uniform(0.45, 0.75),
        shoulder=rng.uniform(0.25, 0.45),
        trabecular=rng.uniform(0.12, 0.22),
        offset=rng.uniform(0.03, 0.12),
        contrast=rng.uniform(0.8, 1.1),
        gamma=rng.uniform(0.8, 1.2),
        blur_sigma=rng.uniform(0.5, 1.6),
        grain=rng.uniform(0.008, 0.02),
    )


def film_base(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Unexposed-film level with a slow exposure gradient (heel effect) and mottle."""
    h, w = shape
    direction = rng.uniform(0, 2 * np.pi)
    ys = np.linspace(-0.5, 0.5, h, dtype=np.float32)[:, None]
    xs = np.linspace(-0.5, 0.5, w, dtype=np.float32)[None, :]
    ramp = (math.cos(direction) * xs + math.sin(direction) * ys) * rng.uniform(0.02, 0.08)
    mottle = 0.012 * smooth_noise(rng, shape, max(shape) / 8, cv2.INTER_CUBIC)
    return ramp + mottle


def expose(rng: np.random.Generator, attenuation: np.ndarray, look: Look) -> np.ndarray:
    """Blur, film response curve and grain; returns uint8."""
    img = cv2.GaussianBlur(attenuation, (0, 0), look.blur_sigma)
    img = look.offset + look.contrast * np.clip(img, 0.0, None)
    img = np.power(np.clip(img, 0.0, 1.0), look.gamma)
    # Grain is a little coarser than a pixel; drawn at half resolution keeps PNGs small.
    img += look.grain * smooth_noise(rng, img.shape, 2.0, cv2.INTER_LINEAR)
    return np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)
