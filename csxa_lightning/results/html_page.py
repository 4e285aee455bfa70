"""A report's markdown as one self-contained HTML page (report.html of the sweep report and of
evaluate's report): the same text, its figures inlined so that the page travels alone, laid
out to be read on a laptop's screen (1280 px): text left-aligned and numbers right-aligned
column by column, an interval never broken over lines, a table wider than the page scrolled
inside its own box rather than the page, and long paths broken where they must be."""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as etree

import markdown
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor

STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;"
    "color:#222;line-height:1.4;overflow-wrap:break-word}"
    ".table-box{overflow-x:auto;margin:1em 0}"
    "table{border-collapse:collapse;font-size:13px}"
    "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}"
    "th{background:#f3f3f3}"
    "td.number,th.number{text-align:right}td.number{white-space:nowrap}"
    "code,a{overflow-wrap:anywhere}"
    "img{max-width:100%}"
)
# A cell that holds a number (94.00, 85.00 [76.7, 90.7], <0.0001, 20 / 80, 0.5000 (youden))
# or no value (—, empty): it starts with a digit, after a sign or a comparison if any.
NUMBER_CELL = re.compile(r"^(?:—?|[<>≤≥]?[-−+]?\d.*)$", re.S)
# The first column names the rows (a variant; a subgroup, such as <40 or 40-59) unless each of
# its cells is a measured value, with decimals: evaluate's one-row table of metrics.
MEASURED_CELL = re.compile(r"^[-−]?\d+\.\d")
NUMBER = "number"  # the class of a cell of a column of numbers (STYLE)


def html_report(markdown_text: str, pictures: dict[str, bytes]) -> str:
    """A self-contained page: the same markdown (Python-Markdown, tables extension) with the
    figures inlined as data URIs instead of links to figures/."""
    for name, data in pictures.items():
        uri = "data:image/png;base64," + base64.b64encode(data).decode()
        markdown_text = markdown_text.replace(f"](figures/{name})", f"]({uri})")
    body = markdown.markdown(markdown_text, extensions=["tables", ReportTables()])
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width'><title>CSXA report</title>"
        f"<style>{STYLE}</style></head><body>{body}</body></html>\n"
    )


class ReportTables(Extension):
    """Markdown's tables laid out for reading: see TableLayout."""

    def extendMarkdown(self, md: markdown.Markdown) -> None:  # noqa: N802 (Markdown's name)
        # After the inline patterns (priority 20): a cell's text is final then.
        md.treeprocessors.register(TableLayout(md), "report_tables", 5)


class TableLayout(Treeprocessor):
    """Marks the columns of numbers (STYLE right-aligns them and keeps each on one line) and
    puts every table in a box of the page's width that scrolls sideways when the table is
    wider."""

    def run(self, root: etree.Element) -> None:
        for table in root.iter("table"):
            mark_number_columns(table)
        for parent in list(root.iter()):
            for index, child in enumerate(list(parent)):
                if child.tag == "table":
                    box_table(parent, index, child)


def mark_number_columns(table: etree.Element) -> None:
    """class="number" on each cell, header included, of every column whose body cells all
    hold a number or no value (NUMBER_CELL); the first, only if all hold measured values."""
    rows = [list(row) for row in table.iter("tr")]
    header, body = rows[0], rows[1:]
    for column in range(len(header)):
        cells = [row[column] for row in body if column < len(row)]
        pattern = NUMBER_CELL if column else MEASURED_CELL
        if cells and all(pattern.match("".join(c.itertext()).strip()) for c in cells):
            for cell in [header[column], *cells]:
                cell.set("class", NUMBER)


def box_table(parent: etree.Element, index: int, table: etree.Element) -> None:
    """Put table, parent's child at index, inside a scrolling box (STYLE's .table-box)."""
    box = etree.Element("div", {"class": "table-box"})
    box.tail, table.tail = table.tail, None
    parent.remove(table)
    parent.insert(index, box)
    box.append(table)
