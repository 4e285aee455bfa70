"""Read the Cervical Spine X-ray Atlas (CSXA) as unzipped by the user: sheet, PNGs, LabelMe JSONs.

Layout and quirks are documented in docs/csxa-format.md (shared docs). The same code reads the
built-in phantom set, which reproduces that layout on purpose.
"""

from __future__ import annotations

import codecs
import json
import logging
import os
import re
import zipfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from csxa_lightning.data.images import MAX_PIXELS, crop_window, keypoint_box, read_film
from csxa_lightning.data.keypoints import CANONICAL_BY_NORMALIZED, KEYPOINT_LABELS, normalize_label
from csxa_lightning.data.sheet_cells import HiddenBlank, hidden_blanks
from csxa_lightning.utils.errors import UserError

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

# The share of joined cases whose sheet age or gender may disagree with the file name before
# the join is taken to be broken (data.max_join_disagreement). CSXA itself: a few percent of
# the ages; a sheet sorted or shifted on its own: nearly all.
MAX_JOIN_DISAGREEMENT = 0.1

# Fewer pixels a side than this and a film is no radiograph (data.min_size): a 1x1 placeholder
# would be trained on as a black square under crop=none.
MIN_SIZE = 64

DROP_KEYS = (
    "rows_without_image",
    "images_without_row",
    "rows_without_class",
    "images_without_json",
)


class CSXAFormatError(UserError):
    """The folder does not look like CSXA; the message says what is missing and how to fix it."""


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


def _require(path: Path, what: str) -> Path:
    if not path.exists():
        raise CSXAFormatError(f"{what} not found: {path}. {CSXA_SOURCE}")
    return path


# The first bytes of the file types a "datasets.xlsx" turns out to be.
ZIP_MAGIC = b"PK\x03\x04"  # .xlsx is a zip of XML files
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # encrypted .xlsx, or legacy .xls


def sheet_file_problem(head: bytes) -> str | None:
    """What a file that should be datasets.xlsx really is, from its first bytes, and what to
    do; None for a zip (an .xlsx, whose sheet is read and checked next)."""
    if head.startswith(ZIP_MAGIC):
        return None
    if head.startswith(OLE2_MAGIC):
        return (
            "an OLE2 compound file, not an .xlsx: either a password-protected (encrypted) "
            "workbook or a legacy Excel 97-2003 .xls. Open it in Excel and save it without a "
            "password as an Excel Workbook (.xlsx), or download datasets.xlsx again."
        )
    if not head:
        return "an empty file. Download datasets.xlsx again."
    try:  # incremental: a character cut off at the end of head is not an error
        text = codecs.getincrementaldecoder("utf-8-sig")().decode(head, final=False)
    except UnicodeDecodeError:
        text = None
    if text is not None and all(c.isprintable() or c in "\r\n\t" for c in text):
        return (
            "a text file (CSV or similar) named .xlsx, not an Excel workbook. Open it in a "
            "spreadsheet program and save it as an Excel Workbook (.xlsx), or download "
            "datasets.xlsx again."
        )
    return (
        f"not an Excel workbook (it starts with bytes {head[:8]!r}). Download datasets.xlsx again."
    )


