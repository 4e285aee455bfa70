"""Which errors end a command as one `error:` line: a UserError's (the user can fix it); a
bug's plain ValueError keeps its traceback, and HYDRA_FULL_ERROR=1 shows every traceback."""

from __future__ import annotations

import ast
import importlib
import logging
from pathlib import Path

import pytest
from hydra.errors import InstantiationException

from csxa_lightning.utils.errors import UserError, exit_on_user_error, user_error

PACKAGE = Path(__file__).resolve().parents[2] / "csxa_lightning"


def error_classes() -> list[tuple[str, str]]:
    """(module, class name) of every class named *Error defined in the package."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        module = module.removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and node.name.endswith("Error"):
                found.append((module, node.name))
    return found


def test_the_package_defines_its_user_errors():
    names = {name for _, name in error_classes()}
    assert {"UserError", "ConfigValueError", "CSXAFormatError", "WeightsNotFoundError"} <= names


@pytest.mark.parametrize(("module", "name"), error_classes())
def test_every_error_class_of_the_package_is_a_user_error(module, name):
    # Every *Error the package defines is one a user can fix (data, weights, settings, inputs);
    # a bug raises a builtin error and keeps its traceback.
    cls = getattr(importlib.import_module(module), name)
    assert issubclass(cls, UserError) and issubclass(cls, ValueError)


def test_a_user_error_becomes_one_line_and_a_plain_value_error_raises(monkeypatch):
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    with pytest.raises(SystemExit) as caught, exit_on_user_error():
        raise UserError("data.root=/nowhere: no such folder")
    assert str(caught.value) == "error: data.root=/nowhere: no such folder"
    with pytest.raises(ValueError, match="a bug"), exit_on_user_error():
        raise ValueError("a bug")
    wrapped = InstantiationException("Error in call to target")
    wrapped.__cause__ = ValueError("a bug")
    assert user_error(wrapped) is None
    with pytest.raises(InstantiationException), exit_on_user_error():
        raise wrapped


def test_hydra_full_error_raises_the_user_error_itself(monkeypatch):
    monkeypatch.setenv("HYDRA_FULL_ERROR", "1")
    with pytest.raises(UserError, match="fixable"), exit_on_user_error(logging.getLogger("t")):
        raise UserError("fixable")


def test_the_report_without_runs_ends_in_one_line(tmp_path, monkeypatch):
    from csxa_lightning.report import main

    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    with pytest.raises(SystemExit) as caught:
        main([str(tmp_path)])
    assert str(caught.value).startswith(f"error: {tmp_path}: no finished run folders")


def test_a_checkpoint_whose_preprocessing_cannot_be_built_is_a_user_error(tmp_path):
    import torch

    from csxa_lightning.inference.loading import DATAMODULE_KEY, CheckpointError, load_trained_model

    path = tmp_path / "foreign.ckpt"
    stored = {"preprocess": {"_target_": "os.system", "command": "true"}}
    torch.save({"hyper_parameters": {}, "state_dict": {}, DATAMODULE_KEY: stored}, path)
    with pytest.raises(CheckpointError, match="preprocessing classes a checkpoint may name"):
        load_trained_model(path)


def test_a_full_disk_is_one_line_not_a_traceback(monkeypatch):
    import errno as codes

    from csxa_lightning.utils.errors import exit_on_user_error

    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    with pytest.raises(SystemExit) as caught, exit_on_user_error():
        raise OSError(codes.ENOSPC, "No space left on device", "/data/run/last.ckpt")
    assert str(caught.value).startswith(
        "error: no room left while writing /data/run/last.ckpt (No space left on device): free "
        "space on that disk"
    )
    # torch's checkpoint writer says it without an errno
    with pytest.raises(SystemExit, match="while writing a checkpoint"), exit_on_user_error():
        raise RuntimeError("PytorchStreamWriter failed writing file data/0: file write failed")
    with pytest.raises(RuntimeError, match="a bug"), exit_on_user_error():
        raise RuntimeError("a bug keeps its traceback")
