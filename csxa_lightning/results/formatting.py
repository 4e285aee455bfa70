"""How the reports write a number and a markdown table. Every table of every report formats
through these, so that a number reads the same wherever it is shown. Nothing here computes a
statistic: a renderer is handed the numbers (comparisons.py) and only writes them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd


def markdown_table(columns: tuple[Column, ...], rows: list[dict]) -> str:
    lines = [
        "| " + " | ".join(c.header for c in columns) + " |",
        "|" + "---|" * len(columns),
    ]
    lines += ["| " + " | ".join(c.cell(row) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


@dataclass(frozen=True)
class Column:
    """One column of a markdown table: its header, how to get the value from a row (a dict: a
    row of run_table, or the majority row), and how to write it. A new statistic in a table is
    its kernel (metrics/), a column of run_table, and one Column in the table's renderer."""

    header: str
    value: Callable[[dict], Any]
    format: Callable[[Any], str] = str

    def cell(self, row: dict) -> str:
        return self.format(self.value(row))


def field_of(name: str) -> Callable[[dict], Any]:
    """The row's value of name; NaN where the row has none (the majority row has no p-value)."""
    return lambda row: row.get(name, np.nan)


def with_interval(
    name: str, low: str | None = None, high: str | None = None
) -> Callable[[dict], tuple]:
    """(value, interval low, interval high); the interval is NaN where the row has none."""
    low, high = low or f"{name}_ci_low", high or f"{name}_ci_high"
    return lambda row: (row.get(name, np.nan), row.get(low, np.nan), row.get(high, np.nan))


def run_label(title: str, baseline: bool = False, repeat: str = "") -> str:
    """A run's name in a table: its title, then in one parenthesis "baseline" for the run the
    others are compared with and its repetition when one is given: "Original (ResNet18)
    (baseline, seed 1)". Without either it stays as the paper prints it."""
    notes = [note for note, shown in (("baseline", baseline), (repeat, bool(repeat))) if shown]
    return title + (f" ({', '.join(notes)})" if notes else "")


def row_label(table: pd.DataFrame, row: dict) -> str:
    """run_label of a row of the run table (run_table): the repetition is named only when the
    table holds several, since a single one needs no name."""
    several = table["repeat"].nunique() > 1
    return run_label(row["variant"], bool(row["baseline"]), row["repeat"] if several else "")


def pct(x: float) -> str:
    return "—" if pd.isna(x) else f"{100 * x:.2f}"


def pval(p: float) -> str:
    return "—" if pd.isna(p) else ("<0.0001" if p < 1e-4 else f"{p:.4f}")


def ratio(x: float) -> str:
    return "—" if pd.isna(x) else f"{x:.3f}"


def ci(low: float, high: float) -> str:
    return "" if pd.isna(low) else f" [{100 * low:.1f}, {100 * high:.1f}]"


def pct_ci(values: tuple) -> str:
    value, low, high = values
    return pct(value) + ci(low, high)


def counts(values: tuple) -> str:
    return " / ".join(str(v) for v in values)
