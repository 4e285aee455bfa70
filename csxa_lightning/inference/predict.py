"""Score films with a trained run: `predict(cfg)`, what `python -m csxa_lightning.predict` runs.

Each PNG goes through the preprocessing stored in the checkpoint (the function that built the
training cache) and the model's own normalization; a film with two channel orders is scored as
the test split was, by averaging their probabilities, so a test image gets the probability its
run wrote in predictions.csv. Writes one CSV row per image: file, case_id, stem, prob_diseased,
pred, threshold (and cam, the path of its Grad-CAM overlay, with cam=true).

Several checkpoints (ckpt=[a,b,c] or run=[...]) are an ensemble: their probabilities are
combined by ensemble=mean|vote (metrics/ensembles.py) and each member's own is kept in
prob_member_i. tta=flip also scores each film's mirror image.
"""

from __future__ import annotations

import logging
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from tempfile import TemporaryDirectory

import numpy as np
import pandas as pd
import torch
from omegaconf import DictConfig

from csxa_lightning.config.checks import PREDICT_RULES, check_values
from csxa_lightning.inference.chosen_checkpoint import chosen_checkpoints
from csxa_lightning.inference.crop_landmarks import crop_annotations
from csxa_lightning.inference.members import load_members
from csxa_lightning.inference.output_paths import as_list, check_output
from csxa_lightning.inference.scoring import (
    ScoringInputError,
    cam_folder,
    case_id,
    list_films,
    pick_device,
    required,
    score_members,
)
from csxa_lightning.metrics.ensembles import EnsembleScore, ensemble_score
from csxa_lightning.runs.folder import predictions_frame
from csxa_lightning.utils.whole_files import write_text_whole

log = logging.getLogger(__name__)

DEFAULT_OUT = "predict.csv"


def predict(cfg: DictConfig) -> pd.DataFrame:
    """Write the CSV of predictions (cfg.out) and return it."""
    # The predicted landmarks' LabelMe files (landmarks=predicted) live until the end.
    with ExitStack() as stack:
        return predict_in(cfg, stack)


def predict_in(cfg: DictConfig, stack: ExitStack) -> pd.DataFrame:
    check_values(cfg, PREDICT_RULES)  # before anything is read
    ckpts = [str(c) for c in chosen_checkpoints(cfg)]  # ckpt=, run=, or a list of either
    given = required(cfg, "input", "/path/to/CSXA/datasets-PNG")
    pngs = list_films(given)
    out = checked_out(cfg, given, pngs, ckpts)  # before any work
    if cfg.cam and len(ckpts) > 1:
        raise ScoringInputError(
            f"cam=true with {len(ckpts)} checkpoints: Grad-CAM shows one model's evidence; "
            "predict with one checkpoint for the overlays, or drop cam=true"
        )
    models = load_members([Path(c) for c in ckpts], pick_device(str(cfg.device)), cfg.dicom.window)
    preprocessor = models[0].preprocessor
    workdir = stack.enter_context(TemporaryDirectory(prefix="csxa-landmarks-"))
    jsons = crop_annotations(cfg, models[0], pngs, Path(workdir))
    cam_dir = cam_folder_for(out, pngs) if cfg.cam else None
    log.info(
        "predicting %d image(s) with %s (%s, %s, %d px) on %s",
        len(pngs),
        ", ".join(str(m.path) for m in models),
        models[0].arch,
        preprocessor.label,
        preprocessor.image_size,
        models[0].device,
    )
    stored = [float(m.classifier.decision["threshold"]) for m in models]
    own = stored[0] if cfg.threshold is None else float(cfg.threshold)
    cam = None if cam_dir is None else (cam_dir, own)
    prob = score_members(
        models, pngs, jsons, int(cfg.batch_size), int(cfg.num_workers), str(cfg.tta), cam
    )
    combined = ensemble_score(prob.numpy(), stored, str(cfg.ensemble))
    rows = prediction_rows(pngs, combined, cfg.threshold, cam_dir, prob.numpy())
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_whole(out, rows.to_csv(index=False))  # a failure leaves the file that was there
    print(f"predictions: {out}" + (f" (Grad-CAM overlays in {cam_dir})" if cam_dir else ""))
    return rows


def checked_out(cfg: DictConfig, given, pngs: list[Path], ckpts: list[str]) -> Path:
    """cfg.out resolved, refused when it is a folder or would replace anything predict reads
    (the CSV, and its Grad-CAM folder, never overwrite an input)."""
    out = Path(str(cfg.out or DEFAULT_OUT)).expanduser()
    if out.is_dir():
        raise ScoringInputError(
            f"out={out} is a folder; name the CSV, e.g. out={out / DEFAULT_OUT}"
        )
    inputs = {
        "film": pngs,
        "input folder": [p for p in as_list(given) if Path(str(p)).expanduser().is_dir()],
        "checkpoint": ckpts,
        "annotations folder": as_list(cfg.annotations) if cfg.annotations else [],
    }
    return check_output("out", out, inputs)


def cam_folder_for(out: Path, pngs: list[Path]) -> Path:
    """The Grad-CAM overlays' folder beside out, created; refused when two films share a name
    (their overlays would overwrite each other)."""
    twice = [s for s, n in Counter(p.stem for p in pngs).items() if n > 1]
    if twice:
        raise ScoringInputError(
            f"{twice[0]}.png: given twice (from different folders); with cam=true their "
            "overlays would share a name: predict the folders separately"
        )
    cam_dir = cam_folder(out)
    cam_dir.mkdir(parents=True, exist_ok=True)
    return cam_dir


def prediction_rows(
    pngs: list[Path],
    combined: EnsembleScore,
    threshold: float | None,
    cam_dir: Path | None,
    members: np.ndarray,
) -> pd.DataFrame:
    """The columns and decision rule of a run's predictions.csv, without the label (unknown
    here), with the file, the threshold and, with cam=true, each overlay's path. threshold:
    the user's (threshold=P), else the model's own (an ensemble's: metrics.ensembles). An
    ensemble adds each member's probability, prob_member_1 .. prob_member_M, in ckpt= order."""
    stems = [p.stem for p in pngs]
    files = pd.DataFrame(
        {
            "case_id": pd.array([case_id(s) for s in stems], dtype="Int64"),
            "stem": stems,
            "label": pd.NA,
        }
    )
    cut = combined.threshold if threshold is None else float(threshold)
    prob = torch.from_numpy(np.asarray(combined.score, dtype=np.float32))
    rows = predictions_frame(files, torch.arange(len(pngs)), prob, cut)
    rows = rows.drop(columns="label")
    rows.insert(0, "file", [str(p) for p in pngs])
    rows["threshold"] = cut
    if len(members) > 1:
        for i, member in enumerate(members, start=1):
            rows[f"prob_member_{i}"] = member
    if cam_dir is not None:
        rows["cam"] = [str(cam_dir / f"{s}.png") for s in stems]
    return rows