def _is_case_id(value) -> bool:
    """An integer >= 0 as Excel stores it (int, integral float) or as digits in text."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float | np.integer | np.floating):
        return bool(np.isfinite(value)) and float(value).is_integer() and value >= 0
    return isinstance(value, str) and value.strip().isdigit()


def header_row(column_a: list) -> int:
    """The 0-based row of the column names among the sheet's first rows, found by content:
    the row whose column A reads "Number"; failing that, the row above the first case id
    (-1: the data start in row 1). The original sheet has a title row, so it returns 1."""
    first = column_a[:5]
    for row, value in enumerate(first):
        if isinstance(value, str) and value.strip().casefold() == "number":
            return row
    for row, value in enumerate(first):
        if _is_case_id(value):
            return row - 1
    return 1  # no case id near the top either: read as the original, the checks report it


def read_sheet(xlsx_path: Path) -> pd.DataFrame:
    """Columns A..E of Sheet1 (title row 1, header row 2), checked by content, not by name.

    The header row is recognised by content (column A reads "Number", or at least is not a case
    id), so a sheet whose title row was deleted loses no case; it is read with a WARNING.
    Returns columns case_id, sheet_gender, sheet_age, sheet_class, curvature; class and
    curvature are nullable integers (a few rows have none).
    """
    with open(xlsx_path, "rb") as f:
        head = f.read(512)
    problem = sheet_file_problem(head)
    if problem is not None:
        # pandas would ask for an engine or for a reader package: advice that does not help.
        raise CSXAFormatError(f"{xlsx_path} is {problem}")
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
    names_row = header_row(raw.iloc[:, 0].tolist())
    if names_row != 1:
        where = f"in row {names_row + 1}" if names_row >= 0 else "missing"
        log.warning(
            "%s, sheet %s: the column names (Number, ...) are %s, not in row 2 below a title "
            "row as in the original CSXA datasets.xlsx; the data were read from row %d. The "
            "sheet differs from the original: check that no other rows were lost.",
            xlsx_path,
            SHEET_NAME,
            where,
            names_row + 2,
        )
    header = [str(v) for v in raw.iloc[names_row].tolist()] if names_row >= 0 else ["(none)"] * 5
    data = raw.iloc[names_row + 1 :].reset_index(drop=True)
    data.columns = ["case_id", "sheet_gender", "sheet_age", "sheet_class", "curvature"]
    data = data.dropna(how="all")
    first_data_row = names_row + 2  # the spreadsheet's 1-based number of data row 0
    check_hidden_blanks(xlsx_path, hidden_blanks(xlsx_path, SHEET_NAME, first_data_row))

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
        else:  # a case id: a whole number >= 0 (1.5 or -3 would fail the cast, or never join)
            bad |= values.notna() & ((values % 1 != 0) | (values < 0))
        if required:
            bad |= values.isna()
        if bad.any():
            first = bad.idxmax()
            raise CSXAFormatError(
                f"{xlsx_path}, sheet {SHEET_NAME}, column {letter} (header "
                f"{header['ABCDE'.index(letter)]!r}): unexpected value {data.at[first, column]!r} "
                f"in row {first + first_data_row}. Column {letter} must hold "
                f"{describe[letter]}; is this the original CSXA datasets.xlsx? {CSXA_SOURCE}"
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
        case_id = int(duplicated.iloc[0])
        rows = [int(i) + first_data_row for i in sheet.index[sheet["case_id"] == case_id]]
        raise CSXAFormatError(
            f"{xlsx_path}, sheet {SHEET_NAME}, column A: case id {case_id} appears more than "
            f"once (rows {', '.join(map(str, rows))}); the case id is the join key and must be "
            "unique. Use the original CSXA datasets.xlsx, or correct those rows."
        )
    return sheet


# Columns whose blanks lose a case: the join key and the label.
LABEL_COLUMNS = {"A": "case id", "D": "classification"}


def check_hidden_blanks(xlsx_path: Path, hidden: list[HiddenBlank]) -> None:
    """Cells read as blank that are not: an error where they hold case ids or classes (their
    rows would be dropped, with only a count on an INFO line), else a WARNING naming them."""
    if not hidden:
        return
    losing = [b for b in hidden if b.column in LABEL_COLUMNS]
    shown = ", ".join(map(str, (losing or hidden)[:5])) + (
        " ..." if len(losing or hidden) > 5 else ""
    )
    if losing:
        raise CSXAFormatError(
            f"{xlsx_path}, sheet {SHEET_NAME}: {len(losing)} cell(s) of the case id or "
            f"classification columns read as blank but are not: {shown}; their rows would be "
            "dropped. Open the file in a spreadsheet program and save it (formulas get their "
            "values), or unmerge the cells and fill every row."
        )
    log.warning(
        "%s, sheet %s: %d cell(s) read as blank but are not: %s; those rows have no gender, "
        "age or curvature here. Open the file in a spreadsheet program and save it, or "
        "unmerge the cells.",
        xlsx_path,
        SHEET_NAME,
        len(hidden),
        shown,
    )


@dataclass
class Listing:
    """The files of one suffix in a dataset folder: {stem: path}, the dot-files left out, and
    {stem: problem} for stems that name two files."""

    files: dict[str, Path]
    dot_files: int
    collisions: dict[str, str]


def list_files(folder: Path, suffix: str) -> Listing:
    """Files (and symbolic links, dangling ones included: reported when read, not counted as
    missing) whose suffix is `suffix` in any case. Names starting with a dot -- macOS `._*`
    resource forks left by an exFAT or FAT drive, `.DS_Store` -- are not CSXA files: they are
    counted and left out. Two files whose names differ only in case (X.png, X.PNG) are a
    collision: which one a listing returns depends on the directory order."""
    files: dict[str, list[Path]] = defaultdict(list)
    dot_files = 0
    for path in folder.iterdir():
        if path.name.startswith("."):
            dot_files += 1
        elif path.suffix.lower() == suffix and (path.is_file() or path.is_symlink()):
            files[path.stem.casefold()].append(path)
    listing = Listing({}, dot_files, {})
    for paths in files.values():
        paths.sort()
        listing.files[paths[0].stem] = paths[0]
        if len(paths) > 1:
            listing.collisions[paths[0].stem] = (
                f"{' and '.join(str(p) for p in paths)}: {len(paths)} files for one case whose "
                "names differ only in case; which one is read would depend on the folder's "
                "order. Keep the one that belongs to the case and remove the other."
            )
    return listing


def nested_folder_problem(folder: Path, suffix: str) -> str | None:
    """When `folder` holds no `suffix` file but a subfolder does (an archive unzipped into a
    folder of its own name): the message naming that subfolder; else None."""
    counts = {
        sub: sum(1 for p in sub.iterdir() if p.suffix.lower() == suffix)
        for sub in sorted(folder.iterdir())
        if sub.is_dir() and not sub.name.startswith((".", "__MACOSX"))
    }
    counts = {sub: n for sub, n in counts.items() if n}
    if not counts:
        return None
    sub, n = max(counts.items(), key=lambda item: item[1])
    return (
        f"no {suffix} files in {folder}, but found {n} {suffix} files in "
        f"{folder.name}/{sub.name}; move them up one level, into {folder}."
    )


def load_index(
    root: str | Path, max_join_disagreement: float = MAX_JOIN_DISAGREEMENT
) -> pd.DataFrame:
    """One row per usable CSXA image: the sheet joined to the PNGs on the case id.

    Columns: case_id, stem, gender, age (from the file name, which wins over the sheet),
    label (1 diseased, 0 healthy), curvature, sheet_age, png_path, json_path. Rows are sorted
    by case_id. What was dropped, and why, is counted in ``df.attrs["drops"]`` and logged.
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

    png_listing, json_listing = list_files(png_dir, ".png"), list_files(json_dir, ".json")
    pngs, jsons = png_listing.files, json_listing.files
    if not pngs:
        nested = nested_folder_problem(png_dir, ".png")
        raise CSXAFormatError(nested or f"no .png files in {png_dir}. {CSXA_SOURCE}")
    if not jsons:
        nested = nested_folder_problem(json_dir, ".json")
        if nested:
            raise CSXAFormatError(nested)
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
            "sheet_gender": both["sheet_gender"].astype("Int64"),
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
    _check_join(sheet_path, index, max_join_disagreement)
    drops["gender_mismatches"] = int((index["sheet_gender"] != index["gender"]).fillna(False).sum())
    drops["dot_files"] = png_listing.dot_files + json_listing.dot_files
    bad_files = {
        stem: problem
        for stem, problem in {**json_listing.collisions, **png_listing.collisions}.items()
        if stem in set(index["stem"])
    }
    drops["name_collisions"] = len(bad_files)
    index = index[~index["stem"].isin(list(bad_files))].reset_index(drop=True)
    index.attrs["drops"] = drops
    index.attrs["bad_files"] = bad_files
    index.attrs["root"] = str(root)
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
    return index


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


