"""The CSXA index: the Cervical Spine X-ray Atlas as unzipped by the user -- datasets.xlsx (read
by data.sheet), the films in datasets-PNG/ and the LabelMe files in datasets-JSON/ (read by
data.annotations) -- joined into one row per usable image.

The layout is CSXA's as published (Ran et al., Scientific Data 11, 2024; README "Train on the
real CSXA"), its quirks are handled where they are read. The same code reads the built-in
phantom set, which reproduces that layout on purpose.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pandas as pd

from csxa_lightning.data.format_error import CSXA_SOURCE, CSXAFormatError
from csxa_lightning.data.listing import Listing, list_files, list_films, nested_folder_problem
from csxa_lightning.data.sheet import SHEET_CLASS_TO_LABEL, read_sheet

log = logging.getLogger(__name__)

PNG_DIR = "datasets-PNG"
JSON_DIR = "datasets-JSON"
SHEET_FILE = "datasets.xlsx"

# 4-digit case id, 1-digit gender code, 2-digit age.
STEM_PATTERN = re.compile(r"^(?P<case_id>\d{4})(?P<gender>[01])(?P<age>\d{2})$")

# The share of joined cases whose sheet age or gender may disagree with the file name before
# the join is taken to be broken (data.max_join_disagreement). CSXA itself: a few percent of
# the ages; a sheet sorted or shifted on its own: nearly all.
MAX_JOIN_DISAGREEMENT = 0.1

DROP_KEYS = (
    "rows_without_image",
    "images_without_row",
    "rows_without_class",
    "images_without_json",
)


def is_dataset_folder(folder: Path) -> bool:
    """A dataset folder in CSXA's layout (one holding datasets-PNG/ or datasets-JSON/), or one
    of those two folders."""
    marks = (PNG_DIR, JSON_DIR)
    return folder.name in marks or any((folder / m).is_dir() for m in marks)


def stem_patients(stems: pd.Series) -> pd.DataFrame:
    """The gender code (text) and age (a number) each file stem carries, NaN where a stem is
    not CSXA's <case id><gender code><age> (an external set's file names)."""
    parsed = stems.astype(str).str.extract(STEM_PATTERN.pattern)
    ages = pd.to_numeric(parsed["age"], errors="coerce")
    return pd.DataFrame({"gender": parsed["gender"], "age": ages}, index=stems.index)


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


def load_index(
    root: str | Path, max_join_disagreement: float = MAX_JOIN_DISAGREEMENT
) -> pd.DataFrame:
    """One row per usable CSXA image: the sheet joined to the PNGs on the case id.

    Columns: case_id, stem, gender, age (from the file name, which wins over the sheet),
    label (1 diseased, 0 healthy), curvature, sheet_age, sheet_gender, png_path, json_path,
    pixel_mm (the sheet's mm per pixel, NaN where unknown). Rows are sorted by case_id. What
    was dropped, and why, is counted in ``df.attrs["drops"]`` and logged.
    Cases whose files cannot be told apart (X.png next to X.PNG) are not rows: they are in
    ``df.attrs["bad_files"]`` ({stem: problem}), for data.on_bad_file to stop or skip.

    The join is checked: where more than max_join_disagreement of the joined cases have a
    sheet age or gender that disagrees with the file name, the sheet's rows and the images no
    longer belong together (a sorted or shifted column) and the labels would be wrong.
    """
    root = Path(root).expanduser()
    _require(root, "CSXA folder")
    png_dir = _require(root / PNG_DIR, f"image folder {PNG_DIR}/")
    json_dir = _require(root / JSON_DIR, f"annotation folder {JSON_DIR}/")
    sheet_path = _require(root / SHEET_FILE, f"spreadsheet {SHEET_FILE}")
    sheet = read_sheet(sheet_path)
    films, annotations = list_dataset_files(png_dir, json_dir)
    joined, drops = join_sheet_to_films(sheet, film_frame(png_dir, films.files), annotations.files)
    index = index_frame(joined, films.files, annotations.files)
    if index.empty:
        raise CSXAFormatError(
            f"{root}: no image matches a labelled sheet row with annotation ({drops}). "
            f"{CSXA_SOURCE}"
        )
    drops["age_mismatches"] = int((index["sheet_age"] != index["age"]).fillna(True).sum())
    _check_join(sheet_path, index, max_join_disagreement)
    drops["gender_mismatches"] = int((index["sheet_gender"] != index["gender"]).fillna(False).sum())
    drops["dot_files"] = films.dot_files + annotations.dot_files
    bad_files = {
        stem: problem
        for stem, problem in {**annotations.collisions, **films.collisions}.items()
        if stem in set(index["stem"])
    }
    drops["name_collisions"] = len(bad_files)
    index = index[~index["stem"].isin(list(bad_files))].reset_index(drop=True)
    index.attrs["drops"] = drops
    index.attrs["bad_files"] = bad_files
    index.attrs["root"] = str(root)
    _log_index(root, index, drops)
    return index


def list_dataset_files(png_dir: Path, json_dir: Path) -> tuple[Listing, Listing]:
    """The films and the annotation files; refused when there is no film, or no annotation
    file where a subfolder holds them (an archive unzipped into a folder of its own name)."""
    png_listing, json_listing = list_films(png_dir), list_files(json_dir, ".json")
    if not png_listing.files:
        nested = nested_folder_problem(png_dir, ".png")
        raise CSXAFormatError(nested or f"no .png (or .dcm) files in {png_dir}. {CSXA_SOURCE}")
    if not json_listing.files:
        nested = nested_folder_problem(json_dir, ".json")
        if nested:
            raise CSXAFormatError(nested)
    return png_listing, json_listing


def film_frame(png_dir: Path, pngs: dict[str, Path]) -> pd.DataFrame:
    """stem, case_id, gender and age of every film, from its file name; one film per case."""
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
    return images


def join_sheet_to_films(
    sheet: pd.DataFrame, images: pd.DataFrame, jsons: dict[str, Path]
) -> tuple[pd.DataFrame, dict[str, int]]:
    """The sheet's rows that have a film, a class and an annotation file, joined to their
    films; and how many were dropped for each reason (DROP_KEYS)."""
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
    return both[has_json], drops


def index_frame(
    joined: pd.DataFrame, pngs: dict[str, Path], jsons: dict[str, Path]
) -> pd.DataFrame:
    """The index's columns (load_index) of the joined rows, sorted by case id."""
    return pd.DataFrame(
        {
            "case_id": joined["case_id"].astype(int),
            "stem": joined["stem"].astype(str),
            "gender": joined["gender"].astype(int),
            "age": joined["age"].astype(int),
            "label": joined["sheet_class"].astype(int).map(SHEET_CLASS_TO_LABEL).astype(int),
            "curvature": joined["curvature"].fillna(0).astype(int),
            "sheet_age": joined["sheet_age"].astype("Int64"),
            "sheet_gender": joined["sheet_gender"].astype("Int64"),
            "png_path": [str(pngs[s]) for s in joined["stem"]],
            "json_path": [str(jsons[s]) for s in joined["stem"]],
            # Last, so that selections of the columns before it keep their order.
            "pixel_mm": joined["pixel_mm"].astype("float64"),
        }
    ).sort_values("case_id", ignore_index=True)


def _require(path: Path, what: str) -> Path:
    if not path.exists():
        raise CSXAFormatError(f"{what} not found: {path}. {CSXA_SOURCE}")
    return path


def _check_join(sheet_path: Path, index: pd.DataFrame, max_join_disagreement: float) -> None:
    """Stop when the sheet's age and gender disagree with the file names of too many joined
    cases: the case ids no longer match the other columns, and the labels would be wrong."""
    ages = (index["sheet_age"] != index["age"]).fillna(False)
    genders = (index["sheet_gender"] != index["gender"]).fillna(False)
    disagree = int((ages | genders).sum())
    if disagree <= max_join_disagreement * len(index):
        return
    raise CSXAFormatError(
        f"{sheet_path}: the sheet's rows and the images no longer belong together: of "
        f"{len(index)} cases joined on the case id, {disagree} ({disagree / len(index):.0%}) "
        f"have a sheet age or gender that disagrees with the file name ({int(ages.sum())} ages, "
        f"{int(genders.sum())} genders), more than data.max_join_disagreement="
        f"{max_join_disagreement}. A sorted or shifted column would give every case another "
        "case's label: use the original CSXA datasets.xlsx. If you know the sheet is right, "
        "pass data.max_join_disagreement=1 to train on it."
    )


def _log_index(root: Path, index: pd.DataFrame, drops: dict[str, int]) -> None:
    log.info(
        "CSXA index %s: %d usable images (%d diseased, %d healthy); dropped %d rows without "
        "image, %d images without row, %d rows without class, %d images without JSON; "
        "%d sheet ages disagree with the file name (file name wins), %d sheet genders; "
        "%d cases with two files differing in case; %d dot-files (._*, .DS_Store) ignored",
        root,
        len(index),
        int(index["label"].sum()),
        int((index["label"] == 0).sum()),
        drops["rows_without_image"],
        drops["images_without_row"],
        drops["rows_without_class"],
        drops["images_without_json"],
        drops["age_mismatches"],
        drops["gender_mismatches"],
        drops["name_collisions"],
        drops["dot_files"],
    )
