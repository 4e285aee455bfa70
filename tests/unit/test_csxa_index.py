"""load_index on a phantom CSXA: joins, drops and their counts, and clear failures."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import cv2
import numpy as np
import openpyxl
import pytest

from csxa_lightning.data.case import read_case
from csxa_lightning.data.csxa import load_index, parse_stem
from csxa_lightning.data.format_error import CSXAFormatError
from csxa_lightning.data.sheet import read_sheet
from tests.helpers import PHANTOM_N


def test_index_has_one_row_per_usable_image(phantom):
    index = load_index(phantom.root)
    assert len(index) == PHANTOM_N
    assert int((index["label"] == 0).sum()) == phantom.n_healthy
    assert index["case_id"].is_monotonic_increasing
    expected = {"case_id", "stem", "gender", "age", "label", "curvature", "png_path", "json_path"}
    assert expected <= set(index.columns)
    assert all(index["stem"].str.len() == 7)
    # the block of case ids without image is exactly what the phantom left out
    assert set(phantom.missing_case_ids).isdisjoint(index["case_id"])


def test_unmodified_phantom_drops_only_rows_without_image(phantom, caplog):
    with caplog.at_level(logging.INFO, logger="csxa_lightning.data.csxa"):
        index = load_index(phantom.root)
    drops = index.attrs["drops"]
    assert drops["rows_without_image"] == len(phantom.missing_case_ids)
    assert drops["images_without_row"] == 0
    assert drops["rows_without_class"] == 0  # the unlabelled row is among the image-less ones
    assert drops["images_without_json"] == 0
    assert drops["age_mismatches"] == len(phantom.age_mismatch_case_ids) > 0
    summary = [r.message for r in caplog.records if "usable images" in r.message]
    assert len(summary) == 1
    assert f"{PHANTOM_N} usable images" in summary[0]
    assert f"dropped {len(phantom.missing_case_ids)} rows without image" in summary[0]


def test_file_name_age_wins_over_sheet_age(phantom):
    index = load_index(phantom.root).set_index("case_id")
    assert len(phantom.age_mismatch_case_ids) > 0  # the phantom plants some
    for case_id in phantom.age_mismatch_case_ids:
        row = index.loc[case_id]
        assert row["age"] == parse_stem(row["stem"])[2]
        assert row["sheet_age"] != row["age"]


def test_every_kind_of_drop_is_counted(phantom_copy):
    index = load_index(phantom_copy)
    victims = index.iloc[[3, 8]]
    # an image whose annotation is missing
    (phantom_copy / "datasets-JSON" / f"{victims.iloc[0]['stem']}.json").unlink()
    # a sheet row with an image but no class
    book = openpyxl.load_workbook(phantom_copy / "datasets.xlsx")
    sheet = book["Sheet1"]
    for row in sheet.iter_rows(min_row=3):
        if row[0].value == victims.iloc[1]["case_id"]:
            row[3].value = None
    book.save(phantom_copy / "datasets.xlsx")
    # an image (with annotation) whose case id has no row in the sheet
    src = index.iloc[0]["stem"]
    orphan = "9990145"
    shutil.copy(
        phantom_copy / "datasets-PNG" / f"{src}.png",
        phantom_copy / "datasets-PNG" / f"{orphan}.png",
    )
    shutil.copy(
        phantom_copy / "datasets-JSON" / f"{src}.json",
        phantom_copy / "datasets-JSON" / f"{orphan}.json",
    )

    after = load_index(phantom_copy)
    drops = after.attrs["drops"]
    assert drops["images_without_json"] == 1
    assert drops["rows_without_class"] == 1
    assert drops["images_without_row"] == 1
    assert len(after) == PHANTOM_N - 2
    assert not set(victims["case_id"]) & set(after["case_id"])
    assert 9990 not in set(after["case_id"])


def test_join_is_on_case_id_not_row_order(phantom_copy):
    before = load_index(phantom_copy).set_index("case_id")["label"]
    book = openpyxl.load_workbook(phantom_copy / "datasets.xlsx")
    sheet = book["Sheet1"]
    rows = [[c.value for c in r] for r in sheet.iter_rows(min_row=3)]
    for r_idx, values in enumerate(reversed(rows), start=3):
        for c_idx, value in enumerate(values, start=1):
            sheet.cell(row=r_idx, column=c_idx, value=value)
    book.save(phantom_copy / "datasets.xlsx")
    after = load_index(phantom_copy).set_index("case_id")["label"]
    assert after.sort_index().equals(before.sort_index())


def test_sheet_columns_are_read_by_position(phantom_copy):
    book = openpyxl.load_workbook(phantom_copy / "datasets.xlsx")
    sheet = book["Sheet1"]
    for col in range(1, 6):  # rename every header: position, not name, is what counts
        sheet.cell(row=2, column=col, value=f"renamed {col}")
    book.save(phantom_copy / "datasets.xlsx")
    assert len(load_index(phantom_copy)) == PHANTOM_N


def test_bad_class_value_names_file_column_and_row(phantom_copy):
    book = openpyxl.load_workbook(phantom_copy / "datasets.xlsx")
    book["Sheet1"].cell(row=5, column=4, value="healthy")
    book.save(phantom_copy / "datasets.xlsx")
    with pytest.raises(CSXAFormatError, match=r"datasets\.xlsx.*column D.*'healthy'.*row 5"):
        read_sheet(phantom_copy / "datasets.xlsx")


@pytest.mark.parametrize(
    ("remove", "message"),
    [
        ("", "CSXA folder not found"),
        ("datasets-PNG", "image folder datasets-PNG/ not found"),
        ("datasets-JSON", "annotation folder datasets-JSON/ not found"),
        ("datasets.xlsx", "spreadsheet datasets.xlsx not found"),
    ],
)
def test_missing_parts_name_what_and_where_to_get_csxa(phantom_copy, tmp_path, remove, message):
    root = phantom_copy
    if remove == "":
        root = tmp_path / "nowhere"
    elif (root / remove).is_dir():
        shutil.rmtree(root / remove)
    else:
        (root / remove).unlink()
    with pytest.raises(CSXAFormatError) as err:
        load_index(root)
    assert message in str(err.value)
    assert "doi:10.57760/sciencedb.15391" in str(err.value)


def test_wrong_sheet_name_is_reported(phantom_copy):
    book = openpyxl.load_workbook(phantom_copy / "datasets.xlsx")
    book["Sheet1"].title = "Data"
    book.save(phantom_copy / "datasets.xlsx")
    with pytest.raises(CSXAFormatError, match="Sheet1"):
        load_index(phantom_copy)


def test_parse_stem():
    assert parse_stem("2548130") == (2548, 1, 30)
    with pytest.raises(CSXAFormatError, match="not a CSXA stem"):
        parse_stem("IMG_0001")


def test_duplicate_case_ids_and_unknown_class_codes_are_refused(phantom_copy):
    path = phantom_copy / "datasets.xlsx"
    book = openpyxl.load_workbook(path)
    book["Sheet1"].cell(row=7, column=4, value=3)  # classes are 1 or 2
    book.save(path)
    with pytest.raises(CSXAFormatError, match=r"column D .*unexpected value 3 in row 7"):
        read_sheet(path)
    book["Sheet1"].cell(row=7, column=4, value=1)
    book["Sheet1"].cell(row=9, column=1, value=book["Sheet1"].cell(row=8, column=1).value)
    book.save(path)
    with pytest.raises(CSXAFormatError, match=r"column A: case id 6 appears more than once"):
        read_sheet(path)


# --- one case, checked as every variant needs it ---------------------------------------------


def test_read_case_gives_the_film_and_its_landmarks(phantom):
    row = load_index(phantom.root).iloc[0]
    image, keypoints, depth = read_case(row["png_path"], row["json_path"])
    assert image.ndim in (2, 3) and len(keypoints) == 23 and depth == 8


def test_read_case_refuses_a_degenerate_landmark_box_whatever_the_crop(phantom_copy):
    row = load_index(phantom_copy).iloc[0]
    path = phantom_copy / "datasets-JSON" / f"{row['stem']}.json"
    doc = json.loads(path.read_text())
    for shape in doc["shapes"]:
        shape["points"] = [[100.0, 100.0 + len(shape["label"])]]  # one column: zero width
    path.write_text(json.dumps(doc))
    with pytest.raises(CSXAFormatError) as err:
        read_case(row["png_path"], path)
    assert str(err.value).startswith(f"{path}: the landmarks span a degenerate box (100.0, ")
    assert "remove the case's PNG and JSON" in str(err.value)


def _unsized(json_path) -> None:
    path = Path(json_path)
    doc = json.loads(path.read_text())
    del doc["imageWidth"], doc["imageHeight"]
    path.write_text(json.dumps(doc))


def test_read_case_refuses_landmarks_off_the_actual_film(phantom_copy):
    """A JSON that states no size: its landmarks are checked against the PNG itself."""
    row = load_index(phantom_copy).iloc[0]
    image, keypoints, _ = read_case(row["png_path"], row["json_path"])
    _unsized(row["json_path"])
    top = int(min(y for _, y in keypoints.values()))
    cut = image[: max(64, top - 5)]  # the film cut above the landmarks
    cv2.imwrite(row["png_path"], cut)
    size = f"{cut.shape[1]}x{cut.shape[0]}"
    with pytest.raises(
        CSXAFormatError, match=rf"\.json: landmark\(s\) \[.*\] lie outside the {size}"
    ):
        read_case(row["png_path"], row["json_path"])


def test_a_film_resized_without_its_annotation_is_refused_with_both_sizes(phantom_copy):
    row = load_index(phantom_copy).iloc[0]
    image = cv2.imread(row["png_path"], cv2.IMREAD_UNCHANGED)
    height, width = image.shape[:2]
    half = cv2.resize(image, (width // 2, height // 2), interpolation=cv2.INTER_AREA)
    cv2.imwrite(row["png_path"], half)
    with pytest.raises(CSXAFormatError) as err:
        read_case(row["png_path"], row["json_path"])
    assert str(err.value).startswith(
        f"{row['png_path']} is {width // 2}x{height // 2} pixels, its annotation "
        f"{row['json_path']} is for a {width}x{height} image"
    )


def test_a_wrong_stated_size_is_reported_as_such_not_as_landmarks_outside(phantom_copy):
    """The landmarks fit the PNG; only the size the JSON states is wrong."""
    row = load_index(phantom_copy).iloc[0]
    path = Path(row["json_path"])
    doc = json.loads(path.read_text())
    width, height = doc["imageWidth"], doc["imageHeight"]
    doc["imageWidth"], doc["imageHeight"] = width // 2, height // 2
    path.write_text(json.dumps(doc))
    with pytest.raises(CSXAFormatError, match=rf"is {width}x{height} pixels, .* is for a "):
        read_case(row["png_path"], row["json_path"])


@pytest.mark.parametrize("side", [1, 63])
def test_a_film_below_the_minimum_size_is_refused_whatever_its_annotation(phantom_copy, side):
    row = load_index(phantom_copy).iloc[0]
    _unsized(row["json_path"])
    # A gradient, not a blank: a blank film is refused as such (test_film_checks.py).
    cv2.imwrite(row["png_path"], (np.arange(side * 500).reshape(side, 500) % 256).astype(np.uint8))
    with pytest.raises(CSXAFormatError, match=rf"the film is 500x{side} pixels, smaller than "):
        read_case(row["png_path"], row["json_path"], min_size=64)
    with pytest.raises(CSXAFormatError, match="lie outside the 500x"):  # min_size=1 lets it by
        read_case(row["png_path"], row["json_path"], min_size=1)
