"""The README's "What a run writes" is a checked contract: its file table names what a run
folder holds, and its key table every key of metrics.json, no more and no fewer."""

from __future__ import annotations

import json
import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
# The placeholders of the key table, as the README defines them.
PLACEHOLDERS = {"<metric>": "[a-z0-9_]+?", "<class>": "(?:healthy|diseased)"}
# Files a run writes only sometimes (data.on_bad_file=skip with bad files).
CONDITIONAL_FILES = {"skipped_files.csv", "crop_boxes.csv"}


def section(title: str) -> str:
    text = README.read_text()
    start = text.index(f"\n## {title}\n")
    return text[start : text.index("\n## ", start + 1)]


def table_rows(text: str, header: str) -> list[str]:
    """The first cells of the markdown table whose header row starts with `| header |`."""
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith(f"| {header} |"))
    rows = []
    for line in lines[first + 2 :]:
        if not line.startswith("|"):
            break
        rows.append(line.split("|")[1])
    return rows


def documented(header: str) -> list[str]:
    cells = table_rows(section("What a run writes"), header)
    return [name for cell in cells for name in re.findall(r"`([^`]+)`", cell)]


def key_pattern(documented_key: str) -> re.Pattern:
    pattern = re.escape(documented_key)
    for placeholder, regex in PLACEHOLDERS.items():
        pattern = pattern.replace(re.escape(placeholder), regex)
    return re.compile(pattern)


def test_every_metrics_key_is_documented_and_every_documented_key_is_written(tiny_run):
    written = set(json.loads((tiny_run.folder / "metrics.json").read_text()))
    patterns = {key: key_pattern(key) for key in documented("key")}
    undocumented = {k for k in written if not any(p.fullmatch(k) for p in patterns.values())}
    unwritten = {d for d, p in patterns.items() if not any(p.fullmatch(k) for k in written)}
    assert not undocumented, f"metrics.json keys missing from the README: {sorted(undocumented)}"
    assert not unwritten, f"README keys no run writes: {sorted(unwritten)}"
    assert len(written) > 60  # the table is not vacuous: every metric, interval and setting


def test_the_file_table_names_what_a_run_folder_holds(tiny_run):
    files = documented("file")
    held = {p.name for p in tiny_run.folder.iterdir()}
    for name in files:
        top = name.split("/")[0]
        if name not in CONDITIONAL_FILES:
            assert (tiny_run.folder / name).exists(), f"README names {name}; the run has none"
        held.discard(top)
    assert not held, f"the run folder holds files the README does not name: {sorted(held)}"


def test_the_curves_file_holds_curves_not_the_final_metrics(tiny_run):
    # metrics.json holds the final metrics; trackers get them as final/NAME, the CSV does not.
    header = (tiny_run.folder / "logs" / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"epoch", "step", "train/loss", "val/loss", "test/acc"} <= set(header)
    assert not [c for c in header if c.startswith("final/")]
