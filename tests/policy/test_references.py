"""What the code, the configs and the README name exists: a file path (`runs/folder.py`) or a
dotted name (`csxa_lightning.training.decision.decide`) in a docstring, a comment, a `_target_`
or a README command is checked against the package. Docstrings used to name modules that had
been renamed or never existed."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]
PACKAGE = REPOSITORY / "csxa_lightning"
SOURCES = sorted(
    [
        *PACKAGE.rglob("*.py"),
        *(REPOSITORY / "conf").rglob("*.yaml"),
        REPOSITORY / "README.md",
        REPOSITORY / "Makefile",
        *(REPOSITORY / "tests").rglob("*.py"),
    ]  # fmt: skip
)
# Paths of other projects' files that our comments cite (why we work around them).
FOREIGN = (
    "imblearn/",
    "lightning/",
    "utilities/_pytree.py",
    "_pytree.py",
    "torchvision/",
    "hydra/",
)
# Modules named by their old path on purpose: what run folders saved before the layout change
# name (runs/identity.py maps them), and what tests write to imitate them.
OLD_MODULES = ("csxa_lightning.model", "csxa_lightning.curves", "csxa_lightning.checkpoint_io",
               "csxa_lightning.run_checkpoint", "csxa_lightning.divergence")  # fmt: skip


def old_spelling(dotted: str) -> bool:
    return any(dotted == old or dotted.startswith(f"{old}.") for old in OLD_MODULES)


FILE_MENTION = re.compile(r"(?<![\w/.-])((?:[\w]+/)*[A-Za-z_]\w*\.py)\b")
DOTTED_NAME = re.compile(r"\bcsxa_lightning(?:\.\w+)+")


def file_exists(mention: str, source: Path) -> bool:
    if mention.startswith(FOREIGN):
        return True
    bases = [REPOSITORY, PACKAGE, REPOSITORY / "tests", source.parent]
    if "/" not in mention:  # a bare file name: anywhere in the package or tests
        return any(
            p.name == mention for p in [*PACKAGE.rglob("*.py"), *REPOSITORY.glob("tests/**/*.py")]
        )
    return any((base / mention).is_file() for base in bases)


def name_exists(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attribute in parts[cut:]:
            if not hasattr(found, attribute):
                return False
            found = getattr(found, attribute)
        return True
    return False


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: str(p.relative_to(REPOSITORY)))
def test_every_file_and_name_mentioned_exists(source):
    text = source.read_text()
    missing = [m for m in FILE_MENTION.findall(text) if not file_exists(m, source)]
    missing += [
        d for d in DOTTED_NAME.findall(text)
        if not old_spelling(d) and not d.startswith("csxa_lightning.conf") and not name_exists(d)
    ]  # fmt: skip
    assert missing == []
