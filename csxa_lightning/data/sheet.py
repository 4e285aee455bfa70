"""datasets.xlsx, CSXA's sheet of cases: columns A..E of Sheet1 (case id, gender, age,
classification, curvature), checked by content, not by name; and, from the columns after E,
the pixel equivalent (mm per pixel), found by its header (pixel_sizes).

Cells that read as blank although they are not are found here too: formulas whose value was
never computed (a sheet written by a script, or saved by a program that does not calculate,
stores the formula alone) and merged cells (only the first cell of a merge holds the value).
pandas reads both as empty; read_sheet refuses them where they hold case ids or classes, and
names their rows in a WARNING elsewhere.
"""

from __future__ import annotations

import codecs
import logging
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
from openpyxl.utils import get_column_letter

from csxa_lightning.data.format_error import CSXA_SOURCE, CSXAFormatError

log = logging.getLogger(__name__)

SHEET_NAME = "Sheet1"
COLUMNS = "ABCDE"

# Spreadsheet classification column D: 1 = symptomatic (diseased), 2 = asymptomatic (healthy).
SHEET_CLASS_TO_LABEL = {1: 1, 2: 0}
CURVATURE_NAMES = {1: "lordotic", 2: "straight", 3: "sigmoid S", 4: "reverse S", 5: "kyphotic"}


@dataclass(frozen=True)
class SheetColumn:
    """One column read: its name in the returned frame, its letter, the values it may hold
    (None: a case id, any whole number >= 0), whether every row needs one, and what it holds
    (for the message that refuses a value)."""

    name: str
    letter: str
    allowed: frozenset[int] | None
    required: bool
    holds: str


SHEET_COLUMNS = (
    SheetColumn("case_id", "A", None, True, "the integer case id (Number)"),
    SheetColumn("sheet_gender", "B", frozenset({0, 1}), False, "the gender code 0 or 1"),
    SheetColumn("sheet_age", "C", frozenset(range(0, 121)), False, "the age in years"),
    SheetColumn(
        "sheet_class",
        "D",
        frozenset(SHEET_CLASS_TO_LABEL),
        False,
        "the classification 1 (symptomatic) or 2 (asymptomatic), or nothing",
    ),
    SheetColumn(
        "curvature", "E", frozenset(CURVATURE_NAMES), False, "the curvature code 1..5, or nothing"
    ),
)

# Columns whose blanks lose a case: the join key and the label.
LABEL_COLUMNS = {"A": "case id", "D": "classification"}

# The pixel size's column lies after E, where CSXA documents no order: it is found by its
# header ("Pixel equivalent (mm/pixel)" in the phantom), which must name pixels and either
# "equivalent" or millimetres. In a sheet without a header row it is found by content: the one
# column after E whose every filled cell is a number in this range (a radiograph's detector
# pixel is 0.05..0.5 mm; angles and distances, the other columns, are larger).
PIXEL_MM_RANGE = (0.0, 1.0)

# The first bytes of the file types a "datasets.xlsx" turns out to be.
ZIP_MAGIC = b"PK\x03\x04"  # .xlsx is a zip of XML files
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # encrypted .xlsx, or legacy .xls


def read_sheet(xlsx_path: Path) -> pd.DataFrame:
    """Columns A..E of Sheet1 (title row 1, header row 2), checked by content, not by name.

    The header row is recognised by content (column A reads "Number", or at least is not a case
    id), so a sheet whose title row was deleted loses no case; it is read with a WARNING.
    Returns columns case_id, sheet_gender, sheet_age, sheet_class, curvature, pixel_mm; class
    and curvature are nullable integers (a few rows have none); pixel_mm is float mm per
    pixel, NaN where unknown (pixel_sizes).
    """
    raw = read_cells(xlsx_path)
    names_row = header_row(raw.iloc[:, 0].tolist())
    if names_row != 1:
        warn_moved_header(xlsx_path, names_row)
    header = [str(v) for v in raw.iloc[names_row].tolist()] if names_row >= 0 else ["(none)"] * 5
    data = raw.iloc[names_row + 1 :, : len(COLUMNS)].reset_index(drop=True)
    data.columns = [column.name for column in SHEET_COLUMNS]
    data = data.dropna(how="all")
    first_data_row = names_row + 2  # the spreadsheet's 1-based number of data row 0
    check_hidden_blanks(xlsx_path, hidden_blanks(xlsx_path, SHEET_NAME, first_data_row))
    sheet = pd.DataFrame(
        {
            column.name: column_values(xlsx_path, data, column, header, first_data_row)
            for column in SHEET_COLUMNS
        }
    )
    check_unique_case_ids(xlsx_path, sheet, first_data_row)
    # The rows of the columns after E that belong to the data rows kept above.
    pixels = pixel_sizes(xlsx_path, raw.iloc[:, len(COLUMNS) :], names_row)
    sheet["pixel_mm"] = pixels.loc[sheet.index].to_numpy(dtype=np.float64)
    return sheet