def read_keypoints(json_path: str | Path) -> dict[str, tuple[float, float]]:
    """The 23 canonical landmarks of one LabelMe file, as {label: (x, y)} in image pixels.

    Handles the quirks of the real files: labels in other case or spacing, a landmark saved
    twice (``2548130.json``) or as a polygon of 2-4 near-identical vertices -- all points given
    for one label are averaged. ``imageData`` is never decoded. Where the file states the image
    size, the landmarks must lie inside it (read_case compares them with the film itself).
    """
    annotation = read_annotation(json_path)
    if annotation.size is not None:
        check_inside(annotation.path, annotation.keypoints, *annotation.size)
    return annotation.keypoints


@dataclass(frozen=True)
class Annotation:
    """One LabelMe file: its 23 landmarks and the image size it states (None if it states
    none)."""

    path: Path
    keypoints: dict[str, tuple[float, float]]
    size: tuple[float, float] | None  # (imageWidth, imageHeight)


def read_annotation(json_path: str | Path) -> Annotation:
    """The landmarks (finite, all 23) and the stated image size of one LabelMe file."""
    json_path = Path(json_path)
    raw = _annotation_bytes(json_path)
    try:
        doc = json.loads(raw)
    except UnicodeDecodeError as err:  # json.loads reads UTF-8/16/32 (BOM or not), no other
        encoding = guess_encoding(raw)
        raise CSXAFormatError(
            f"{json_path}: not UTF-8 text (byte {raw[err.start]:#04x} at offset {err.start}); "
            f"it reads as {encoding}. Convert it to UTF-8 (e.g. iconv -f {encoding} -t UTF-8 "
            f"in.json > out.json), or re-extract it from datasets-JSON.zip."
        ) from err
    except json.JSONDecodeError as err:
        raise CSXAFormatError(
            f"{json_path}: not valid JSON ({err}); re-extract it from datasets-JSON.zip."
        ) from err
    shapes = doc.get("shapes") if isinstance(doc, dict) else None
    if not isinstance(shapes, list):
        raise CSXAFormatError(f"{json_path}: no LabelMe 'shapes' list; is this a CSXA annotation?")

    collected: dict[str, list[tuple[float, float]]] = defaultdict(list)
    unrecognised: list[str] = []
    for number, shape in enumerate(shapes):
        if not isinstance(shape, dict):
            raise CSXAFormatError(
                f"{json_path}: shapes[{number}] is {type(shape).__name__} {shape!r:.60}, not a "
                "LabelMe shape object; re-extract the file from datasets-JSON.zip or remove the "
                "case."
            )
        raw_label = str(shape.get("label", ""))
        label = CANONICAL_BY_NORMALIZED.get(normalize_label(raw_label))
        points = shape.get("points") or []
        if label is None:
            unrecognised.append(raw_label)  # not one of the 23 vertebral landmarks
            continue
        if points:
            collected[label].extend(_points(json_path, number, label, points))

    missing = [label for label in KEYPOINT_LABELS if label not in collected]
    if missing:
        # repr() shows invisible characters escaped ('C7\u200b top left'): a label that looks
        # right but is not is then visible in the message.
        found = (
            f"Labels in the file that are none of the 23: {sorted(set(unrecognised))}."
            if unrecognised
            else "The file holds no other labels."
        )
        raise CSXAFormatError(
            f"{json_path}: missing landmark(s) {missing}; every CSXA annotation has the 23 "
            f"vertebral keypoints. {found} Re-extract the file from datasets-JSON.zip, correct "
            "the labels, or remove the case's PNG and JSON to exclude it."
        )
    result = {}
    for label in KEYPOINT_LABELS:
        points = np.asarray(collected[label], dtype=np.float64)
        spread = landmark_spread(points)
        if spread > LANDMARK_SPREAD_TOLERANCE:
            raise CSXAFormatError(
                f"{json_path}: landmark {label!r} is given {len(points)} times, up to "
                f"{spread:.0f} pixels apart; their average would be neither point and would "
                "move the crop. Keep the right one (LabelMe), or remove the case."
            )
        # The first point plus the mean offset of the others, not the plain mean: a sum of
        # coordinates near the float maximum overflows (and would be refused as "infinite"
        # instead of "outside"), and identical copies must give that very point.
        with np.errstate(invalid="ignore"):  # inf - inf: a NaN, refused below
            x, y = points[0] + ((points - points[0]) / len(points)).sum(axis=0)
        result[label] = (float(x), float(y))
    bad = [label for label, xy in result.items() if not np.all(np.isfinite(xy))]
    if bad:
        raise CSXAFormatError(
            f"{json_path}: landmark(s) {bad} have non-numeric coordinates (NaN or infinite); "
            "re-extract the file from datasets-JSON.zip or remove the case."
        )
    width, height = doc.get("imageWidth"), doc.get("imageHeight")
    stated = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (width, height))
    return Annotation(json_path, result, (width, height) if stated else None)


