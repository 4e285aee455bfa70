"""One film and its landmarks -> the model input, exactly as training, prediction and preview
see it (before normalization). Deterministic, so its output is cached."""

from __future__ import annotations

from dataclasses import dataclass, fields, is_dataclass
from typing import Any, Protocol

import cv2
import numpy as np

from csxa_lightning.data.images import resize, to_gray
from csxa_lightning.data.transforms import (
    CenterCrop,
    ClaheColor,
    EnhancedColor,
    GrayColor,
    KeypointCrop,
    Keypoints,
)
from csxa_lightning.utils.errors import UserError


class PreprocessSpecError(UserError):
    """A checkpoint's preprocessing spec this version cannot build (edited, foreign, or from
    another version); training/checkpoints.py reports it with the checkpoint's path."""


class Crop(Protocol):
    name: str
    needs_keypoints: bool

    def __call__(self, gray: np.ndarray, keypoints: Keypoints | None = None) -> np.ndarray: ...
    def window(
        self, height: int, width: int, keypoints: Keypoints | None = None
    ) -> tuple[int, int, int, int]: ...
    def config(self) -> dict: ...


class Color(Protocol):
    name: str
    channels: int  # per variant: 1 (gray, replicated to 3 on the device) or 3
    variants: tuple[str, ...]
    channel_names: dict[str, tuple[str, ...]]  # {variant: the name of each channel}

    def __call__(self, gray: np.ndarray) -> np.ndarray: ...
    def config(self) -> dict: ...


@dataclass(frozen=True)
class Preprocessor:
    """crop > color > resize. Output: uint8 (variants, channels, image_size, image_size)."""

    crop: Crop = CenterCrop()
    color: Color = GrayColor()
    image_size: int = 224
    # How 16-bit films become 8 bits before this (data.bit_depth; films.read_film): "auto"
    # (sBIT, else the depth that holds the film's maximum) or 8, 10, 12, 14, 16. Kept here,
    # with the pixels it changes, so that the cache key and the checkpoint's spec carry it.
    bit_depth: str | int = "auto"
    # How a DICOM film's values become grey levels (data.dicom_window, or predict's
    # dicom.window; dicom.parse_window): "first" (its VOI LUT or first window), "none" or
    # "<center>,<width>". PNG films ignore it.
    dicom_window: str = "first"

    @property
    def needs_keypoints(self) -> bool:
        return self.crop.needs_keypoints

    @property
    def variants(self) -> tuple[str, ...]:
        return self.color.variants

    @property
    def channels(self) -> int:
        return self.color.channels

    def __call__(self, image: np.ndarray, keypoints: Keypoints | None = None) -> np.ndarray:
        gray = self.crop(to_gray(image), keypoints)
        # Colour before resize: equalization uses the histogram of the crop at full resolution.
        stacked = self.color(gray)
        return np.stack(
            [[resize(plane, self.image_size) for plane in variant] for variant in stacked]
        )

    def config(self) -> dict:
        """Everything that changes the pixels: the cache key."""
        return {
            "crop": self.crop.config(),
            "color": self.color.config(),
            "image_size": self.image_size,
            "bit_depth": self.bit_depth,
            "opencv": cv2.__version__,
            # Only when not the default: the caches of every set built before DICOM input
            # existed keep their keys (their pixels are the same).
            **({} if self.dicom_window == "first" else {"dicom_window": self.dicom_window}),
        }

    @property
    def label(self) -> str:
        return f"crop={self.crop.name},color={self.color.name}"

    def spec(self) -> dict[str, Any]:
        """This preprocessor as a Hydra-style config (`_target_` plus the fields, nested): kept
        in every checkpoint, so that prediction and export rebuild it from the .ckpt alone."""
        return _spec(self)

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> Preprocessor:
        """The preprocessor a spec() describes. A checkpoint is data: every ``_target_`` is
        looked up in SPEC_CLASSES before anything is called, every field must be a plain value
        (text, number, list of them), and the result must be a Preprocessor."""
        if not isinstance(spec, dict) or spec.get("_target_") != spec_name(cls):
            target = spec.get("_target_") if isinstance(spec, dict) else type(spec).__name__
            raise PreprocessSpecError(
                f"preprocess: _target_ {target!r} is not one of the preprocessing classes a "
                f"checkpoint may name ({spec_name(cls)} at the top); the checkpoint was not "
                "written by this package, or was edited"
            )
        built = _build(spec, "preprocess")
        for part, kinds in (("crop", CROPS), ("color", COLORS)):
            if not isinstance(getattr(built, part), kinds):
                raise PreprocessSpecError(
                    f"preprocess.{part}: a {type(getattr(built, part)).__name__} is not a "
                    f"{part}; the checkpoint was not written by this package, or was edited"
                )
        return built


def spec_name(kind: type) -> str:
    """The ``_target_`` a spec names a class by: its module and qualified name."""
    return f"{kind.__module__}.{kind.__qualname__}"


# Every class a preprocessing spec (in a checkpoint, or a run being resumed) may name, and so
# every class from_spec may build: frozen dataclasses whose constructors only check and store
# their fields. Nothing else is imported or called for a name read from a file.
CROPS = (CenterCrop, KeypointCrop)
COLORS = (GrayColor, EnhancedColor, ClaheColor)
SPEC_CLASSES: dict[str, type] = {spec_name(kind): kind for kind in (Preprocessor, *CROPS, *COLORS)}
PLAIN_VALUES = (str, int, float, bool, type(None))


def _spec(obj: Any) -> Any:
    if not is_dataclass(obj):
        return obj
    return {
        "_target_": spec_name(type(obj)),
        **{f.name: _spec(getattr(obj, f.name)) for f in fields(obj)},
    }


def _build(spec: Any, where: str) -> Any:
    if isinstance(spec, list | tuple):
        return type(spec)(_build(v, f"{where}[{i}]") for i, v in enumerate(spec))
    if not isinstance(spec, dict):
        if not isinstance(spec, PLAIN_VALUES):
            raise PreprocessSpecError(
                f"{where}: a {type(spec).__name__} where a spec holds text or numbers; the "
                "checkpoint was not written by this package, or was edited"
            )
        return spec
    target = spec.get("_target_")
    kind = SPEC_CLASSES.get(target) if isinstance(target, str) else None
    if kind is None:
        raise PreprocessSpecError(
            f"{where}: _target_ {target!r} is not one of the preprocessing classes a checkpoint "
            f"may name ({', '.join(sorted(SPEC_CLASSES))}); the checkpoint was written by "
            "another version of csxa_lightning, by something else, or was edited"
        )
    arguments = {k: _build(v, f"{where}.{k}") for k, v in spec.items() if k != "_target_"}
    try:
        return kind(**arguments)
    except (TypeError, ValueError) as err:  # a field renamed or removed, or a bad value
        raise PreprocessSpecError(
            f"{where}: {target}{arguments} cannot be built by this version of csxa_lightning "
            f"({err}); use the version that trained the checkpoint"
        ) from err
