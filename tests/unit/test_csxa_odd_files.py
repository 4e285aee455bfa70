"""The odd files of a real download (issue 15): dot-files, names differing in case, a sheet
without its title row or of another file type, a broken join, labels and encodings that are
not what they look like."""

from __future__ import annotations

import json
import logging
import shutil

import openpyxl
import pytest
from hydra.utils import instantiate

from csxa_lightning.data.annotations import guess_encoding, read_keypoints
from csxa_lightning.data.csxa import load_index
from csxa_lightning.data.format_error import CSXAFormatError
from csxa_lightning.data.sheet import header_row, read_sheet, sheet_file_problem
from tests.helpers import PHANTOM_N, TINY_TRAINING, compose_train_config


def test_dot_files_are_ignored_and_counted(phantom_copy, caplog):
    for folder, suffix in (("datasets-PNG", ".png"), ("datasets-JSON", ".json")):
        (phantom_copy / folder / f"._0001062{suffix}").write_bytes(b"\x00\x05\x16\x07")
    (phantom_copy / "datasets-PNG" / ".DS_Store").write_bytes(b"Bud1")
    with caplog.at_level(logging.INFO, logger="csxa_lightning.data.csxa"):
        index = load_index(phantom_copy)
    assert len(index) == PHANTOM_N and index.attrs["drops"]["dot_files"] == 3
    assert "3 dot-files (._*, .DS_Store) ignored" in caplog.records[-1].getMessage()


def test_names_differing_in_case_are_a_bad_pair_that_skip_leaves_out(phantom_copy, tmp_path):
    index = load_index(phantom_copy)
    stem = index["stem"].iloc[4]
    shutil.copyfile(index["json_path"].iloc[4], phantom_copy / "datasets-JSON" / f"{stem}.JSON")
    after = load_index(phantom_copy)
    assert len(after) == PHANTOM_N - 1 and stem not in set(after["stem"])
    assert list(after.attrs["bad_files"]) == [stem]
    assert f"{stem}.JSON and " in after.attrs["bad_files"][stem]
    cfg = compose_train_config(
        TINY_TRAINING
        + [
            "data=csxa",
            f"data.root={phantom_copy}",
            f"paths.cache_dir={tmp_path / 'cache'}",
            "data.on_bad_file=skip",
            "balance=none",
        ]
    )
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    assert datamodule.skipped["stem"].tolist() == [stem]
    assert len(datamodule.index) == PHANTOM_N - 1


def test_a_sheet_without_title_row_loses_no_case_and_warns(phantom_copy, caplog):
    path = phantom_copy / "datasets.xlsx"
    before = read_sheet(path)
    book = openpyxl.load_workbook(path)
    book["Sheet1"].delete_rows(1)
    book.save(path)
    with caplog.at_level(logging.WARNING, logger="csxa_lightning.data.sheet"):
        after = read_sheet(path)
    assert after.equals(before)
    assert "differs from the original" in caplog.records[0].getMessage()
    book["Sheet1"].delete_rows(1)  # the column names too: the data start in row 1
    book.save(path)
    assert read_sheet(path).equals(before)


def test_the_header_row_is_found_by_content():
    assert header_row(["CSXA title", "Number", 1, 2]) == 1
    assert header_row(["Number", 1, 2]) == 0
    assert header_row([" number ", "7", 8]) == 0
    assert header_row([1, 2, 3]) == -1
    assert header_row(["title", "id", 3.0]) == 1  # renamed header: the row above the first id


def test_a_bad_value_in_a_sheet_without_title_row_names_its_real_row(phantom_copy):
    path = phantom_copy / "datasets.xlsx"
    book = openpyxl.load_workbook(path)
    book["Sheet1"].delete_rows(1)
    book["Sheet1"].cell(row=5, column=1, value=2.5)
    book.save(path)
    with pytest.raises(CSXAFormatError, match=r"unexpected value 2\.5 in row 5\. "):
        read_sheet(path)


@pytest.mark.parametrize(
    ("head", "says"),
    [
        (b"PK\x03\x04rest of a zip", None),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(20), "an OLE2 compound file"),
        (b"Number;Gender;Age\n1;0;30\n", "a text file (CSV or similar)"),
        ("\ufeffNummer,Geschlecht,Größe\n".encode()[:-2], "a text file (CSV or similar)"),
        (b"", "an empty file"),
        (b"\x1f\x8b\x08\x00gzip", "not an Excel workbook (it starts with bytes"),
    ],
)
def test_the_sheet_file_is_named_for_what_it_is(head, says):
    problem = sheet_file_problem(head)
    assert problem is None if says is None else problem.startswith(says)
    assert problem is None or problem.endswith(".")


def test_a_few_disagreeing_sheet_genders_are_counted_many_stop_the_run(phantom_copy):
    path = phantom_copy / "datasets.xlsx"
    book = openpyxl.load_workbook(path)
    rows = [row for row in book["Sheet1"].iter_rows(min_row=3) if row[3].value is not None]
    for row in rows[:2]:
        row[1].value = 1 - row[1].value
    book.save(path)
    assert load_index(phantom_copy).attrs["drops"]["gender_mismatches"] == 2
    with pytest.raises(CSXAFormatError, match=r"of 40 cases joined on the case id, \d+ \("):
        load_index(phantom_copy, max_join_disagreement=0.05)  # 2 genders + 1 age of 40 > 5 %


def test_a_nested_png_folder_is_named(phantom_copy):
    folder = phantom_copy / "datasets-PNG"
    (folder / "datasets-PNG").mkdir()
    for path in folder.glob("*.png"):
        path.rename(folder / "datasets-PNG" / path.name)
    with pytest.raises(CSXAFormatError) as err:
        load_index(phantom_copy)
    assert f"found {PHANTOM_N} .png files in datasets-PNG/datasets-PNG; move them up" in str(
        err.value
    )


def test_unrecognised_labels_are_listed_escaped_or_said_absent(phantom, tmp_path):
    doc = json.loads(next((phantom.root / "datasets-JSON").glob("*.json")).read_text())
    doc["shapes"] = [s for s in doc["shapes"] if s["label"].casefold() != "c2 centroid"]
    path = tmp_path / "a.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(CSXAFormatError, match=r"The file holds no other labels\. "):
        read_keypoints(path)
    doc["shapes"].append({"label": "C2\u00adcentroid", "points": [[1.0, 2.0]]})  # soft hyphen
    path.write_text(json.dumps(doc))
    with pytest.raises(CSXAFormatError, match=r"none of the 23: \['C2\\xadcentroid'\]\. "):
        read_keypoints(path)


def test_a_json_in_another_encoding_names_it(phantom, tmp_path):
    doc = json.loads(next((phantom.root / "datasets-JSON").glob("*.json")).read_text())
    doc["flags"] = {"café": True}
    path = tmp_path / "a.json"
    path.write_bytes(json.dumps(doc, ensure_ascii=False).encode("cp1252"))
    with pytest.raises(CSXAFormatError, match=r"it reads as CP1252\. Convert it to UTF-8"):
        read_keypoints(path)
    assert guess_encoding("颈椎".encode("gb18030")) == "GB18030"
