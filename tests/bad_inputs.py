"""Every kind of bad input a user can give, and the `error:` line the command ends with.

One catalogue serves two purposes: tests/integration/test_bad_inputs.py checks each message
against the README's troubleshooting table, and `python -m tests.bad_inputs` prints what a user
sees for each (its first line, and the first file listed when there are several):

    .venv/bin/python -m tests.bad_inputs

Each case damages a copy of a phantom CSXA the way real downloads get damaged, then runs the
real training entry (`train(cfg)`, the function behind `python -m csxa_lightning.train`) with
the real config, and returns the line the command line would print. Paths in the line are
shortened to `CSXA/...` so that the line does not depend on where the copy lives.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import openpyxl
from hydra.errors import InstantiationException

from csxa_lightning.data.csxa import load_index
from csxa_lightning.errors import UserError, user_error
from csxa_lightning.results.lock import LOCK_FILE
from csxa_lightning.train import train
from tests.helpers import PHANTOM_N, PHANTOM_SEED, TINY_TRAINING, compose_train_config


@dataclass(frozen=True)
class BadInput:
    name: str  # as in the README's first column
    damage: Callable[[Path, list[str]], None]  # (dataset root, stems in index order)
    overrides: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)  # set while the case runs


def _png(root: Path, stem: str) -> Path:
    return root / "datasets-PNG" / f"{stem}.png"


def _json(root: Path, stem: str) -> Path:
    return root / "datasets-JSON" / f"{stem}.json"


def _edit_labelme(root: Path, stem: str, edit: Callable[[dict], None]) -> None:
    path = _json(root, stem)
    doc = json.loads(path.read_text())
    edit(doc)
    path.write_text(json.dumps(doc))


def _edit_sheet(root: Path, edit: Callable[[openpyxl.Workbook], None]) -> None:
    book = openpyxl.load_workbook(root / "datasets.xlsx")
    edit(book)
    book.save(root / "datasets.xlsx")


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _set_points(doc: dict, point: list[float]) -> None:
    for shape in doc["shapes"]:
        shape["points"] = [point]


def _drop_labels(doc: dict, prefix: str) -> None:
    doc["shapes"] = [s for s in doc["shapes"] if not s["label"].lower().startswith(prefix)]


def _first_nan(doc: dict) -> None:
    doc["shapes"][0]["points"] = [[math.nan, 10.0]]


def _first_outside(doc: dict) -> None:
    doc["shapes"][0]["points"] = [[doc["imageWidth"] + 500.0, 10.0]]


def _rename_png(root: Path, stems: list[str]) -> None:
    _png(root, stems[0]).rename(root / "datasets-PNG" / "IMG_0001.png")


def _empty_folder(root: Path, stems: list[str]) -> None:
    for path in root.iterdir():
        shutil.rmtree(path) if path.is_dir() else path.unlink()


def _empty_subfolders(root: Path, stems: list[str]) -> None:
    for folder in ("datasets-PNG", "datasets-JSON"):
        for path in (root / folder).iterdir():
            path.unlink()


def _delete_column(book: openpyxl.Workbook) -> None:
    book["Sheet1"].delete_cols(4)  # the class column: what was E moves to D


def _duplicate_id(book: openpyxl.Workbook) -> None:
    sheet = book["Sheet1"]
    sheet.cell(row=9, column=1, value=sheet.cell(row=8, column=1).value)


def _two_healthy_left(book: openpyxl.Workbook) -> None:
    """Relabel all but two healthy (asymptomatic, code 2) rows as symptomatic."""
    healthy = [row for row in book["Sheet1"].iter_rows(min_row=3) if row[3].value == 2]
    for row in healthy[2:]:
        row[3].value = 1


def _hold_run_folder(root: Path, stems: list[str]) -> None:
    """The run folder (error_message's workdir/run) locked by a live job: this process's
    parent, on this host."""
    run = root.parent / "run"
    run.mkdir()
    started = "2026-01-01T08:00:00+00:00"
    holder = {"host": socket.gethostname(), "pid": os.getppid(), "started": started}
    (run / LOCK_FILE).write_text(json.dumps(holder))


def _several(root: Path, stems: list[str]) -> None:
    _png(root, stems[1]).write_bytes(b"")
    _json(root, stems[2]).write_text("{oops")
    _edit_labelme(root, stems[3], lambda d: _drop_labels(d, "c7"))


CASES = [
    BadInput("truncated PNG", lambda r, s: _truncate(_png(r, s[0]))),
    BadInput("empty PNG", lambda r, s: _png(r, s[0]).write_bytes(b"")),
    BadInput(
        "PNG that is not an image",
        lambda r, s: _png(r, s[0]).write_text("<html>404 Not Found</html>"),
    ),
    BadInput("JSON that is not JSON", lambda r, s: _json(r, s[0]).write_text("{'shapes': ["), []),
    BadInput(
        "JSON without `shapes`",
        lambda r, s: _edit_labelme(r, s[0], lambda d: d.pop("shapes")),
    ),
    BadInput(
        "JSON without some landmarks",
        lambda r, s: _edit_labelme(r, s[0], lambda d: _drop_labels(d, "c7")),
    ),
    BadInput("JSON with NaN coordinates", lambda r, s: _edit_labelme(r, s[0], _first_nan)),
    BadInput(
        "JSON with out-of-image coordinates",
        lambda r, s: _edit_labelme(r, s[0], _first_outside),
    ),
    BadInput(
        "JSON with a zero-area landmark box",
        lambda r, s: _edit_labelme(r, s[0], lambda d: _set_points(d, [100.0, 100.0])),
    ),
    BadInput("several bad files at once", _several),
    BadInput("sheet with a missing column", lambda r, s: _edit_sheet(r, _delete_column)),
    BadInput(
        "wrong sheet name",
        lambda r, s: _edit_sheet(r, lambda b: setattr(b["Sheet1"], "title", "Data")),
    ),
    BadInput("duplicate case IDs", lambda r, s: _edit_sheet(r, _duplicate_id)),
    BadInput(
        "text in a numeric cell",
        lambda r, s: _edit_sheet(r, lambda b: b["Sheet1"].cell(row=6, column=1, value="n/a")),
    ),
    BadInput(
        "unknown class code",
        lambda r, s: _edit_sheet(r, lambda b: b["Sheet1"].cell(row=6, column=4, value=3)),
    ),
    BadInput("file name not in the 7-digit pattern", _rename_png),
    BadInput("empty dataset folder", _empty_folder),
    BadInput("dataset folders without files", _empty_subfolders),
    BadInput(
        "split leaving a class without test images",
        lambda r, s: _edit_sheet(r, _two_healthy_left),
        ["data.test_fraction=0.1", "data.val_fraction=0"],
    ),
    BadInput(
        "fractions too small for a stratified split",
        lambda r, s: None,
        ["data.test_fraction=0.02", "data.val_fraction=0"],
    ),
    BadInput("fraction outside 0..1", lambda r, s: None, ["data.test_fraction=1.5"]),
    BadInput(
        "ImageNet weights not on this machine",
        lambda r, s: None,
        ["model.pretrained=imagenet", "model.download=false"],
        {"TORCH_HOME": "/nonexistent/torch"},
    ),
    BadInput(
        "weights file that does not exist",
        lambda r, s: None,
        ["model.pretrained=imagenet", "+model.weights_path=/nonexistent/resnet18.pth"],
    ),
    BadInput(
        "`trainer=gpu` on a machine without a GPU",
        lambda r, s: None,
        ["trainer=gpu"],
        {"CUDA_VISIBLE_DEVICES": ""},
    ),
    BadInput("run folder held by another job", _hold_run_folder),
    BadInput(
        "loss that becomes NaN",
        lambda r, s: None,
        ["+callbacks.nan._target_=tests.helpers.NaNWeightsAt", "+callbacks.nan.epoch=0"],
    ),
]


def error_message(case: BadInput, phantom_root: Path, workdir: Path) -> str:
    """What `python -m csxa_lightning.train` ends with on this bad input: `error: ...`."""
    root = workdir / "CSXA"
    shutil.copytree(phantom_root, root)
    stems = load_index(root)["stem"].tolist()
    case.damage(root, stems)
    cfg = compose_train_config(
        TINY_TRAINING
        + [
            "data=csxa",
            f"data.root={root}",
            f"paths.output_dir={workdir / 'run'}",
            f"paths.cache_dir={workdir / 'cache'}",
            "crop=tight",  # reads every annotation
            *case.overrides,
        ]
    )
    saved = {name: os.environ.get(name) for name in case.env}
    os.environ.update(case.env)
    try:
        train(cfg)
    except (InstantiationException, UserError) as err:
        cause = user_error(err)
        if cause is None:
            raise
        return f"error: {cause}".replace(str(root), "CSXA")
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    raise AssertionError(f"{case.name}: the run did not fail")


def main() -> None:
    from csxa_lightning.phantom import generate_phantom

    with tempfile.TemporaryDirectory() as tmp:
        phantom = generate_phantom(
            Path(tmp) / "phantom" / "CSXA", n=PHANTOM_N, seed=PHANTOM_SEED, healthy_fraction=0.3
        )
        print("| bad input | first line the user sees |\n|---|---|")
        for number, case in enumerate(CASES):
            workdir = Path(tmp) / f"case{number}"
            workdir.mkdir()
            lines = error_message(case, phantom.root, workdir).splitlines()
            shown = " ".join(f"`{line.strip()}`" for line in lines[:2]).replace("|", "\\|")
            print(f"| {case.name} | {shown} |", flush=True)


if __name__ == "__main__":
    main()
