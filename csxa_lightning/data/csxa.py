"""Read the Cervical Spine X-ray Atlas (CSXA) as unzipped by the user: sheet, PNGs, LabelMe JSONs.

Layout and quirks are documented in docs/csxa-format.md (shared docs). The same code reads the
built-in phantom set, which reproduces that layout on purpose.
"""

from __future__ import annotations

import json
import logging
import re
import zipfile
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd

from csxa_lightning.data.images import crop_window, keypoint_box, read_image
from csxa_lightning.data.keypoints import CANONICAL_BY_NORMALIZED, KEYPOINT_LABELS, normalize_label
from csxa_lightning.errors import UserError

log = logging.getLogger(__name__)

SHEET_NAME = "Sheet1"
PNG_DIR = "datasets-PNG"
JSON_DIR = "datasets-JSON"
SHEET_FILE = "datasets.xlsx"

# Where users get the real data; every "not found" message repeats it.
CSXA_SOURCE = (
    "CSXA is distributed by Science Data Bank, doi:10.57760/sciencedb.15391 "
    "(paper: Ran et al., Scientific Data 11, 2024, doi:10.1038/s41597-024-03383-0). "
    "Download datasets.xlsx, datasets-PNG.zip and datasets-JSON.zip, unzip both archives "
    "into one folder and pass it as data.root=/path/to/CSXA."
)

# Spreadsheet classification column D: 1 = symptomatic (diseased), 2 = asymptomatic (healthy).
SHEET_CLASS_TO_LABEL = {1: 1, 2: 0}
CURVATURE_NAMES = {1: "lordotic", 2: "straight", 3: "sigmoid S", 4: "reverse S", 5: "kyphotic"}

# 4-digit case id, 1-digit gender code, 2-digit age.
STEM_PATTERN = re.compile(r"^(?P<case_id>\d{4})(?P<gender>[01])(?P<age>\d{2})$")

DROP_KEYS = (
    "rows_without_image",
    "images_without_row",
    "rows_without_class",
    "images_without_json",
)


class CSXAFormatError(UserError):
    """The folder does not look like CSXA; the message says what is missing and how to fix it."""


def parse_stem(stem: str) -> tuple[int, int, int]:
    """`2548130` -> (case_id 2548, gender 1, age 30)."""
    match = STEM_PATTERN.match(stem)
    if match is None:
        raise CSXAFormatError(
            f"file name {stem!r} is not a CSXA stem (7 digits: 4-digit case id, gender 0/1, "
            "2-digit age, e.g. 2548130). Remove files that are not part of CSXA from "
            f"{PNG_DIR}/ and {JSON_DIR}/."
        )
    return int(match["case_id"]), int(match["gender"]), int(match["age"])


def _require(path: Path, what: str) -> Path:
    if not path.exists():
        raise CSXAFormatError(f"{what} not found: {path}. {CSXA_SOURCE}")
    return path


