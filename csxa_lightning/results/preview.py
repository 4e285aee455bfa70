"""Look at the preprocessing before spending GPU hours: `preview(cfg)`, what
`python -m csxa_lightning.preview` runs. For each case, the exact model input (before
normalization) under the chosen crop and color, named <stem>__<crop>__<color>.png (color
'enhanced-<order>' for each channel order; three-channel inputs are saved with their channels as
R, G, B), and <stem>__contact_sheet.png: the film with the three crop boxes, then all six
crop x color variants side by side. With landmarks=predicted landmarks.ckpt=..., the film
again with the landmark model's landmarks (magenta) and its crop boxes, beside the annotated
ones (yellow), and the variants cut from the predicted landmarks, as training would cut them.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from csxa_lightning.config.location import CONFIG_DIR
from csxa_lightning.data.annotations import read_keypoints
from csxa_lightning.data.cache import preprocess_file
from csxa_lightning.data.csxa import load_index
from csxa_lightning.data.dicom import window_text
from csxa_lightning.data.films import read_film
from csxa_lightning.data.images import to_gray
from csxa_lightning.data.preprocess import Preprocessor
from csxa_lightning.inference.landmark_model import predicted_landmarks
from csxa_lightning.inference.output_paths import check_output
from csxa_lightning.utils.errors import UserError
from csxa_lightning.utils.labels import CLASS_NAMES

CROPS = ("none", "tight", "wide")
# landmarks=predicted: the column of the landmark model's LabelMe file of each case.
PREDICTED_JSON = "predicted_json_path"
COLORS = ("none", "enhanced")
# The box of each crop on the film (BGR): none blue, tight green, wide red.
BOX_COLORS = ((255, 80, 0), (0, 200, 0), (0, 0, 255))


class PreviewCaseError(UserError):
    """A case of `cases=` that the dataset does not hold."""


def select_cases(index: pd.DataFrame, cases: list) -> pd.DataFrame:
    """Rows for stems or case ids; by default the first healthy and first diseased case."""
    if not cases:
        picks = [index[index["label"] == label].head(1) for label in (0, 1)]
        return pd.concat(picks, ignore_index=True)
    rows = []
    for case in cases:
        text = str(case)
        if len(text) == 7:
            hit = index[index["stem"] == text]
        else:  # a case id; anything else matches nothing and is named below
            hit = index[index["case_id"] == int(text)] if text.isdigit() else index.iloc[:0]
        if hit.empty:
            raise PreviewCaseError(
                f"cases: {case!r} is neither a stem nor a case id of a usable image in "
                f"{index.attrs.get('root')}; stems look like 2548130 (case 2548)"
            )
        rows.append(hit)
    return pd.concat(rows, ignore_index=True)


def group_option(group: str, name: str, chosen: DictConfig) -> object:
    """The user's (overridden) choice for the chosen option; the stock yaml for the others."""
    if chosen.get("name") == name:
        return instantiate(chosen)
    return instantiate(OmegaConf.load(Path(CONFIG_DIR) / group / f"{name}.yaml"))


def to_picture(array: np.ndarray) -> np.ndarray:
    """(C, H, W) model input -> an image OpenCV writes: gray, or channels shown as R, G, B."""
    if array.shape[0] == 1:
        return array[0]
    return np.ascontiguousarray(array[::-1].transpose(1, 2, 0))  # OpenCV writes BGR


