"""The package's import rules, read from its source with `ast` (nothing is imported):

- no import circle among the package's modules; imports inside functions and under
  TYPE_CHECKING count as much as those at the top (a circle hidden in a function is still one);
- no private name (starting with _) imported from another module of the package;
- no entry point imports another entry point: an entry point is glue, and what two of them
  share belongs in a module below both.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "csxa_lightning"
ROOT = Path(__file__).resolve().parents[2] / PACKAGE
ENTRY_POINTS = {"train", "predict", "report", "export", "preview", "evaluate", "callbacks"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}
PACKAGES = {module_name(p) for p in ROOT.rglob("__init__.py")}


def is_entry_point(module: str) -> bool:
    leaf = module.rsplit(".", 1)[-1]
    return module == f"{PACKAGE}.{leaf}" and leaf in ENTRY_POINTS or leaf == "__main__"


def absolute(module: str, node: ast.ImportFrom) -> str:
    """The module a `from ... import` names, relative imports resolved."""
    if not node.level:
        return node.module or ""
    base = module.split(".") if module in PACKAGES else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports(module: str) -> list[tuple[str, str | None, int]]:
    """(imported module of the package, name imported from it or None, line) of every import
    statement anywhere in the module. `from pkg import sub` imports the module pkg.sub."""
    tree = ast.parse(MODULES[module].read_text(), filename=str(MODULES[module]))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, None, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            source = absolute(module, node)
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                found.append((sub, None, node.lineno) if sub in MODULES else
                             (source, alias.name, node.lineno))  # fmt: skip
    return [(target, name, line) for target, name, line in found if target in MODULES]


GRAPH = {m: {target for target, _, _ in imports(m) if target != m} for m in MODULES}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_rules_see_the_package():
    assert f"{PACKAGE}.train" in MODULES and f"{PACKAGE}.data.split" in MODULES
    assert is_entry_point(f"{PACKAGE}.train") and is_entry_point(f"{PACKAGE}.phantom.__main__")
    assert not is_entry_point(f"{PACKAGE}.data.split")
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_circle():
    assert circles(GRAPH) == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_private_name_is_imported_from_another_module(module):
    private = [
        f"line {line}: {name} from {target}"
        for target, name, line in imports(module)
        if target != module
        and (
            (name or "").startswith("_")
            or target.rsplit(".", 1)[-1].startswith("_")
            and not target.endswith(("__init__", "__main__"))
        )
    ]
    assert private == []


@pytest.mark.parametrize("module", sorted(m for m in MODULES if is_entry_point(m)))
def test_an_entry_point_imports_no_other_entry_point(module):
    others = [
        f"line {line}: {target}"
        for target, _, line in imports(module)
        if target != module and is_entry_point(target)
    ]
    assert others == []
