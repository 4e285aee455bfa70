"""Scoring films with a trained model: what predict and evaluate share.

The device choice, the PNG list, and `score`, which runs each film through the checkpoint's
own preprocessing (the function that built the training cache) and the model's normalization,
averaging the probabilities of its channel orders as the test split was scored.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import torch
from omegaconf import DictConfig, ListConfig, OmegaConf
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from csxa_lightning.data.csxa import STEM_PATTERN
from csxa_lightning.inference.inputs import PredictionInputs, collate_inputs
from csxa_lightning.inference.loading import TrainedModel
from csxa_lightning.utils.errors import UserError


class ScoringInputError(UserError):
    """An input or setting of predict or evaluate that the user can fix; the message says how."""


def required(cfg: DictConfig, key: str, example: str):
    """cfg's value of key (dotted, e.g. data.root); a one-line error when it is unset."""
    value = OmegaConf.select(cfg, key, default=None, throw_on_missing=False)
    if value in (None, ""):
        raise ScoringInputError(f"{key}= is required, e.g. {key}={example}.")
    return value


def list_pngs(spec) -> list[Path]:
    """input=: a folder (its *.png, sorted by name), a file, or a list of files and folders."""
    items = list(spec) if isinstance(spec, list | ListConfig) else [spec]
    files: list[Path] = []
    for item in items:
        path = Path(str(item)).expanduser()
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() == ".png" and p.is_file())
            if not found:
                raise ScoringInputError(
                    f"{path}: no .png files in this folder; point input= at the folder of the "
                    "PNGs, or list files: input=[a.png,b.png]"
                )
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise ScoringInputError(
                f"{path}: no such file or folder; check input= (a folder of PNGs, a PNG, or a "
                "list [a.png,b.png])"
            )
    return files


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise ScoringInputError(f"device={name!r}: {err}; use auto, cpu or cuda") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ScoringInputError(f"device={name}: no CUDA device is visible; use device=auto or cpu")
    return device


def case_id(stem: str) -> int | None:
    """The CSXA case id of a 7-digit stem (2548130 -> 2548); None for other names."""
    match = STEM_PATTERN.match(stem)
    return int(match["case_id"]) if match else None


def cam_folder(out: Path) -> Path:
    """Overlays go beside the CSV, in <csv stem>_cam/ -- never into the input folder."""
    return out.with_name(f"{out.stem}_cam")


def score(
    model: TrainedModel,
    pngs: list[Path],
    jsons: list[Path | None],
    threshold: float,
    batch_size: int = 32,
    num_workers: int = 0,
    cam_dir: Path | None = None,
) -> torch.Tensor:
    """Probability of diseased of every file, in order. With cam_dir: also the Grad-CAM overlay
    of the predicted class, cam_dir/<stem>.png, on the input the model saw."""
    loader = DataLoader(
        PredictionInputs(pngs, jsons, model.preprocessor, model.min_size, model.max_pixels),
        batch_size=batch_size,
        num_workers=num_workers,
        collate_fn=collate_inputs,
        pin_memory=model.device.type == "cuda",
    )
    if cam_dir is not None:
        from csxa_lightning.models.cam import (  # pytorch_grad_cam takes ~3 s to import
            grad_cam,
            overlay,
        )

    prob = torch.empty(len(pngs), dtype=torch.float32)
    progress = tqdm(total=len(pngs), desc="predicting", unit="img", disable=None)
    try:
        for batch in loader:
            if batch.problems:
                raise ScoringInputError(batch.problems[0])
            images = batch.images.to(model.device, non_blocking=True)
            with torch.inference_mode():
                diseased = model.classifier.class_probabilities(images)[:, 1].float().cpu()
            prob[batch.index] = diseased
            if cam_dir is not None:
                classes = (diseased >= threshold).long().tolist()
                maps = grad_cam(model.classifier, model.arch, images, classes).maps
                for row, i in enumerate(batch.index.tolist()):
                    picture = overlay(batch.images[row, 0].numpy(), maps[row])
                    target = cam_dir / f"{pngs[i].stem}.png"
                    cv2.imwrite(str(target), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
            progress.update(len(batch.index))
    finally:
        progress.close()
    return prob