def read_cells(xlsx_path: Path) -> pd.DataFrame:
    """Every column of Sheet1 as pandas reads them (A..E first), every row, header rows
    included; refused when the file is no .xlsx, has no such sheet, or too few columns or
    rows."""
    with open(xlsx_path, "rb") as f:
        head = f.read(512)
    problem = sheet_file_problem(head)
    if problem is not None:
        # pandas would ask for an engine or for a reader package: advice that does not help.
        raise CSXAFormatError(f"{xlsx_path} is {problem}")
    try:
        # keep_default_na=False: a cell reading "n/a" or "NA" is text to report, not a blank.
        # Every column: the pixel size lies somewhere after E (pixel_sizes).
        raw = pd.read_excel(xlsx_path, sheet_name=SHEET_NAME, header=None, keep_default_na=False)
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
    return raw


def warn_moved_header(xlsx_path: Path, names_row: int) -> None:
    """A WARNING for column names that are not in row 2 below a title row: rows may be lost."""
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


def column_values(
    xlsx_path: Path, data: pd.DataFrame, column: SheetColumn, header: list[str], first_row: int
) -> pd.Series:
    """One column as nullable integers; the first value it may not hold is refused, naming its
    row (first_row: the spreadsheet's number of data row 0)."""
    values = pd.to_numeric(data[column.name], errors="coerce")
    bad = values.isna() & data[column.name].notna()
    if column.allowed is not None:
        bad |= values.notna() & ~values.isin(list(column.allowed))
    else:  # a case id: a whole number >= 0 (1.5 or -3 would fail the cast, or never join)
        bad |= values.notna() & ((values % 1 != 0) | (values < 0))
    if column.required:
        bad |= values.isna()
    if bad.any():
        first = bad.idxmax()
        letter = column.letter
        raise CSXAFormatError(
            f"{xlsx_path}, sheet {SHEET_NAME}, column {letter} (header "
            f"{header[COLUMNS.index(letter)]!r}): unexpected value {data.at[first, column.name]!r} "
            f"in row {first + first_row}. Column {letter} must hold "
            f"{column.holds}; is this the original CSXA datasets.xlsx? {CSXA_SOURCE}"
        )
    return values.astype("Int64")


def pixel_sizes(xlsx_path: Path, extra: pd.DataFrame, names_row: int) -> pd.Series:
    """The pixel equivalent (mm per pixel) of every data row, from the columns after E (extra,
    every row of the sheet): float, NaN where a cell is empty or not a positive number.

    The column is found by its header in the names row (pixel_size_column); none there: every
    value NaN, with an INFO line. A cell that holds something else than a positive number
    does not stop the run: it is NaN, and one WARNING names the first such cell."""
    data = extra.iloc[names_row + 1 :].reset_index(drop=True)
    position, how = pixel_size_column(extra, names_row)
    if position is None:
        log.info(
            "%s, sheet %s: no pixel size column (a header naming the pixel equivalent in mm, "
            "after column E); millimetres are unknown, landmark errors are in pixels only.",
            xlsx_path,
            SHEET_NAME,
        )
        return pd.Series(np.nan, index=data.index, dtype=np.float64)
    letter = get_column_letter(len(COLUMNS) + 1 + position)
    log.debug("%s: pixel sizes from column %s (%s)", xlsx_path, letter, how)
    cells = data.iloc[:, position]
    values = pd.to_numeric(cells, errors="coerce").astype(np.float64)
    usable = np.isfinite(values) & (values > 0)
    bad = cells.notna() & ~usable
    if bad.any():
        first = bad.idxmax()
        log.warning(
            "%s, sheet %s, column %s (%s): %d cell(s) are not a positive number of mm per "
            "pixel, the first %s%d (%r); those films have no millimetre figures. Correct the "
            "cells, or leave them empty.",
            xlsx_path,
            SHEET_NAME,
            letter,
            how,
            int(bad.sum()),
            letter,
            first + names_row + 2,
            cells.at[first],
        )
    return values.where(usable)