def read_sheet(xlsx_path: Path) -> pd.DataFrame:
    """Columns A..E of Sheet1 (title row 1, header row 2), checked by content, not by name.

    Returns columns case_id, sheet_gender, sheet_age, sheet_class, curvature; class and
    curvature are nullable integers (a few rows have none).
    """
    try:
        # keep_default_na=False: a cell reading "n/a" or "NA" is text to report, not a blank.
        raw = pd.read_excel(
            xlsx_path, sheet_name=SHEET_NAME, header=None, usecols="A:E", keep_default_na=False
        )
        raw = raw.replace("", None)  # truly empty cells (read as "" now) are blanks
    except (ValueError, KeyError, zipfile.BadZipFile) as err:  # missing sheet or broken file
        raise CSXAFormatError(
            f"{xlsx_path}: cannot read sheet {SHEET_NAME!r} ({err}). {CSXA_SOURCE}"
        ) from err
    if raw.shape[1] < 5 or len(raw) < 3:
        raise CSXAFormatError(
            f"{xlsx_path}, sheet {SHEET_NAME}: expected a title row, a header row and data in "
            f"columns A..E; found {raw.shape[1]} column(s) and {len(raw)} row(s). {CSXA_SOURCE}"
        )
    header = [str(v) for v in raw.iloc[1].tolist()]
    data = raw.iloc[2:].reset_index(drop=True)
    data.columns = ["case_id", "sheet_gender", "sheet_age", "sheet_class", "curvature"]
    data = data.dropna(how="all")

    describe = {
        "A": "the integer case id (Number)",
        "B": "the gender code 0 or 1",
        "C": "the age in years",
        "D": "the classification 1 (symptomatic) or 2 (asymptomatic), or nothing",
        "E": "the curvature code 1..5, or nothing",
    }

    def numeric(column: str, letter: str, allowed: set[int] | None, required: bool) -> pd.Series:
        values = pd.to_numeric(data[column], errors="coerce")
        bad = values.isna() & data[column].notna()
        if allowed is not None:
            bad |= values.notna() & ~values.isin(list(allowed))
        if required:
            bad |= values.isna()
        if bad.any():
            first = bad.idxmax()
            raise CSXAFormatError(
                f"{xlsx_path}, sheet {SHEET_NAME}, column {letter} (header "
                f"{header['ABCDE'.index(letter)]!r}): unexpected value {data.at[first, column]!r} "
                f"in row {first + 3}. Column {letter} must hold {describe[letter]}; is this the "
                f"original CSXA datasets.xlsx? {CSXA_SOURCE}"
            )
        return values.astype("Int64")

    sheet = pd.DataFrame(
        {
            "case_id": numeric("case_id", "A", None, required=True),
            "sheet_gender": numeric("sheet_gender", "B", {0, 1}, required=False),
            "sheet_age": numeric("sheet_age", "C", set(range(0, 121)), required=False),
            "sheet_class": numeric("sheet_class", "D", set(SHEET_CLASS_TO_LABEL), required=False),
            "curvature": numeric("curvature", "E", set(CURVATURE_NAMES), required=False),
        }
    )
    duplicated = sheet["case_id"][sheet["case_id"].duplicated()]
    if len(duplicated):
        raise CSXAFormatError(
            f"{xlsx_path}, sheet {SHEET_NAME}, column A: case id {int(duplicated.iloc[0])} "
            "appears more than once; the case id is the join key and must be unique."
        )
    return sheet


def _stems(folder: Path, suffix: str) -> dict[str, Path]:
    return {p.stem: p for p in folder.iterdir() if p.suffix.lower() == suffix and p.is_file()}


