"""Cells of datasets.xlsx that read as blank although they are not: formulas whose value was
never computed (a sheet written by a script, or saved by a program that does not calculate,
stores the formula alone) and merged cells (only the first cell of a merge holds the value).
pandas reads both as empty; csxa.read_sheet then refuses them where they hold case ids or
classes, and names their rows in a WARNING elsewhere."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import openpyxl
from openpyxl.utils import get_column_letter

COLUMNS = "ABCDE"


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