def pixel_size_column(extra: pd.DataFrame, names_row: int) -> tuple[int | None, str]:
    """(position among the columns after E, how it was found) of the pixel size column, or
    (None, why not). By its header when the sheet has a names row; in a sheet without one
    (its data start in row 1), by content: the only column after E whose filled cells are all
    numbers in PIXEL_MM_RANGE."""
    if names_row >= 0:
        for position, value in enumerate(extra.iloc[names_row].tolist()):
            if is_pixel_size_header(value):
                return position, f"header {value!r}"
        return None, "no header names it"
    low, high = PIXEL_MM_RANGE
    found = []
    for position in range(extra.shape[1]):
        cells = extra.iloc[:, position].dropna()
        values = pd.to_numeric(cells, errors="coerce")
        if len(cells) and values.notna().all() and ((values > low) & (values < high)).all():
            found.append(position)
    if len(found) == 1:
        return found[0], "no header row: the one column of pixel-sized numbers"
    return None, "no header row, and no single column of pixel-sized numbers"


def is_pixel_size_header(value: object) -> bool:
    """A header that names the pixel size: "pixel" and "equiv" or "mm", in any case."""
    text = str(value).casefold() if value is not None else ""
    return "pixel" in text and ("equiv" in text or "mm" in text)


def check_unique_case_ids(xlsx_path: Path, sheet: pd.DataFrame, first_row: int) -> None:
    """The case id is the join key: a second row of one case id is refused, naming both."""
    duplicated = sheet["case_id"][sheet["case_id"].duplicated()]
    if len(duplicated):
        case_id = int(duplicated.iloc[0])
        rows = [int(i) + first_row for i in sheet.index[sheet["case_id"] == case_id]]
        raise CSXAFormatError(
            f"{xlsx_path}, sheet {SHEET_NAME}, column A: case id {case_id} appears more than "
            f"once (rows {', '.join(map(str, rows))}); the case id is the join key and must be "
            "unique. Use the original CSXA datasets.xlsx, or correct those rows."
        )


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


@dataclass(frozen=True)
class HiddenBlank:
    row: int  # the spreadsheet's 1-based row
    column: str  # A..E
    why: str

    def __str__(self) -> str:
        return f"{self.column}{self.row} ({self.why})"


def hidden_blanks(xlsx_path: Path, sheet_name: str, first_row: int) -> list[HiddenBlank]:
    """Every formula without a cached value and every merged-away cell in columns A..E from
    first_row down, in row order."""
    found: list[HiddenBlank] = []
    formulas = openpyxl.load_workbook(xlsx_path, data_only=False)[sheet_name]
    values = openpyxl.load_workbook(xlsx_path, data_only=True)[sheet_name]
    for row in formulas.iter_rows(min_row=first_row, max_col=len(COLUMNS)):
        for cell in row:
            if cell.data_type == "f" and values[cell.coordinate].value is None:
                found.append(HiddenBlank(cell.row, cell.column_letter, f"formula {cell.value}"))
    for merged in formulas.merged_cells.ranges:
        for row_number in range(max(merged.min_row, first_row), merged.max_row + 1):
            for column in range(merged.min_col, min(merged.max_col, len(COLUMNS)) + 1):
                if (row_number, column) != (merged.min_row, merged.min_col):
                    letter = get_column_letter(column)
                    found.append(HiddenBlank(row_number, letter, f"merged into {merged.coord}"))
    return sorted(found, key=lambda b: (b.row, b.column))


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


def _is_case_id(value) -> bool:
    """An integer >= 0 as Excel stores it (int, integral float) or as digits in text."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float | np.integer | np.floating):
        return bool(np.isfinite(value)) and float(value).is_integer() and value >= 0
    return isinstance(value, str) and value.strip().isdigit()