def load_index(root: str | Path) -> pd.DataFrame:
    """One row per usable CSXA image: the sheet joined to the PNGs on the case id.

    Columns: case_id, stem, gender, age (from the file name, which wins over the sheet),
    label (1 diseased, 0 healthy), curvature, sheet_age, png_path, json_path. Rows are sorted
    by case_id. What was dropped, and why, is counted in ``df.attrs["drops"]`` and logged.
    """
    root = Path(root).expanduser()
    _require(root, "CSXA folder")
    png_dir = _require(root / PNG_DIR, f"image folder {PNG_DIR}/")
    json_dir = _require(root / JSON_DIR, f"annotation folder {JSON_DIR}/")
    sheet = read_sheet(_require(root / SHEET_FILE, f"spreadsheet {SHEET_FILE}"))

    pngs = _stems(png_dir, ".png")
    if not pngs:
        raise CSXAFormatError(f"no .png files in {png_dir}. {CSXA_SOURCE}")
    jsons = _stems(json_dir, ".json")
    images = pd.DataFrame(
        [(stem, *parse_stem(stem)) for stem in sorted(pngs)],
        columns=["stem", "case_id", "gender", "age"],
    )
    images["case_id"] = images["case_id"].astype("Int64")
    twice = images["case_id"][images["case_id"].duplicated()]
    if len(twice):
        stems = images.loc[images["case_id"] == twice.iloc[0], "stem"].tolist()
        raise CSXAFormatError(
            f"{png_dir}: case id {int(twice.iloc[0])} has several images {stems}; "
            "keep one image per case."
        )

    # Join on the case id only: the file name's age and the sheet's age disagree for some cases.
    merged = sheet.merge(images, on="case_id", how="outer", indicator=True)
    drops = dict.fromkeys(DROP_KEYS, 0)
    drops["rows_without_image"] = int((merged["_merge"] == "left_only").sum())
    drops["images_without_row"] = int((merged["_merge"] == "right_only").sum())
    both = merged[merged["_merge"] == "both"].drop(columns="_merge")
    no_class = both["sheet_class"].isna()
    drops["rows_without_class"] = int(no_class.sum())
    both = both[~no_class]
    has_json = both["stem"].isin(list(jsons))
    drops["images_without_json"] = int((~has_json).sum())
    both = both[has_json]

    index = pd.DataFrame(
        {
            "case_id": both["case_id"].astype(int),
            "stem": both["stem"].astype(str),
            "gender": both["gender"].astype(int),
            "age": both["age"].astype(int),
            "label": both["sheet_class"].astype(int).map(SHEET_CLASS_TO_LABEL).astype(int),
            "curvature": both["curvature"].fillna(0).astype(int),
            "sheet_age": both["sheet_age"].astype("Int64"),
            "png_path": [str(pngs[s]) for s in both["stem"]],
            "json_path": [str(jsons[s]) for s in both["stem"]],
        }
    ).sort_values("case_id", ignore_index=True)
    if index.empty:
        raise CSXAFormatError(
            f"{root}: no image matches a labelled sheet row with annotation ({drops}). "
            f"{CSXA_SOURCE}"
        )
    drops["age_mismatches"] = int((index["sheet_age"] != index["age"]).fillna(True).sum())
    index.attrs["drops"] = drops
    index.attrs["root"] = str(root)
    log.info(
        "CSXA index %s: %d usable images (%d diseased, %d healthy); dropped %d rows without "
        "image, %d images without row, %d rows without class, %d images without JSON; "
        "%d sheet ages disagree with the file name (file name wins)",
        root,
        len(index),
        int(index["label"].sum()),
        int((index["label"] == 0).sum()),
        drops["rows_without_image"],
        drops["images_without_row"],
        drops["rows_without_class"],
        drops["images_without_json"],
        drops["age_mismatches"],
    )
    return index


def read_keypoints(json_path: str | Path) -> dict[str, tuple[float, float]]:
    """The 23 canonical landmarks of one LabelMe file, as {label: (x, y)} in image pixels.

    Handles the quirks of the real files: labels in other case or spacing, a landmark saved
    twice (``2548130.json``) or as a polygon of 2-4 near-identical vertices -- all points given
    for one label are averaged. ``imageData`` is never decoded.
    """
    json_path = Path(json_path)
    try:
        doc = json.loads(json_path.read_bytes())
    except FileNotFoundError as err:
        raise CSXAFormatError(f"annotation file not found: {json_path}. {CSXA_SOURCE}") from err
    except json.JSONDecodeError as err:
        raise CSXAFormatError(
            f"{json_path}: not valid JSON ({err}); re-extract it from datasets-JSON.zip."
        ) from err
    shapes = doc.get("shapes") if isinstance(doc, dict) else None
    if not isinstance(shapes, list):
        raise CSXAFormatError(f"{json_path}: no LabelMe 'shapes' list; is this a CSXA annotation?")

    collected: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for number, shape in enumerate(shapes):
        if not isinstance(shape, dict):
            raise CSXAFormatError(
                f"{json_path}: shapes[{number}] is {type(shape).__name__} {shape!r:.60}, not a "
                "LabelMe shape object; re-extract the file from datasets-JSON.zip or remove the "
                "case."
            )
        label = CANONICAL_BY_NORMALIZED.get(normalize_label(str(shape.get("label", ""))))
        points = shape.get("points") or []
        if label is None or not points:
            continue  # not one of the 23 vertebral landmarks
        collected[label].extend(_points(json_path, number, label, points))

    missing = [label for label in KEYPOINT_LABELS if label not in collected]
    if missing:
        raise CSXAFormatError(
            f"{json_path}: missing landmark(s) {missing}; every CSXA annotation has the 23 "
            "vertebral keypoints. Re-extract the file from datasets-JSON.zip or remove the "
            "case's PNG and JSON to exclude it."
        )
    result = {}
    for label in KEYPOINT_LABELS:
        points = np.asarray(collected[label], dtype=np.float64)
        # Sum of x/n rather than np.mean: the plain sum overflows for finite coordinates near
        # the float maximum, which would then be refused as "infinite" instead of "outside".
        x, y = (points / len(points)).sum(axis=0)
        result[label] = (float(x), float(y))
    _check_coordinates(json_path, doc, result)
    return result


