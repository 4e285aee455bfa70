"""The models of predict and evaluate: one checkpoint, or the members of an ensemble
(ckpt=[a,b,c] or run=[d1,d2,d3]). An ensemble averages its members' probabilities of the same
input, so its members must read a film into the same pixels: the same crop, colour, size, bit
depth and accepted film sizes. Each keeps its own weights, normalization, temperature and
threshold."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch

from csxa_lightning.data.dicom import window_text
from csxa_lightning.inference.loading import TrainedModel, load_trained_model
from csxa_lightning.utils.errors import UserError


class EnsembleError(UserError):
    """Checkpoints that cannot form one ensemble; the message names the first difference."""


def load_members(
    paths: list[Path], device: torch.device, dicom_window: object = None
) -> list[TrainedModel]:
    """The trained model of every checkpoint, in order; EnsembleError when they do not share
    their preprocessing (the message names the first setting that differs). dicom_window (the
    command's dicom.window): how DICOM films become grey levels, instead of the checkpoints'
    own (None: theirs; "first" unless training set data.dicom_window)."""
    models = [load_trained_model(path, device) for path in paths]
    problem = shared_preprocessing_problem(models)
    if problem is not None:
        raise EnsembleError(problem)
    if dicom_window is not None:
        window = window_text(dicom_window)
        for model in models:
            model.preprocessor = replace(model.preprocessor, dicom_window=window)
    return models


def input_settings(model: TrainedModel) -> dict[str, object]:
    """Everything that decides the pixels a film becomes, flattened to dotted keys: the
    preprocessing (without the OpenCV version, which is this machine's for every member) and
    the film sizes the model accepts."""
    settings = flattened(model.preprocessor.config())
    settings.pop("opencv", None)
    return {
        **settings,
        "data.min_size": model.min_size,
        "data.max_pixels": model.max_pixels,
        # crops from other landmarks are other pixels
        **({"landmarks": model.landmarks} if model.preprocessor.needs_keypoints else {}),
    }


def flattened(tree: dict, prefix: str = "") -> dict[str, object]:
    """A nested dict as {dotted key: leaf value}."""
    flat: dict[str, object] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flattened(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def shared_preprocessing_problem(models: list[TrainedModel]) -> str | None:
    """None when every member reads films as the first does; else one line naming the first
    setting that differs, both values and both checkpoints."""
    first = input_settings(models[0])
    for model in models[1:]:
        other = input_settings(model)
        for key in sorted(first.keys() | other.keys()):
            if first.get(key) != other.get(key):
                return (
                    f"{model.path}: its films are preprocessed with {key}={other.get(key)}, "
                    f"those of {models[0].path} with {key}={first.get(key)}; the members of an "
                    "ensemble must share their preprocessing (they score the same pixels). "
                    "List checkpoints of one variant (its seeds or folds)"
                )
    return None


def common_architecture(models: list[TrainedModel]) -> str:
    """The members' architecture, or theirs joined with '+' when they differ."""
    archs = list(dict.fromkeys(model.arch for model in models))
    return "+".join(archs)
