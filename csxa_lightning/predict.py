"""python -m csxa_lightning.predict ckpt=FILE input=DIR_OR_FILES [annotations=DIR] [out=FILE.csv]
[cam=true]

Score films with a trained run. Each PNG goes through the preprocessing stored in the
checkpoint (the function that built the training cache) and the model's own normalization; a
film with two channel orders is scored as the test split was, by averaging their
probabilities, so a test image gets the probability its run wrote in predictions.csv. Writes one
CSV row per image: file, case_id, stem, prob_diseased, pred, threshold (and cam, the path of
its Grad-CAM overlay, with cam=true).

Thin entry point: Hydra composes conf/predict.yaml, `predict(cfg)` does the work.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import cv2
import hydra
import pandas as pd
import torch
from omegaconf import DictConfig, ListConfig, OmegaConf
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from csxa_lightning.checkpoint import TrainedModel, load_trained_model
from csxa_lightning.data.csxa import STEM_PATTERN
from csxa_lightning.errors import UserError, exit_on_user_error
from csxa_lightning.predict_inputs import PredictionInputs, collate_inputs, find_annotations
from csxa_lightning.results.runs import predictions_frame

log = logging.getLogger(__name__)

DEFAULT_OUT = "predict.csv"


class PredictInputError(UserError):
    """An input or setting of predict that the user can fix; the message says how."""


def required(cfg: DictConfig, key: str, example: str):
    if OmegaConf.is_missing(cfg, key) or cfg.get(key) in (None, ""):
        raise PredictInputError(f"{key}= is required, e.g. {key}={example}")
    return cfg[key]


def list_pngs(spec) -> list[Path]:
    """input=: a folder (its *.png, sorted by name), a file, or a list of files and folders."""
    items = list(spec) if isinstance(spec, list | ListConfig) else [spec]
    files: list[Path] = []
    for item in items:
        path = Path(str(item)).expanduser()
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() == ".png" and p.is_file())
            if not found:
                raise PredictInputError(
                    f"{path}: no .png files in this folder; point input= at the folder of the "
                    "PNGs, or list files: input=[a.png,b.png]"
                )
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise PredictInputError(
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
        raise PredictInputError(f"device={name!r}: {err}; use auto, cpu or cuda") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise PredictInputError(f"device={name}: no CUDA device is visible; use device=auto or cpu")
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
        PredictionInputs(pngs, jsons, model.preprocessor),
        batch_size=batch_size,
        num_workers=num_workers,
        collate_fn=collate_inputs,
        pin_memory=model.device.type == "cuda",
    )
    if cam_dir is not None:
        from csxa_lightning.cam import grad_cam, overlay  # pytorch_grad_cam takes ~3 s to import

    prob = torch.empty(len(pngs), dtype=torch.float32)
    progress = tqdm(total=len(pngs), desc="predicting", unit="img", disable=None)
    try:
        for batch in loader:
            if batch.problems:
                raise PredictInputError(batch.problems[0])
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


def predict(cfg: DictConfig) -> pd.DataFrame:
    """Write the CSV of predictions (cfg.out) and return it."""
    ckpt = required(cfg, "ckpt", "outputs/train/runs/.../checkpoints/epoch009.ckpt")
    pngs = list_pngs(required(cfg, "input", "/path/to/CSXA/datasets-PNG"))
    out = Path(str(cfg.out or DEFAULT_OUT)).expanduser()
    if out.is_dir():
        raise PredictInputError(
            f"out={out} is a folder; name the CSV, e.g. out={out / DEFAULT_OUT}"
        )
    model = load_trained_model(ckpt, pick_device(str(cfg.device)))
    preprocessor = model.preprocessor
    jsons = (
        find_annotations(pngs, cfg.annotations, preprocessor.crop.name)
        if preprocessor.needs_keypoints
        else [None] * len(pngs)
    )
    cam_dir = cam_folder(out) if cfg.cam else None
    if cam_dir is not None:
        twice = [s for s, n in Counter(p.stem for p in pngs).items() if n > 1]
        if twice:
            raise PredictInputError(
                f"{twice[0]}.png: given twice (from different folders); with cam=true their "
                "overlays would share a name: predict the folders separately"
            )
        cam_dir.mkdir(parents=True, exist_ok=True)
    log.info(
        "predicting %d image(s) with %s (%s, %s, %d px) on %s",
        len(pngs),
        model.path,
        model.arch,
        preprocessor.label,
        preprocessor.image_size,
        model.device,
    )
    threshold = float(cfg.threshold)
    prob = score(model, pngs, jsons, threshold, int(cfg.batch_size), int(cfg.num_workers), cam_dir)

    # The columns and decision rule of the run's predictions.csv; no label here (unknown).
    stems = [p.stem for p in pngs]
    files = pd.DataFrame(
        {
            "case_id": pd.array([case_id(s) for s in stems], dtype="Int64"),
            "stem": stems,
            "label": pd.NA,
        }
    )
    rows = predictions_frame(files, torch.arange(len(pngs)), prob, threshold)
    rows = rows.drop(columns="label")
    rows.insert(0, "file", [str(p) for p in pngs])
    rows["threshold"] = threshold
    if cam_dir is not None:
        rows["cam"] = [str(cam_dir / f"{s}.png") for s in stems]
    out.parent.mkdir(parents=True, exist_ok=True)
    rows.to_csv(out, index=False)
    print(f"predictions: {out}" + (f" (Grad-CAM overlays in {cam_dir})" if cam_dir else ""))
    return rows


@hydra.main(version_base="1.3", config_path="../conf", config_name="predict")
def main(cfg: DictConfig) -> None:
    with exit_on_user_error():
        predict(cfg)


if __name__ == "__main__":
    main()
