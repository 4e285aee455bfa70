"""Every torch.load in the package reads checkpoints as data (weights_only=True), and train
hands Lightning the same setting for resuming and testing: a checkpoint file never runs code."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "csxa_lightning"


def calls(name: str) -> list[tuple[Path, ast.Call]]:
    found = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and ast.unparse(node.func).endswith(name):
                found.append((path, node))
    return found


def weights_only(call: ast.Call) -> object:
    for keyword in call.keywords:
        if keyword.arg == "weights_only":
            return ast.literal_eval(keyword.value)
    return None


def test_every_torch_load_is_weights_only():
    loads = calls("torch.load")
    assert len(loads) >= 3  # checkpoint.py (two), backbones.py, decision.py
    unsafe = [f"{p.name}:{c.lineno}" for p, c in loads if weights_only(c) is not True]
    assert not unsafe, f"torch.load without weights_only=True: {unsafe}"


def test_train_resumes_and_tests_with_weights_only():
    lightning_calls = [c for p, c in calls("trainer.fit") + calls("trainer.test")
                       if p.name == "train.py"]  # fmt: skip
    assert len(lightning_calls) == 2
    assert all(weights_only(c) is True for c in lightning_calls)