def read_case(
    png_path: str | Path, json_path: str | Path
) -> tuple[np.ndarray, dict[str, tuple[float, float]]]:
    """The film and its 23 landmarks, checked as every preprocessing variant needs them.

    A case is usable for all variants or for none: the film must decode, its annotation must
    hold the 23 landmarks, and their box must have an area and lie on the film -- also for
    crop=none, which never looks at the landmarks. Were the annotation checked only by the
    crops that use it, data.on_bad_file=skip would drop a case with a broken JSON from some
    variants of a sweep and not from others, and their splits (and test images) would differ.
    The cache build calls this for every crop (it decodes each film once anyway); the index does
    not, so that building it stays a listing of files. Raises ValueError naming the file.
    """
    json_path = Path(json_path)
    keypoints = read_keypoints(json_path)  # the annotation first: as the landmark crops did
    image = read_image(png_path)
    box = keypoint_box(keypoints)
    if box[2] - box[0] < 1 or box[3] - box[1] < 1:
        raise CSXAFormatError(
            f"{json_path}: the landmarks span a degenerate box {box} (zero width or height), "
            "which the landmark crops cannot cut; check the annotation, or remove the case's "
            "PNG and JSON to exclude it."
        )
    height, width = image.shape[:2]
    try:
        crop_window(box, 0, 0, width, height)
    except ValueError as err:
        raise CSXAFormatError(
            f"{json_path}: the landmark box {box} lies outside its {width}x{height} image "
            f"{png_path}; the annotation does not belong to this image. Re-extract both files, "
            "or remove the case."
        ) from err
    return image, keypoints


def _points(json_path: Path, number: int, label: str, points) -> list[tuple[float, float]]:
    """The (x, y) pairs of one shape; anything else is a clear error naming the shape."""
    if isinstance(points, list):
        pairs = []
        for point in points:
            if not (isinstance(point, list | tuple) and len(point) == 2):
                break
            try:
                pairs.append((float(point[0]), float(point[1])))
            except (TypeError, ValueError):
                break
        else:
            return pairs
    raise CSXAFormatError(
        f"{json_path}: shapes[{number}] ({label}) has points {points!r:.80}; LabelMe points are "
        "a list of [x, y] number pairs. Re-extract the file from datasets-JSON.zip or remove "
        "the case."
    )


def _check_coordinates(
    json_path: Path, doc: dict, keypoints: dict[str, tuple[float, float]]
) -> None:
    """Landmarks must be finite and, where the file gives the image size, inside the image."""
    bad = [label for label, xy in keypoints.items() if not np.all(np.isfinite(xy))]
    if bad:
        raise CSXAFormatError(
            f"{json_path}: landmark(s) {bad} have non-numeric coordinates (NaN or infinite); "
            "re-extract the file from datasets-JSON.zip or remove the case."
        )
    width, height = doc.get("imageWidth"), doc.get("imageHeight")
    if not (isinstance(width, int | float) and isinstance(height, int | float)):
        return
    outside = [
        label
        for label, (x, y) in keypoints.items()
        if not (-1 <= x <= width + 1 and -1 <= y <= height + 1)  # a pixel of click slack
    ]
    if outside:
        raise CSXAFormatError(
            f"{json_path}: landmark(s) {outside} lie outside the {width}x{height} image; the "
            "annotation does not belong to this image. Re-extract it or remove the case."
        )
