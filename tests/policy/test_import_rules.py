"""The package's import rules, read from its source with `ast` (nothing is imported):

- no import circle among the package's modules; imports inside functions and under
  TYPE_CHECKING count as much as those at the top (a circle hidden in a function is still one);
- no private name (starting with _) imported from another module of the package;
- no entry point imports another entry point: an entry point is glue, and what two of them
  share belongs in a module below both;
- the layers (README, "Development"): utils imports nothing else of ours; metrics only utils;
  data no models, training or results; results no training; and no module imports a command.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "csxa_lightning"
ROOT = Path(__file__).resolve().parents[2] / PACKAGE
COMMANDS = {"train", "predict", "report", "export", "preview", "evaluate"}
ENTRY_POINTS = COMMANDS | {"hydra_callbacks"}  # Hydra's callbacks: glue, called by Hydra


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}
PACKAGES = {module_name(p) for p in ROOT.rglob("__init__.py")}


def is_entry_point(module: str) -> bool:
    leaf = module.rsplit(".", 1)[-1]
    top_command = leaf in COMMANDS and module == f"{PACKAGE}.{leaf}"
    return top_command or leaf in ENTRY_POINTS - COMMANDS or leaf == "__main__"


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


# layer -> the package's layers it may not import (a layer is the first folder under the
# package; a command is one of COMMANDS at the top).
FORBIDDEN = {
    "utils": "everything but utils",
    "metrics": "everything but utils and metrics",
    "data": {"models", "training", "results"},
    "results": {"training"},
}


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 else "commands" if parts[-1] in COMMANDS else parts[-1]


def layer_breaches(graph: dict[str, set[str]]) -> list[str]:
    found = []
    for module, targets in sorted(graph.items()):
        for target in sorted(targets):
            source, imported = layer(module), layer(target)
            if target == PACKAGE or source == imported:
                continue
            rule = FORBIDDEN.get(source, set())
            if rule == "everything but utils":
                rule = {imported} - {"utils"}
            elif rule == "everything but utils and metrics":
                rule = {imported} - {"utils", "metrics"}
            if imported in rule or imported == "commands":
                found.append(f"{module} imports {target}")
    return found


def test_the_layer_rule_sees_a_breach():
    graph = {
        f"{PACKAGE}.metrics.stats": {f"{PACKAGE}.data.csxa", f"{PACKAGE}.utils.errors"},
        f"{PACKAGE}.results.tables": {f"{PACKAGE}.training.decision", f"{PACKAGE}.train"},
        f"{PACKAGE}.training.decision": {f"{PACKAGE}.metrics.stats"},
    }
    assert layer_breaches(graph) == [
        f"{PACKAGE}.metrics.stats imports {PACKAGE}.data.csxa",
        f"{PACKAGE}.results.tables imports {PACKAGE}.train",
        f"{PACKAGE}.results.tables imports {PACKAGE}.training.decision",
    ]


def test_each_layer_imports_only_the_layers_below_it():
    assert layer_breaches(GRAPH) == []


def test_the_top_level_holds_the_commands_only():
    top = {p.stem for p in ROOT.glob("*.py")} - {"__init__"}
    assert top == COMMANDS


# The parts of config/ every layer may import: where the configs are and the resolvers (runs/
# reads a saved config with them). The phantom generator is imported by a resolver on demand.
CONFIG_FOUNDATIONS = (f"{PACKAGE}.config.location", f"{PACKAGE}.config.resolvers")


@pytest.mark.parametrize("module", CONFIG_FOUNDATIONS)
def test_the_config_modules_imported_from_below_import_only_utils(module):
    assert {layer(t) for t in GRAPH[module]} <= {"utils", "phantom"}
