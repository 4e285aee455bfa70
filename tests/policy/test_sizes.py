"""Small files with one job each: no module of the package over 500 lines, no function over 60
(a longer one is split into named steps; none is exempt today)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "csxa_lightning"
MODULES = sorted(PACKAGE.rglob("*.py"))
MAX_LINES, MAX_FUNCTION_LINES = 500, 60


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_file_over_500_lines_and_no_function_over_60(path):
    text = path.read_text()
    assert len(text.splitlines()) <= MAX_LINES
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines, line {node.lineno})"
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert long == []
