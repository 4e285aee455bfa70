"""The sheet's pixel equivalent (mm per pixel): found by its header after column E, carried into
the index as pixel_mm, NaN where a sheet has no such column or a cell holds no positive number."""

from __future__ import annotations

import logging

import numpy as np
import openpyxl
import pytest

from csxa_lightning.data.csxa import load_index
from csxa_lightning.data.sheet import is_pixel_size_header, read_sheet
from tests.helpers import PHANTOM_N

INDEX_COLUMNS = ["case_id", "stem", "gender", "age", "label", "curvature", "sheet_age",
                 "sheet_gender", "png_path", "json_path"]  # fmt: skip


def edit_sheet(root, edit) -> None:
    path = root / "datasets.xlsx"
    book = openpyxl.load_workbook(path)
    edit(book["Sheet1"])
    book.save(path)


def case_row(sheet, case_id: int) -> int:
    """The spreadsheet row of a case id."""
    return next(row[0].row for row in sheet.iter_rows(min_row=3) if row[0].value == case_id)


def test_the_phantom_sheet_gives_every_indexed_film_its_pixel_size(phantom):
    index = load_index(phantom.root)
    assert len(index) == PHANTOM_N
    # The new column comes last: the index's other columns keep their order.
    assert index.columns.tolist() == [*INDEX_COLUMNS, "pixel_mm"]
    assert index["pixel_mm"].dtype == np.float64
    assert index["pixel_mm"].between(0.08, 0.16).all()


def test_a_sheet_without_the_column_gives_nan_everywhere_and_says_so(phantom_copy, caplog):
    edit_sheet(phantom_copy, lambda sheet: sheet.delete_cols(6))
    with caplog.at_level(logging.INFO, logger="csxa_lightning.data.sheet"):
        index = load_index(phantom_copy)
    assert len(index) == PHANTOM_N
    assert index["pixel_mm"].isna().all()
    [record] = [r for r in caplog.records if "no pixel size column" in r.getMessage()]
    assert record.levelno == logging.INFO
    assert "millimetres are unknown" in record.getMessage()


def test_junk_cells_are_nan_with_one_warning_naming_the_first(phantom_copy, caplog):
    before = load_index(phantom_copy).set_index("case_id")["pixel_mm"]
    first, second = before.index[[2, 5]]
    rows = {}

    def junk(sheet):
        rows[first], rows[second] = case_row(sheet, first), case_row(sheet, second)
        sheet.cell(row=rows[first], column=6, value="n/a")
        sheet.cell(row=rows[second], column=6, value=-0.1)  # not a positive number either

    edit_sheet(phantom_copy, junk)
    with caplog.at_level(logging.WARNING, logger="csxa_lightning.data.sheet"):
        after = load_index(phantom_copy).set_index("case_id")["pixel_mm"]
    assert len(after) == PHANTOM_N  # the run goes on
    assert np.isnan(after[first]) and np.isnan(after[second])
    others = after.drop([first, second])
    assert others.equals(before.drop([first, second]))
    [record] = [r for r in caplog.records if "mm per pixel" in r.getMessage()]
    message = record.getMessage()
    assert "2 cell(s)" in message and f"the first F{rows[first]} ('n/a')" in message


def test_the_column_is_found_by_its_header_not_its_letter(phantom_copy):
    before = read_sheet(phantom_copy / "datasets.xlsx")["pixel_mm"]

    def move(sheet):
        sheet.insert_cols(6)  # a new column F pushes the pixel size to G
        sheet.cell(row=2, column=6, value="Comment")
        sheet.cell(row=3, column=6, value="re-read 2024")
        sheet.cell(row=2, column=7, value="PIXEL SPACING (MM)")

    edit_sheet(phantom_copy, move)
    assert read_sheet(phantom_copy / "datasets.xlsx")["pixel_mm"].equals(before)


def test_a_sheet_without_header_row_finds_the_column_by_content(phantom_copy):
    before = read_sheet(phantom_copy / "datasets.xlsx")["pixel_mm"]
    edit_sheet(phantom_copy, lambda sheet: sheet.delete_rows(1, 2))  # title and names
    assert read_sheet(phantom_copy / "datasets.xlsx")["pixel_mm"].equals(before)


@pytest.mark.parametrize(
    ("header", "names_it"),
    [
        ("Pixel equivalent (mm/pixel)", True),
        ("pixel EQUIVALENT", True),
        ("Pixel size (mm)", True),
        ("Pixels", False),
        ("mm", False),
        ("C2-C7 Cobb angle", False),
        (None, False),
    ],
)
def test_the_header_names_pixels_and_an_equivalent_or_millimetres(header, names_it):
    assert is_pixel_size_header(header) is names_it
