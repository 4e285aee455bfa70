"""A trained landmark model (a task=landmarks run's checkpoint) placing the 23 landmarks on
films nobody annotated: load_landmark_model, then predicted_annotations writes what it places
as LabelMe files (data/annotations.write_annotation) that the keypoint crops read as they read
CSXA's own. A checkpoint is data: read with weights_only=True, its settings checked value by
value before the network is built (random initialisation; the checkpoint holds every weight).

The model's identity is the SHA-256 of its checkpoint file: a classifier trained on its crops
records it, the cache keys its inputs by it, and predict checks it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from csxa_lightning.data.annotations import read_keypoints, write_annotation
from csxa_lightning.data.films import read_film
from csxa_lightning.data.images import MAX_PIXELS, to_gray
from csxa_lightning.data.letterbox import letterbox_image
from csxa_lightning.models.landmark_model import CSXALandmarks
from csxa_lightning.runs.folder import existing_checkpoint, is_finished, read_metrics
from csxa_lightning.utils.errors import UserError

# Where Lightning keeps LandmarkDataModule.state_dict() in a checkpoint (its class name).
LANDMARK_DATA_KEY = "LandmarkDataModule"
# The model settings a landmark checkpoint may hold (CSXALandmarks' arguments that shape it).
NETWORK_SETTINGS = ("arch", "num_landmarks", "deconv_channels", "deconv_layers")
DATA_SETTINGS = ("image_size", "stride", "bit_depth", "dicom_window", "landmark_names")
# LabelMe's coordinates are pixel centres plus half a pixel (data/landmark_datamodule.py).
LABELME_OFFSET = 0.5


class LandmarkModelError(UserError):
    """Not a usable landmark checkpoint; the message names the file and what to do."""


@dataclass
class LandmarkModel:
    module: CSXALandmarks  # eval mode, on its device
    path: Path
    identity: str  # SHA-256 of the checkpoint file
    image_size: int
    names: tuple[str, ...]
    bit_depth: str | int = "auto"
    dicom_window: str = "first"
    max_pixels: int = MAX_PIXELS

    @property
    def device(self) -> torch.device:
        return next(self.module.parameters()).device


def file_identity(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def landmark_checkpoint_file(path: Path) -> Path:
    """landmarks.ckpt= names a checkpoint, or a finished task=landmarks run folder: the
    checkpoint its metrics.json names (found in the folder's own checkpoints/)."""
    if not path.is_dir():
        return path
    found, candidates = (
        (None, []) if not is_finished(path) else existing_checkpoint(path, read_metrics(path))
    )
    if found is None:
        raise LandmarkModelError(
            f"landmarks.ckpt={path}: a folder without a finished landmark run's checkpoint "
            f"(looked for {', '.join(map(str, candidates)) or 'metrics.json'}); give the run "
            "folder of a finished task=landmarks run, or its checkpoint file"
        )
    return found


def read_landmark_checkpoint(path: Path) -> dict:
    if not path.is_file():
        raise LandmarkModelError(
            f"landmarks.ckpt={path}: no such file; give the checkpoint of a task=landmarks run "
            "(its metrics.json names it)"
        )
    try:
        stored = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 -- any unreadable file: one line, the cause named
        raise LandmarkModelError(f"{path}: not a readable checkpoint ({err})") from err
    if not isinstance(stored, dict) or LANDMARK_DATA_KEY not in stored:
        raise LandmarkModelError(
            f"{path}: not a landmark model's checkpoint (no {LANDMARK_DATA_KEY} state); give "
            "the checkpoint of a task=landmarks run as landmarks.ckpt="
        )
    return stored


def checked_settings(stored: dict, path: Path) -> tuple[dict, dict]:
    """(network settings, data settings) of a checkpoint, plain values only."""
    hparams = stored.get("hyper_parameters") or {}
    data = stored[LANDMARK_DATA_KEY]
    network = {k: hparams.get(k) for k in NETWORK_SETTINGS}
    settings = {k: data.get(k) for k in DATA_SETTINGS}
    plain = (str, int, float)
    values = {**network, **settings}
    bad = [k for k, v in values.items() if k != "landmark_names" and not isinstance(v, plain)]
    names = settings["landmark_names"]
    if bad or not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
        raise LandmarkModelError(
            f"{path}: the landmark checkpoint's settings {bad or ['landmark_names']} are not "
            "plain values; it was not written by this package, or was edited"
        )
    return network, settings


def load_landmark_model(path: str | Path, device: str | torch.device = "cpu") -> LandmarkModel:
    """The landmark model of a task=landmarks checkpoint, ready to place landmarks."""
    path = landmark_checkpoint_file(Path(path).expanduser())
    stored = read_landmark_checkpoint(path)
    network, settings = checked_settings(stored, path)
    module = CSXALandmarks(**network, pretrained="none", download=False, channels_last=False)
    state = {k: v for k, v in stored["state_dict"].items() if isinstance(v, torch.Tensor)}
    missing, unexpected = module.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise LandmarkModelError(
            f"{path}: its weights do not fit the landmark network it describes (missing "
            f"{missing[:3]}, unexpected {unexpected[:3]}); train it again with this version"
        )
    return LandmarkModel(
        module.eval().to(device),
        path,
        file_identity(path),
        int(settings["image_size"]),
        tuple(settings["landmark_names"]),
        settings["bit_depth"],
        str(settings["dicom_window"]),
        int(stored[LANDMARK_DATA_KEY].get("max_pixels", MAX_PIXELS)),
    )


def film_landmarks(model: LandmarkModel, film: str | Path) -> tuple[dict, tuple[int, int]]:
    """({landmark: (x, y)} in LabelMe coordinates of the film, (width, height))."""
    image, _ = read_film(film, model.bit_depth, model.max_pixels, model.dicom_window)
    gray = to_gray(image)
    boxed, geometry = letterbox_image(gray, model.image_size)
    batch = torch.from_numpy(boxed)[None, None].to(model.device)
    with torch.inference_mode():
        points = model.module.points(batch)[0].float().cpu().numpy().astype(float)
    on_film = geometry.to_film(points) + LABELME_OFFSET
    height, width = gray.shape
    pairs = zip(model.names, on_film, strict=True)
    keypoints = {name: (float(x), float(y)) for name, (x, y) in pairs}
    return keypoints, (width, height)


def predicted_annotations(model: LandmarkModel, films: list[Path], folder: Path) -> list[Path]:
    """folder/<stem>.json: the model's landmarks of every film as a LabelMe file, in order;
    a file already there for this model is reused (the folder belongs to one model)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for film in films:
        target = folder / f"{Path(film).stem}.json"
        if not target.is_file():
            keypoints, (width, height) = film_landmarks(model, film)
            write_annotation(target, Path(film).name, width, height, keypoints)
        written.append(target)
    return written


def stored_landmark_points(paths: list[Path], names) -> np.ndarray:
    """(N, K, 2) points of LabelMe files, in names' order (for comparisons and pictures)."""
    return np.stack([[read_keypoints(p)[n] for n in names] for p in paths]).astype(float)


@dataclass
class PredictedLandmarks:
    """landmarks=predicted (data/landmark_source.py's protocol): the landmark model's LabelMe
    files, written once per film under folder (one folder per model identity: a cache)."""

    model: LandmarkModel
    folder: Path

    def annotation_files(self, index) -> list[str]:
        films = [Path(p) for p in index["png_path"]]
        return [str(p) for p in predicted_annotations(self.model, films, self.folder)]

    def state(self) -> dict:
        return {
            "source": "predicted",
            "identity": self.model.identity,
            "ckpt": str(self.model.path),
        }


def predicted_landmarks(
    ckpt: str | Path, cache_dir: str | Path, device: str | torch.device = "cpu"
) -> PredictedLandmarks:
    """The landmark model of ckpt, its LabelMe files cached under cache_dir/landmarks/<id>."""
    model = load_landmark_model(ckpt, device)
    folder = Path(cache_dir).expanduser() / "landmarks" / model.identity[:24]
    return PredictedLandmarks(model, folder)
