"""DICOM films where PNGs were: a CSXA-layout folder whose datasets-PNG/ holds DICOM copies of
the phantom's films (8-bit MONOCHROME2, MONOCHROME1 stored inverted, 12-bit with a window,
JPEG-lossless) is evaluated exactly as the PNGs are, and no patient identifier of the files
reaches any output."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from csxa_lightning.data.films import film_pixel_spacing, read_film
from csxa_lightning.data.images import to_gray
from csxa_lightning.inference.predict import predict
from csxa_lightning.results.evaluation import evaluate
from tests.dicom_files import PATIENT_ID, PATIENT_NAME, write_dicom
from tests.helpers import compose_config

# Writing DICOM copies of a phantom set and evaluating both: about 10 s (make test stays
# under 10 minutes; CI runs the slow tests too). tests/unit/test_dicom.py checks the reader fast.
pytestmark = pytest.mark.slow


def dicom_copy(film: Path, target: Path, kind: int) -> None:
    """The film as DICOM, in one of four encodings that all display as the PNG's grey levels."""
    grey = to_gray(read_film(film)[0])
    spacing = (0.1, 0.1)
    if kind == 0:  # 8-bit MONOCHROME2, no window: the stored range is the grey range
        write_dicom(target, grey, pixel_spacing=spacing)
    elif kind == 1:  # MONOCHROME1: white is 0; shown inverted back
        write_dicom(target, 255 - grey, photometric="MONOCHROME1", imager_pixel_spacing=spacing)
    elif kind == 2:  # 12-bit values 16 g + 8; the window 16 * 128, width 16 * 256 maps them to g
        # (LINEAR: ((16 g + 8 - 2047.5) / 4095 + 0.5) * 255 = 0.9963 g + 0.4987: within 0.5 of g
        # for g in 0..255, so it rounds to g)
        write_dicom(target, (grey.astype(np.uint16) * 16 + 8), bits_stored=12, window=(2048, 4096))
    else:  # JPEG lossless (process 14), decoded by pylibjpeg-libjpeg
        write_dicom(target, grey, transfer_syntax="jpeg_lossless")


@pytest.fixture(scope="module")
def dicom_set(tiny_run, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("dicom") / "CSXA"
    shutil.copytree(tiny_run.dataset, root, ignore=shutil.ignore_patterns("*.png"))
    for kind, png in enumerate(sorted((tiny_run.dataset / "datasets-PNG").glob("*.png"))):
        dicom_copy(png, root / "datasets-PNG" / f"{png.stem}.dcm", kind % 4)
    return root


def test_the_dicom_copies_show_the_pngs_grey_levels(tiny_run, dicom_set):
    for png in sorted((tiny_run.dataset / "datasets-PNG").glob("*.png"))[:4]:
        expected = to_gray(read_film(png)[0])
        shown = read_film(dicom_set / "datasets-PNG" / f"{png.stem}.dcm")[0]
        np.testing.assert_array_equal(shown, expected)


def test_evaluate_on_dicom_copies_reproduces_the_png_scores(tiny_run, dicom_set, tmp_path):
    scores = {}
    for name, root in (("png", tiny_run.dataset), ("dicom", dicom_set)):
        scores[name] = evaluate(
            compose_config(
                "evaluate",
                [f"ckpt={tiny_run.checkpoint}", f"data.root={root}", f"out={tmp_path / name}"],
            )
        )
    tables = {n: pd.read_csv(tmp_path / n / "predictions.csv", dtype={"stem": str}) for n in scores}
    assert tables["dicom"]["stem"].tolist() == tables["png"]["stem"].tolist()
    np.testing.assert_allclose(
        tables["dicom"]["prob_diseased"], tables["png"]["prob_diseased"], rtol=0, atol=1e-6
    )
    assert scores["dicom"]["auroc"] == scores["png"]["auroc"]
    assert scores["dicom"]["n"] == scores["png"]["n"] == len(tables["png"])
    written = "".join(p.read_text() for p in (tmp_path / "dicom").glob("*.*") if p.suffix != ".png")
    assert PATIENT_NAME not in written and PATIENT_ID not in written


def test_predict_names_the_file_and_never_the_patient(tiny_run, dicom_set, tmp_path):
    out = tmp_path / "predicted.csv"
    predict(
        compose_config(
            "predict",
            [f"ckpt={tiny_run.checkpoint}", f"input={dicom_set / 'datasets-PNG'}", f"out={out}"],
        )
    )
    text = out.read_text()
    rows = pd.read_csv(out, dtype={"stem": str})
    assert len(rows) == len(list((dicom_set / "datasets-PNG").glob("*.dcm")))
    assert rows["file"].str.endswith(".dcm").all()
    assert PATIENT_NAME not in text and PATIENT_ID not in text
    assert "Doe" not in text


def test_the_pixel_spacing_of_a_dicom_film_is_kept(tiny_run, dicom_set):
    films = sorted((dicom_set / "datasets-PNG").glob("*.dcm"))
    assert film_pixel_spacing(films[0]) == (0.1, 0.1)  # PixelSpacing
    assert film_pixel_spacing(films[1]) == (0.1, 0.1)  # ImagerPixelSpacing
    assert film_pixel_spacing(films[2]) is None
    assert film_pixel_spacing(tiny_run.png(tiny_run.predictions["stem"][0])) is None
