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
from csxa_lightning.data.films import is_film_file
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


def list_films(spec) -> list[Path]:
    """input=: a folder (its PNG and DICOM films, *.png, *.dcm, *.dicom, sorted by name), a
    file (a DICOM file may have no suffix), or a list of files and folders."""
    items = list(spec) if isinstance(spec, list | ListConfig) else [spec]
    files: list[Path] = []
    for item in items:
        path = Path(str(item)).expanduser()
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if is_film_file(p) and p.is_file())
            if not found:
                raise ScoringInputError(
                    f"{path}: no .png or .dcm files in this folder; point input= at the folder "
                    "of the films, or list files: input=[a.png,b.dcm]"
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


TTA_CHOICES = ("none", "flip")


def score(
    model: TrainedModel,
    pngs: list[Path],
    jsons: list[Path | None],
    threshold: float,
    batch_size: int = 32,
    num_workers: int = 0,
    cam_dir: Path | None = None,
    tta: str = "none",
) -> torch.Tensor:
    """Probability of diseased of every file, in order. With cam_dir: also the Grad-CAM overlay
    of the predicted class, cam_dir/<stem>.png, on the input the model saw."""
    cam = None if cam_dir is None else (cam_dir, threshold)
    return score_members([model], pngs, jsons, batch_size, num_workers, tta, cam)[0]


def score_members(
    models: list[TrainedModel],
    pngs: list[Path],
    jsons: list[Path | None],
    batch_size: int = 32,
    num_workers: int = 0,
    tta: str = "none",
    cam: tuple[Path, float] | None = None,
) -> torch.Tensor:
    """(members, films) probabilities of diseased: every film is read and preprocessed once
    (the members share their preprocessing: inference/members.py checks it) and scored by each
    model. tta=flip averages each model's probabilities of the film and its mirror image.
    cam=(folder, threshold), one model only: its Grad-CAM overlays as in score()."""
    if tta not in TTA_CHOICES:
        raise ScoringInputError(f"tta={tta}: choose one of {', '.join(TTA_CHOICES)}; e.g. tta=flip")
    first = models[0]
    loader = DataLoader(
        PredictionInputs(pngs, jsons, first.preprocessor, first.min_size, first.max_pixels),
        batch_size=batch_size,
        num_workers=num_workers,
        collate_fn=collate_inputs,
        pin_memory=first.device.type == "cuda",
    )
    prob = torch.empty(len(models), len(pngs), dtype=torch.float32)
    progress = tqdm(total=len(pngs), desc="predicting", unit="img", disable=None)
    try:
        for batch in loader:
            if batch.problems:
                raise ScoringInputError(batch.problems[0])
            images = batch.images.to(first.device, non_blocking=True)
            for member, model in enumerate(models):
                prob[member, batch.index] = diseased_probability(model, images, tta)
            if cam is not None:
                write_cam_overlays(first, batch, images, prob[0, batch.index], pngs, cam)
            progress.update(len(batch.index))
    finally:
        progress.close()
    return prob


def diseased_probability(model: TrainedModel, images: torch.Tensor, tta: str) -> torch.Tensor:
    """The model's (calibrated) probability of diseased of each film of the batch; tta=flip:
    the mean of the film's and its horizontal mirror's (the flip training augments with)."""
    with torch.inference_mode():
        prob = model.classifier.class_probabilities(images)[:, 1].float()
        if tta == "flip":
            mirrored = model.classifier.class_probabilities(images.flip(-1))[:, 1].float()
            prob = (prob + mirrored) / 2
    return prob.cpu()


def write_cam_overlays(
    model: TrainedModel, batch, images: torch.Tensor, prob: torch.Tensor, pngs, cam
) -> None:
    """cam_dir/<stem>.png: the Grad-CAM overlay of the predicted class of each batch film."""
    from csxa_lightning.models.cam import (  # pytorch_grad_cam takes ~3 s to import
        grad_cam,
        overlay,
    )

    cam_dir, threshold = cam
    classes = (prob >= threshold).long().tolist()
    maps = grad_cam(model.classifier, model.arch, images, classes).maps
    for row, i in enumerate(batch.index.tolist()):
        picture = overlay(batch.images[row, 0].numpy(), maps[row])
        target = cam_dir / f"{pngs[i].stem}.png"
        cv2.imwrite(str(target), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
