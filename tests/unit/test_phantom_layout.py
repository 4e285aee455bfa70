"""The phantom set reproduces CSXA's layout and quirks, deterministically."""

from __future__ import annotations

import json

import cv2
import numpy as np
import openpyxl
import pytest

from csxa_lightning.phantom import generate_phantom
from csxa_lightning.phantom.__main__ import main as phantom_main
from tests.helpers import PHANTOM_N


def sheet_values(path):
    return [[c.value for c in row] for row in openpyxl.load_workbook(path)["Sheet1"].iter_rows()]


def test_same_seed_gives_identical_files_whatever_the_worker_count(tmp_path):
    a = generate_phantom(tmp_path / "a", n=6, seed=3, workers=1)
    b = generate_phantom(tmp_path / "b", n=6, seed=3, workers=2)
    files_a = sorted(p.relative_to(a.root) for p in a.root.rglob("*.*") if p.suffix != ".xlsx")
    files_b = sorted(p.relative_to(b.root) for p in b.root.rglob("*.*") if p.suffix != ".xlsx")
    assert files_a == files_b and len(files_a) == 12
    for rel in files_a:
        assert (a.root / rel).read_bytes() == (b.root / rel).read_bytes(), rel
    assert sheet_values(a.root / "datasets.xlsx") == sheet_values(b.root / "datasets.xlsx")


def test_other_seed_gives_other_images(tmp_path):
    a = generate_phantom(tmp_path / "a", n=4, seed=1, workers=1)
    b = generate_phantom(tmp_path / "b", n=4, seed=2, workers=1)
    png_a = sorted((a.root / "datasets-PNG").iterdir())[0].read_bytes()
    png_b = sorted((b.root / "datasets-PNG").iterdir())[0].read_bytes()
    assert png_a != png_b


def test_sheet_layout_matches_csxa(phantom):
    rows = sheet_values(phantom.root / "datasets.xlsx")
    assert rows[0][0].startswith("Cervical Spine X-ray Atlas")  # title row
    assert rows[1][0] == "Number"  # header row 2
    data = rows[2:]
    assert len(data) == phantom.n_rows == PHANTOM_N + len(phantom.missing_case_ids)
    assert [r[0] for r in data] == list(range(1, phantom.n_rows + 1))
    missing = phantom.missing_case_ids
    assert missing == list(range(missing[0], missing[0] + len(missing)))  # contiguous block
    assert {r[3] for r in data} == {1, 2, None}
    assert sum(r[3] is None for r in data) == 1
    assert {r[4] for r in data} <= {1, 2, 3, 4, 5}
    assert len(rows[1]) > 5  # further columns beyond A..E, as in the real sheet


def test_images_are_opaque_rgba_of_csxa_sizes(phantom):
    pngs = sorted((phantom.root / "datasets-PNG").glob("*.png"))
    assert len(pngs) == PHANTOM_N
    sizes = []
    for path in pngs:
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        assert image.ndim == 3 and image.shape[2] == 4 and image.dtype == np.uint8
        assert (image[:, :, 3] == 255).all()
        assert (image[:, :, 0] == image[:, :, 1]).all()  # gray content stored as color
        sizes.append(image.shape[:2])
    heights, widths = np.array(sizes).T
    assert widths.min() >= 550 and widths.max() <= 1000
    assert heights.min() >= 700 and heights.max() <= 1100
    assert len(set(sizes)) > PHANTOM_N // 2  # sizes vary


def test_inverted_films_have_bright_backgrounds(phantom):
    assert 0 < len(phantom.inverted_stems) < PHANTOM_N

    def corner_mean(stem):
        gray = cv2.imread(str(phantom.root / "datasets-PNG" / f"{stem}.png"), cv2.IMREAD_GRAYSCALE)
        h, w = gray.shape
        return float(np.median(gray[h // 3 : 2 * h // 3, w // 12 : w // 6]))

    stems = [p.stem for p in (phantom.root / "datasets-PNG").glob("*.png")]
    normal = [corner_mean(s) for s in stems if s not in phantom.inverted_stems]
    inverted = [corner_mean(s) for s in phantom.inverted_stems]
    assert np.median(inverted) > np.median(normal) + 60


def test_labelme_json_carries_image_data_and_size(phantom):
    path = sorted((phantom.root / "datasets-JSON").glob("*.json"))[0]
    doc = json.loads(path.read_text())
    png = (phantom.root / "datasets-PNG" / f"{path.stem}.png").read_bytes()
    import base64

    assert base64.b64decode(doc["imageData"]) == png
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
    assert (doc["imageHeight"], doc["imageWidth"]) == image.shape[:2]
    assert {s["shape_type"] for s in doc["shapes"]} <= {"point", "polygon"}


def test_cli_writes_a_set_and_refuses_a_non_empty_folder(tmp_path, capsys):
    phantom_main(["--out", str(tmp_path / "p"), "--n", "5", "--seed", "1", "--workers", "1"])
    assert "wrote 5 images" in capsys.readouterr().out
    assert len(list((tmp_path / "p" / "datasets-PNG").iterdir())) == 5
    with pytest.raises(SystemExit) as exit_info:
        phantom_main(["--out", str(tmp_path / "p"), "--n", "5"])
    # One `error:` line, exit code 1, as every command (the interpreter prints the message).
    assert str(exit_info.value).startswith("error: ") and "not empty" in str(exit_info.value)


def test_the_planted_films_hide_the_signs_from_the_centre_crop():
    # What the planted effect promises: its signs (C5-C7) lie below the 500 x 500 centre
    # window in most films, and only the diseased films carry them.
    import numpy as np

    from csxa_lightning.phantom.layout import plan_cases, render_case

    cases = [c for c in plan_cases(40, 0, 0.5, "planted") if c.has_image]
    below = []
    for case in cases:
        assert case.draws_signs == (case.label == 1)
        # drawn as write_case draws it (seed 0)
        _, points = render_case(case, np.random.default_rng([0, case.case_id]))
        window_bottom = (case.height - 500) // 2 + 500
        below.append(points["C6 top left"][1] > window_bottom)
    assert np.mean(below) > 0.9


def test_the_null_control_draws_signs_regardless_of_the_label():
    from csxa_lightning.phantom.layout import plan_cases
    from csxa_lightning.phantom.store import phantom_dir

    cases = [c for c in plan_cases(400, 0, 0.5, "none") if c.has_image and c.label is not None]
    signs_healthy = sum(c.draws_signs for c in cases if c.label == 0)
    signs_diseased = sum(c.draws_signs for c in cases if c.label == 1)
    assert signs_healthy > 0 and signs_diseased > 0
    n_healthy = sum(c.label == 0 for c in cases)
    assert abs(signs_healthy / n_healthy - signs_diseased / (len(cases) - n_healthy)) < 0.15
    names = {
        phantom_dir("/c", 300, 0, 0.5, effect).name for effect in ("natural", "planted", "none")
    }
    assert len(names) == 3