# A landmark saved twice or as a small polygon (2548130.json) is one point clicked again: its
# copies lie within a few pixels of each other. Farther apart, they are two different points.
LANDMARK_SPREAD_TOLERANCE = 20.0


def landmark_spread(points: np.ndarray) -> float:
    """The largest distance (pixels) between two of a landmark's given points: 0 for one point,
    for identical copies (whatever their size: a mean of huge equal values can round), and for
    coordinates that are not finite (refused as such below)."""
    if len(points) < 2 or not np.all(np.isfinite(points)):
        return 0.0
    with np.errstate(over="ignore", invalid="ignore"):  # 1e308 apart is far apart: inf
        dx = points[:, None, 0] - points[None, :, 0]
        dy = points[:, None, 1] - points[None, :, 1]
        return float(np.nanmax(np.hypot(dx, dy)))


def _annotation_bytes(json_path: Path) -> bytes:
    try:
        return json_path.read_bytes()
    except FileNotFoundError as err:
        if json_path.is_symlink():
            raise CSXAFormatError(
                f"{json_path}: symbolic link to {os.readlink(json_path)}, which does not exist; "
                "copy the file itself into the dataset folder, or remove the link and the "
                "case's PNG to exclude it."
            ) from err
        raise CSXAFormatError(f"annotation file not found: {json_path}. {CSXA_SOURCE}") from err


