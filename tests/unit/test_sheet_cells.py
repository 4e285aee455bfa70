"""datasets.xlsx cells that read as blank but are not (formulas never calculated, merged cells)
used to drop their rows with only a count on an INFO line: where they hold case ids or classes
they now stop the run naming the cells, elsewhere a WARNING names them."""

from __future__ import annotations

import logging

import openpyxl
import pytest

from csxa_lightning.data.format_error import CSXAFormatError
from csxa_lightning.data.sheet import SHEET_NAME, read_sheet


def write_sheet(path, edit=None):
    """A sheet laid out as CSXA's: a title row, the header row, then cases 1..6."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = SHEET_NAME
    sheet.append(["Cervical spine X-ray atlas"])
    sheet.append(["Number", "Gender", "Age", "Classification", "Curvature"])
    for case in range(1, 7):
        sheet.append([case, case % 2, 40 + case, 1 + case % 2, 1])
    if edit:
        edit(sheet)
    book.save(path)
    return path


def test_a_classification_formula_without_a_value_stops_naming_the_cell(tmp_path):
    def formula(sheet):
        sheet["D5"] = "=1+1"  # openpyxl stores the formula alone, as a script would

    path = write_sheet(tmp_path / "datasets.xlsx", formula)
    with pytest.raises(CSXAFormatError, match=r"1 cell\(s\) of the case id or classification "
                       r"columns read as blank but are not: D5 \(formula =1\+1\)"):  # fmt: skip
        read_sheet(path)


def test_merged_class_cells_stop_naming_the_cells_merged_away(tmp_path):
    def merged(sheet):
        sheet.merge_cells("D6:D8")

    path = write_sheet(tmp_path / "datasets.xlsx", merged)
    with pytest.raises(CSXAFormatError, match=r"D7 \(merged into D6:D8\), D8 \(merged into "):
        read_sheet(path)


def test_other_columns_warn_with_their_rows_and_every_case_is_kept(tmp_path, caplog):
    def formula(sheet):
        sheet["C4"] = "=40+2"

    path = write_sheet(tmp_path / "datasets.xlsx", formula)
    with caplog.at_level(logging.WARNING):
        sheet = read_sheet(path)
    assert sheet["case_id"].tolist() == [1, 2, 3, 4, 5, 6]
    [record] = [r for r in caplog.records if "read as blank" in r.getMessage()]
    assert "1 cell(s) read as blank but are not: C4 (formula =40+2)" in record.getMessage()


def test_a_plain_sheet_reads_without_a_word(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        assert len(read_sheet(write_sheet(tmp_path / "datasets.xlsx"))) == 6
    assert not [r for r in caplog.records if "blank" in r.getMessage()]
