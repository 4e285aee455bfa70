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
import logging
import math
import os
import shutil
import socket
import tempfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import openpyxl
from hydra.errors import InstantiationException
from hydra.utils import instantiate

from csxa_lightning.data.csxa import load_index
from csxa_lightning.runs.lock import LOCK_FILE
from csxa_lightning.training.run import train
from csxa_lightning.utils.errors import UserError, user_error
from tests.helpers import PHANTOM_N, PHANTOM_SEED, TINY_TRAINING, compose_train_config


@dataclass(frozen=True)
class BadInput:
    name: str  # as in the README's first column
    damage: Callable[[Path, list[str]], None]  # (dataset root, stems in index order)
    overrides: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)  # set while the case runs
    # Not an error: the run goes on, and what the user sees is the first log line of this level
    # (INFO, WARNING) while the data are prepared.
    logged: str | None = None


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


def _resize_png(root: Path, stems: list[str]) -> None:
    """The film downscaled to 50 %, its JSON unchanged."""
    path = _png(root, stems[0])
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    height, width = image.shape[:2]
    cv2.imwrite(str(path), cv2.resize(image, (width // 2, height // 2)))


def _halve_stated_size(doc: dict) -> None:
    doc["imageWidth"], doc["imageHeight"] = doc["imageWidth"] // 2, doc["imageHeight"] // 2


def _png_twice(root: Path, stems: list[str]) -> None:
    shutil.copyfile(_png(root, stems[0]), root / "datasets-PNG" / f"{stems[0]}.PNG")


def _dangling_link(root: Path, stems: list[str]) -> None:
    path = _png(root, stems[0])
    path.unlink()
    path.symlink_to(root / "elsewhere" / path.name)


def _mac_dot_files(root: Path, stems: list[str]) -> None:
    """What copying through an exFAT drive leaves: an AppleDouble `._` file per file."""
    for stem in stems[:3]:
        (root / "datasets-PNG" / f"._{stem}.png").write_bytes(b"\x00\x05\x16\x07" + bytes(80))
        (root / "datasets-JSON" / f"._{stem}.json").write_bytes(b"\x00\x05\x16\x07" + bytes(80))
    (root / "datasets-PNG" / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")


def _twelve_bit(root: Path, stems: list[str]) -> None:
    """Three films re-exported as 12-bit data in 16-bit PNGs, the others left 8-bit."""
    for stem in stems[:3]:
        gray = cv2.imread(str(_png(root, stem)), cv2.IMREAD_GRAYSCALE)
        cv2.imwrite(str(_png(root, stem)), (gray.astype(np.uint32) * 4095 // 255).astype(np.uint16))


def _shift_rows(book: openpyxl.Workbook) -> None:
    """Columns B..E moved up one row against the case ids: every case gets the next row's."""
    sheet = book["Sheet1"]
    for row in range(3, sheet.max_row + 1):
        for column in range(2, 6):
            sheet.cell(row=row, column=column, value=sheet.cell(row=row + 1, column=column).value)


def _flip_genders(book: openpyxl.Workbook) -> None:
    for row in book["Sheet1"].iter_rows(min_row=3):
        row[1].value = 1 - row[1].value


def _ole2_sheet(root: Path, stems: list[str]) -> None:
    """The first bytes of an encrypted .xlsx (an OLE2 compound file, as a legacy .xls)."""
    (root / "datasets.xlsx").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))


def _csv_sheet(root: Path, stems: list[str]) -> None:
    (root / "datasets.xlsx").write_text("Number,Gender,Age,Classification,Curvature\n1,1,30,1,1\n")


def _nest_jsons(root: Path, stems: list[str]) -> None:
    """datasets-JSON.zip unzipped into a folder of its own name."""
    folder = root / "datasets-JSON"
    (folder / "datasets-JSON").mkdir()
    for path in folder.glob("*.json"):
        path.rename(folder / "datasets-JSON" / path.name)


def _invisible_character(doc: dict) -> None:
    for shape in doc["shapes"]:
        if shape["label"].lower() == "c7 top left":
            shape["label"] = "C7 top\u200b left"  # a zero-width space after "top"


def _gb18030_json(root: Path, stems: list[str]) -> None:
    """Saved by an editor in the Chinese Windows encoding: a note in Chinese, not UTF-8."""
    path = _json(root, stems[0])
    doc = json.loads(path.read_text())
    doc["flags"] = {"颈椎": True}
    path.write_bytes(json.dumps(doc, ensure_ascii=False).encode("gb18030"))


def _hold_run_folder(root: Path, stems: list[str]) -> None:
    """The run folder (error_message's workdir/run) locked by a live job: this process's
    parent, on this host."""
    run = root.parent / "run"
    run.mkdir()
    started = "2026-01-01T08:00:00+00:00"
    holder = {"host": socket.gethostname(), "pid": os.getppid(), "started": started}
    (run / LOCK_FILE).write_text(json.dumps(holder))


def _blank_film(root: Path, stems: list[str]) -> None:
    shape = cv2.imread(str(_png(root, stems[0])), cv2.IMREAD_UNCHANGED).shape
    cv2.imwrite(str(_png(root, stems[0])), np.full(shape, 17, np.uint8))


def _blank_animation(root: Path, stems: list[str]) -> None:
    """An animated PNG whose default image (what every reader decodes) is blank."""
    film = cv2.imread(str(_png(root, stems[0])), cv2.IMREAD_COLOR)
    animation = cv2.Animation()
    animation.frames, animation.durations = [np.zeros_like(film), film], [100, 100]
    cv2.imwriteanimation(str(_png(root, stems[0])), animation)


def _decompression_bomb(root: Path, stems: list[str]) -> None:
    """A PNG whose header states 30000 x 30000 pixels (under 1 MB on disk)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data).to_bytes(4, "big")
        return len(data).to_bytes(4, "big") + kind + data + crc

    header = (30000).to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])
    body = zlib.compress(b"\x00" * 30001 * 16)
    _png(root, stems[0]).write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    )


def _far_duplicate(doc: dict) -> None:
    x, y = doc["shapes"][0]["points"][0]
    doc["shapes"].append(dict(doc["shapes"][0], points=[[x + 80, y]]))


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
    BadInput("film resized without its JSON", _resize_png),
    BadInput(
        "JSON stating another image size",
        lambda r, s: _edit_labelme(r, s[0], _halve_stated_size),
    ),
    BadInput(
        "1×1 film",
        lambda r, s: cv2.imwrite(str(_png(r, s[0])), np.zeros((1, 1), np.uint8)),
    ),
    BadInput("`X.png` next to `X.PNG`", _png_twice),
    BadInput("dangling symbolic link", _dangling_link),
    BadInput("macOS `._*` files", _mac_dot_files, logged="INFO"),
    BadInput("films of mixed bit depth", _twelve_bit, logged="WARNING"),
    BadInput("bit depth not in the list", lambda r, s: None, ["data.bit_depth=13"]),
    BadInput(
        "sheet without its title row",
        lambda r, s: _edit_sheet(r, lambda b: b["Sheet1"].delete_rows(1)),
        logged="WARNING",
    ),
    BadInput("sheet rows shifted against the case IDs", lambda r, s: _edit_sheet(r, _shift_rows)),
    BadInput("sheet genders not the file names'", lambda r, s: _edit_sheet(r, _flip_genders)),
    BadInput(
        "non-integer case ID",
        lambda r, s: _edit_sheet(r, lambda b: b["Sheet1"].cell(row=6, column=1, value=5.5)),
    ),
    BadInput(
        "negative case ID",
        lambda r, s: _edit_sheet(r, lambda b: b["Sheet1"].cell(row=6, column=1, value=-4)),
    ),
    BadInput("encrypted or legacy `datasets.xlsx`", _ole2_sheet),
    BadInput("CSV named `datasets.xlsx`", _csv_sheet),
    BadInput("nested `datasets-JSON/datasets-JSON/`", _nest_jsons),
    BadInput(
        "landmark label with an invisible character",
        lambda r, s: _edit_labelme(r, s[0], _invisible_character),
    ),
    BadInput("JSON not in UTF-8", _gb18030_json),
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
    BadInput("blank film", _blank_film),
    BadInput("animated PNG whose default image is blank", _blank_animation),
    BadInput("30000×30000 PNG (decompression bomb)", _decompression_bomb),
    BadInput("landmark saved twice far apart", lambda r, s: _edit_labelme(r, s[0], _far_duplicate)),
    BadInput(
        "class cell that is a formula without a value",
        lambda r, s: _edit_sheet(r, lambda b: b["Sheet1"].cell(row=6, column=4, value="=1+1")),
    ),
    BadInput(
        "merged class cells",
        lambda r, s: _edit_sheet(r, lambda b: b["Sheet1"].merge_cells("D6:D7")),
    ),
    BadInput("seed outside numpy's range", lambda r, s: None, ["seed=-1"]),
    BadInput("image size whose batch cannot fit", lambda r, s: None, ["image_size=100000"]),
    BadInput(
        "loss that becomes NaN",
        lambda r, s: None,
        ["+callbacks.nan._target_=tests.helpers.NaNWeightsAt", "+callbacks.nan.epoch=0"],
    ),
]


def error_message(case: BadInput, phantom_root: Path, workdir: Path) -> str:
    """What `python -m csxa_lightning.train` ends with on this bad input: `error: ...`; for a
    case that is no error (case.logged), the first log line of that level, as `LEVEL message`."""
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
    if case.logged is not None:
        return _first_logged(case.logged, cfg).replace(str(root), "CSXA")
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


def _first_logged(level: str, cfg) -> str:
    """The first `level` line the package logs while the data are prepared (index, cache):
    the datamodule's setup, which is what a training run does first."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = records.append
    logger = logging.getLogger("csxa_lightning")
    saved_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        instantiate(cfg.data).setup("fit")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved_level)
    lines = [f"{r.levelname} {r.getMessage()}" for r in records if r.levelname == level]
    if not lines:
        raise AssertionError(f"no {level} line was logged")
    return lines[0]


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