# Encodings a LabelMe file saved by a non-UTF-8 editor is likely in: GB18030 (Chinese
# Windows, where CSXA was annotated), then Windows-1252; Latin-1 decodes any bytes.
GUESSED_ENCODINGS = ("GB18030", "CP1252", "LATIN1")


def guess_encoding(raw: bytes) -> str:
    """The likeliest encoding of text that is not UTF-8: GB18030 when what it decodes beyond
    ASCII is Chinese (it decodes much Latin text too, into nonsense), else the first that
    decodes it."""
    for encoding in GUESSED_ENCODINGS:
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        beyond_ascii = [c for c in text if ord(c) > 127]
        if encoding != "GB18030" or all("\u4e00" <= c <= "\u9fff" for c in beyond_ascii):
            return encoding
    return "LATIN1"


def read_case(
    png_path: str | Path,
    json_path: str | Path,
    bit_depth: str | int = "auto",
    min_size: int = MIN_SIZE,
    max_pixels: int = MAX_PIXELS,
) -> Case:
    """The film (8 bits per channel, see images.read_film), its 23 landmarks and the depth
    the film was mapped from, checked as every preprocessing variant needs them.

    A case is usable for all variants or for none: the film must decode and be at least
    min_size pixels a side, its annotation must hold the 23 landmarks and belong to it (the
    size it states is the film's; where it states none, the landmarks lie on the film), and
    their box must have an area -- also for crop=none, which never looks at the landmarks.
    Were the annotation checked only by the crops that use it, data.on_bad_file=skip would
    drop a case with a broken JSON from some variants of a sweep and not from others, and
    their splits (and test images) would differ. The cache build calls this for every crop (it
    decodes each film once anyway); the index does not, so that building it stays a listing
    of files. Raises ValueError naming the file.
    """
    annotation = read_annotation(json_path)  # the annotation first: as the landmark crops did
    json_path = annotation.path
    image, depth = read_film(png_path, bit_depth, max_pixels)
    height, width = image.shape[:2]
    if min(width, height) < min_size:
        raise CSXAFormatError(
            f"{png_path}: the film is {width}x{height} pixels, smaller than data.min_size="
            f"{min_size} on a side; it is not a usable radiograph (a placeholder or a failed "
            "export). Re-extract it from datasets-PNG.zip, or remove the case's PNG and JSON."
        )
    if annotation.size is not None and tuple(annotation.size) != (width, height):
        stated = "x".join(f"{v:g}" for v in annotation.size)
        raise CSXAFormatError(
            f"{png_path} is {width}x{height} pixels, its annotation {json_path} is for a "
            f"{stated} image (imageWidth x imageHeight); the two files do not belong together "
            "(a resized film, or another case's annotation), and every landmark would land on "
            "the wrong place. Re-extract both files, or remove the case."
        )
    check_inside(json_path, annotation.keypoints, width, height)
    box = keypoint_box(annotation.keypoints)
    if box[2] - box[0] < 1 or box[3] - box[1] < 1:
        raise CSXAFormatError(
            f"{json_path}: the landmarks span a degenerate box {box} (zero width or height), "
            "which the landmark crops cannot cut; check the annotation, or remove the case's "
            "PNG and JSON to exclude it."
        )
    try:  # landmarks all within the click slack beyond an edge leave no pixel to crop
        crop_window(box, 0, 0, width, height)
    except ValueError as err:
        raise CSXAFormatError(
            f"{json_path}: the landmark box {box} lies outside its {width}x{height} image "
            f"{png_path}; the annotation does not belong to this image. Re-extract both files, "
            "or remove the case."
        ) from err
    return Case(image, annotation.keypoints, depth)


class Case(NamedTuple):
    image: np.ndarray  # 8 bits per channel
    keypoints: dict[str, tuple[float, float]]
    depth: int  # the bit depth the film's values were mapped from


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


def check_inside(
    json_path: Path, keypoints: dict[str, tuple[float, float]], width: float, height: float
) -> None:
    """Every landmark on the width x height image, within a pixel of click slack."""
    outside = [
        label
        for label, (x, y) in keypoints.items()
        if not (-1 <= x <= width + 1 and -1 <= y <= height + 1)
    ]
    if outside:
        raise CSXAFormatError(
            f"{json_path}: landmark(s) {outside} lie outside the {width}x{height} image; the "
            "annotation does not belong to this image. Re-extract it or remove the case."
        )
