"""The preprocessed cache: exact content, reuse, invalidation, atomic and concurrent builds."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import shutil
import zlib

import numpy as np
import pytest

from csxa_lightning.data import cache
from csxa_lightning.data.cache import DatasetProblemsError, cached_inputs, preprocess_file
from csxa_lightning.data.csxa import load_index
from csxa_lightning.data.preprocess import Preprocessor
from csxa_lightning.data.transforms import CenterCrop, EnhancedColor, GrayColor, KeypointCrop


def _wide_enhanced():
    return Preprocessor(KeypointCrop(50, 100, "wide"), EnhancedColor("both"), image_size=32)


@pytest.fixture
def wide_enhanced():
    return _wide_enhanced()


@pytest.fixture(scope="module")
def built_cache(phantom, tmp_path_factory):
    """A cache folder holding the intact wide_enhanced entry of the phantom; copy it to alter."""
    folder = tmp_path_factory.mktemp("built_cache")
    cached_inputs(load_index(phantom.root), _wide_enhanced(), folder, workers=1)
    return folder


def listing(root):
    return sorted((str(p), p.stat().st_mtime_ns) for p in root.rglob("*"))


def test_entry_holds_exactly_the_preprocessed_inputs(phantom, tmp_path, wide_enhanced):
    index = load_index(phantom.root)
    before = listing(phantom.root)
    arrays = cached_inputs(index, wide_enhanced, tmp_path, workers=2).read(np.arange(len(index)))
    assert arrays.shape == (len(index), 2, 3, 32, 32) and arrays.dtype == np.uint8
    for i in (0, 7, len(index) - 1):
        row = index.iloc[i]
        assert (
            arrays[i] == preprocess_file(wide_enhanced, row["png_path"], row["json_path"])
        ).all()
    assert listing(phantom.root) == before  # nothing written inside the dataset folder
    assert len(list((tmp_path / "inputs").glob("*.npy"))) == 1
    assert not list((tmp_path / "inputs").glob(".*partial"))


def test_second_call_reuses_the_entry(phantom, tmp_path, wide_enhanced, monkeypatch):
    index = load_index(phantom.root)
    rows = np.array([5, 0, 3])
    first = cached_inputs(index, wide_enhanced, tmp_path, workers=1).read(rows)
    monkeypatch.setattr(cache, "_build", lambda *a, **k: pytest.fail("rebuilt a cached entry"))
    again = cached_inputs(index, wide_enhanced, tmp_path).read(rows)
    assert (again == first).all()
    row = index.iloc[3]  # rows come back in the order asked for
    assert (first[2] == preprocess_file(wide_enhanced, row["png_path"], row["json_path"])).all()


def test_changed_file_or_config_makes_a_new_key(phantom_copy, wide_enhanced):
    index = load_index(phantom_copy)
    key = cache.fingerprint(index, wide_enhanced)
    other_config = Preprocessor(KeypointCrop(50, 90, "wide"), EnhancedColor("both"), 32)
    assert cache.fingerprint(index, other_config) != key
    png = index.iloc[3]["png_path"]
    os.utime(png, ns=(0, os.stat(png).st_mtime_ns + 10**9))
    assert cache.fingerprint(load_index(phantom_copy), wide_enhanced) != key


def _build_in_process(args):
    root, cache_dir = args
    preprocessor = Preprocessor(KeypointCrop(), EnhancedColor("gray_eq_inv"), image_size=16)
    index = load_index(root)
    entry = cached_inputs(index, preprocessor, cache_dir, workers=1)
    return int(entry.read(np.arange(len(index))).sum())


def test_two_processes_building_the_same_entry_both_succeed(phantom, tmp_path):
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        sums = pool.map(_build_in_process, [(phantom.root, tmp_path)] * 2)
    assert sums[0] == sums[1] > 0
    assert len(list((tmp_path / "inputs").glob("*.npy"))) == 1
    assert not list((tmp_path / "inputs").glob(".*partial"))


def test_every_unusable_file_is_reported_at_once(
    phantom_copy, tmp_path, wide_enhanced, monkeypatch
):
    index = load_index(phantom_copy)
    stems = index["stem"].tolist()
    (phantom_copy / "datasets-PNG" / f"{stems[1]}.png").write_bytes(b"")
    (phantom_copy / "datasets-PNG" / f"{stems[4]}.png").write_bytes(b"not a png at all")
    doc = json.loads((phantom_copy / "datasets-JSON" / f"{stems[6]}.json").read_text())
    doc["shapes"] = [s for s in doc["shapes"] if "C5" not in s["label"].upper()]
    (phantom_copy / "datasets-JSON" / f"{stems[6]}.json").write_text(json.dumps(doc))

    with pytest.raises(DatasetProblemsError) as err:
        cached_inputs(load_index(phantom_copy), wide_enhanced, tmp_path / "cache", workers=2)
    message = str(err.value)
    assert message.startswith("3 files of the dataset cannot be used")
    assert f"{stems[1]}.png: image file is empty or corrupt" in message
    assert f"{stems[4]}.png: image file is empty or corrupt" in message
    assert f"{stems[6]}.json: missing landmark(s)" in message and "'C5 top left'" in message
    # the entry keeps the list: asked again, it reports the same without rebuilding
    monkeypatch.setattr(cache, "_build", lambda *a, **k: pytest.fail("rebuilt"))
    index = load_index(phantom_copy)
    with pytest.raises(DatasetProblemsError, match="^3 file"):
        cached_inputs(index, wide_enhanced, tmp_path / "cache")
    entry = cached_inputs(index, wide_enhanced, tmp_path / "cache", on_bad_file="skip")
    assert sorted(entry.unusable) == sorted([stems[1], stems[4], stems[6]])
    assert entry.read(np.array([1, 4, 6])).max() == 0  # their rows were never filled


def test_every_crop_finds_the_same_unusable_cases(phantom_copy, tmp_path):
    """crop=none never uses the landmarks, yet a case with a broken or degenerate annotation is
    unusable for it as for the landmark crops: one set of usable cases per dataset."""
    stems = load_index(phantom_copy)["stem"].tolist()
    (phantom_copy / "datasets-JSON" / f"{stems[2]}.json").write_text("{not json")
    path = phantom_copy / "datasets-JSON" / f"{stems[5]}.json"
    doc = json.loads(path.read_text())
    for shape in doc["shapes"]:
        shape["points"] = [[100.0, 100.0]]
    path.write_text(json.dumps(doc))
    (phantom_copy / "datasets-PNG" / f"{stems[7]}.png").write_bytes(b"")
    index = load_index(phantom_copy)

    unusable = {}
    for crop in (CenterCrop(), KeypointCrop(), KeypointCrop(50, 100, "wide")):
        preprocessor = Preprocessor(crop, GrayColor(), image_size=16)
        with pytest.raises(DatasetProblemsError, match="^3 files") as err:
            cached_inputs(index, preprocessor, tmp_path, workers=1)
        assert f"{stems[2]}.json: not valid JSON" in str(err.value)
        assert f"{stems[5]}.json: the landmarks span a degenerate box" in str(err.value)
        entry = cached_inputs(index, preprocessor, tmp_path, on_bad_file="skip")
        unusable[crop.name] = entry.unusable
    assert unusable["none"] == unusable["tight"] == unusable["wide"]
    assert sorted(unusable["none"]) == sorted([stems[2], stems[5], stems[7]])


def _entry(cache_dir):
    (target,) = (cache_dir / "inputs").glob("*.npy")
    return target, target.with_suffix(".json")


def _crc32_of(path):
    return f"crc32:{zlib.crc32(path.read_bytes()):08x}"


def test_manifest_holds_the_checksum_and_size_of_the_entry(
    phantom, tmp_path, wide_enhanced, monkeypatch, caplog
):
    index = load_index(phantom.root)
    cached_inputs(index, wide_enhanced, tmp_path, workers=1)
    target, manifest = _entry(tmp_path)
    doc = json.loads(manifest.read_text())
    assert doc["size"] == target.stat().st_size == 128 + len(index) * 2 * 3 * 32 * 32
    assert doc["checksum"] == _crc32_of(target)  # computed here, independently
    # intact: verified, reused as is, nothing reported
    monkeypatch.setattr(cache, "_build", lambda *a, **k: pytest.fail("rebuilt an intact entry"))
    with caplog.at_level(logging.INFO, logger=cache.__name__):
        cached_inputs(index, wide_enhanced, tmp_path)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("cache hit" in r.getMessage() for r in caplog.records)
    assert json.loads(manifest.read_text()) == doc


def _flip_middle_byte(target, manifest):
    data = bytearray(target.read_bytes())
    middle = len(data) // 2
    data[middle] ^= 0xFF
    target.write_bytes(bytes(data))
    return middle


def _truncate(target, manifest):
    with open(target, "r+b") as f:
        f.truncate(target.stat().st_size - 1000)
    return target.stat().st_size - 1  # the last rows were cut


def _delete_manifest(target, manifest):
    manifest.unlink()
    return 0


def _delete_data(target, manifest):
    target.unlink()
    return 0


def _manifest_without_checksum(target, manifest):  # as written by the previous version
    doc = json.loads(manifest.read_text())
    del doc["checksum"], doc["size"]
    manifest.write_text(json.dumps(doc))
    return 0


def _manifest_of_older_checks(target, manifest):  # listed only what its crop read
    doc = json.loads(manifest.read_text())
    del doc["checks"]
    manifest.write_text(json.dumps(doc))
    return 0


def _other_stems(target, manifest):
    doc = json.loads(manifest.read_text())
    doc["stems"][3] = "someone-else"
    manifest.write_text(json.dumps(doc))
    return 0


def _zero_header_shape(target, manifest):  # same size and checksum, other shape in the header
    data = target.read_bytes()
    changed = data.replace(b"'shape': (40, 2,", b"'shape': (20, 4,", 1)
    assert changed != data
    target.write_bytes(changed)
    doc = json.loads(manifest.read_text())
    doc["checksum"] = _crc32_of(target)
    manifest.write_text(json.dumps(doc))
    return 0


@pytest.mark.parametrize(
    ("damage", "reported"),
    [
        (_flip_middle_byte, "checksum mismatch"),
        (_truncate, "truncated: "),
        (_delete_manifest, "manifest missing"),
        (_delete_data, "data file missing"),
        (_manifest_without_checksum, "no checksum"),
        (_manifest_of_older_checks, f"made by checks version 1, not {cache.CASE_CHECKS}"),
        (_other_stems, "stems differ"),
        (_zero_header_shape, "shape (20, 4, 3, 32, 32) in the .npy header"),
    ],
)
def test_a_damaged_entry_is_reported_and_rebuilt(
    damage, reported, phantom, built_cache, tmp_path, wide_enhanced, monkeypatch, caplog
):
    index = load_index(phantom.root)
    shutil.copytree(built_cache / "inputs", tmp_path / "inputs")
    target, manifest = _entry(tmp_path)
    good = target.read_bytes()
    offset = cache.CachedArray(target).offset
    damaged_row = (damage(target, manifest) - offset) // (2 * 3 * 32 * 32)
    builds = []
    build = cache._build
    monkeypatch.setattr(cache, "_build", lambda *a, **k: builds.append(1) or build(*a, **k))

    with caplog.at_level(logging.WARNING, logger=cache.__name__):
        entry = cached_inputs(index, wide_enhanced, tmp_path, workers=1)

    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert str(target) in warning.getMessage() and reported in warning.getMessage()
    assert builds == [1]
    rows = np.array(sorted({0, max(damaged_row, 0), len(index) - 1}))
    arrays = entry.read(rows)
    for got, i in zip(arrays, rows, strict=True):
        row = index.iloc[i]
        assert (got == preprocess_file(wide_enhanced, row["png_path"], row["json_path"])).all()
    assert target.read_bytes() == good
    assert json.loads(manifest.read_text())["checksum"] == _crc32_of(target)
    assert not list((tmp_path / "inputs").glob(".*"))  # no temporary file left


def test_leftovers_of_a_crashed_build_are_removed(phantom, tmp_path, wide_enhanced):
    index = load_index(phantom.root)
    folder = tmp_path / "inputs"
    folder.mkdir()
    name = cache.fingerprint(index, wide_enhanced)[:24]
    (folder / f".{name}.npy.999999.partial").write_bytes(b"half an entry")
    (folder / f".{name}.json.999999").write_text("{")
    entry = cached_inputs(index, wide_enhanced, tmp_path, workers=1)
    assert len(entry) == len(index)
    assert sorted(p.name for p in folder.iterdir()) == [
        f"{name}.json",
        f"{name}.npy",
        f"{name}.npy.lock",
    ]