def film_with_boxes(
    row: pd.Series, cfg: DictConfig, size: int, landmarks: str = "json_path"
) -> np.ndarray:
    """The original film scaled to the tile height, with center (blue), tight (green) and
    wide (red) crop boxes, from the landmarks of row[landmarks] (annotated: yellow points;
    predicted_json_path, a landmark model's: magenta)."""
    film = read_film(
        row["png_path"],
        cfg.data.get("bit_depth", "auto"),
        dicom_window=cfg.data.get("dicom_window", "first"),
    )
    gray = to_gray(film[0])
    height, width = gray.shape
    picture = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    keypoints = read_keypoints(row[landmarks])
    thickness = max(2, height // 250)
    for name, box_color in zip(CROPS, BOX_COLORS, strict=True):
        crop = group_option("crop", name, cfg.crop)
        x0, y0, x1, y1 = crop.window(height, width, keypoints)
        cv2.rectangle(picture, (x0, y0), (x1 - 1, y1 - 1), box_color, thickness)
    point_color = (255, 0, 255) if landmarks == PREDICTED_JSON else (0, 255, 255)
    for x, y in keypoints.values():
        cv2.circle(picture, (int(x), int(y)), thickness + 1, point_color, -1)
    return cv2.resize(picture, (round(width * size / height), size), interpolation=cv2.INTER_AREA)


def film_caption(row) -> str:
    """The film's tile caption: its stem and class by name (healthy, diseased), not a code."""
    return f"{row['stem']} {CLASS_NAMES[int(row['label'])]}"


def labelled(tile: np.ndarray, text: str) -> np.ndarray:
    tile = tile if tile.ndim == 3 else cv2.cvtColor(tile, cv2.COLOR_GRAY2BGR)
    tile = cv2.copyMakeBorder(tile, 22, 0, 2, 2, cv2.BORDER_CONSTANT, value=(40, 40, 40))
    cv2.putText(
        tile, text, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA
    )
    return tile


def contact_sheet(row: pd.Series, cfg: DictConfig) -> np.ndarray:
    size = int(cfg.image_size)
    tiles = [labelled(film_with_boxes(row, cfg, size), film_caption(row) + " annotated")]
    if PREDICTED_JSON in row:  # landmarks=predicted: the model's landmarks and boxes beside
        picture = film_with_boxes(row, cfg, size, PREDICTED_JSON)
        tiles.append(labelled(picture, film_caption(row) + " predicted"))
    crop_json = row.get(PREDICTED_JSON, row["json_path"])
    for crop_name in CROPS:
        for color_name in COLORS:
            preprocessor = Preprocessor(
                crop=group_option("crop", crop_name, cfg.crop),
                color=group_option("color", color_name, cfg.color),
                image_size=size,
                bit_depth=cfg.data.get("bit_depth", "auto"),
                dicom_window=window_text(cfg.data.get("dicom_window", "first")),
            )
            first_order = preprocess_file(preprocessor, row["png_path"], crop_json)[0]
            tiles.append(labelled(to_picture(first_order), f"{crop_name} / {color_name}"))
    return np.hstack(tiles)


def with_predicted_landmarks(cfg: DictConfig, rows: pd.DataFrame) -> pd.DataFrame:
    """rows with predicted_json_path, the landmark model's LabelMe file of each film, when
    landmarks=predicted (the files training's crops would read, from the same cache)."""
    if OmegaConf.select(cfg, "landmarks.source", default="annotated") != "predicted":
        return rows
    source = predicted_landmarks(str(cfg.landmarks.ckpt), cfg.data.cache_dir)
    return rows.assign(**{PREDICTED_JSON: source.annotation_files(rows)})


def preview(cfg: DictConfig) -> list[Path]:
    """Write the preview files; returns their paths."""
    root = OmegaConf.select(cfg, "data.root", default=None, throw_on_missing=False)
    out = check_output("out", str(cfg.out), {"dataset folder": [root] if root else []})
    out.mkdir(parents=True, exist_ok=True)
    datamodule = instantiate(cfg.data)
    index = load_index(datamodule.dataset_root())
    preprocessor: Preprocessor = datamodule.preprocess
    written = []
    for _, row in with_predicted_landmarks(cfg, select_cases(index, list(cfg.cases))).iterrows():
        # The film checks of training (data.min_size, data.max_pixels): preview what trains.
        inputs = preprocess_file(
            preprocessor,
            row["png_path"],
            row.get(PREDICTED_JSON, row["json_path"]),
            datamodule.min_size,
            datamodule.max_pixels,
        )
        for order, array in zip(preprocessor.variants, inputs, strict=True):
            # The channel order is named where it says more than the color's own name.
            color = preprocessor.color.name
            if order not in ("gray", color):
                color = f"{color}-{order}"
            path = out / f"{row['stem']}__{preprocessor.crop.name}__{color}.png"
            cv2.imwrite(str(path), to_picture(array))
            written.append(path)
        sheet = out / f"{row['stem']}__contact_sheet.png"
        cv2.imwrite(str(sheet), contact_sheet(row, cfg))
        written.append(sheet)
    for path in written:
        print(path)
    return written
