"""The preprocessed cache: exact content, reuse, invalidation, atomic and concurrent builds."""

from __future__ import annotations

import json
import multiprocessing
import os

import numpy as np
import pytest

from csxa_lightning.data import cache
from csxa_lightning.data.cache import DatasetProblemsError, cached_inputs, preprocess_file
from csxa_lightning.data.csxa import load_index
from csxa_lightning.data.preprocess import Preprocessor
from csxa_lightning.data.transforms import EnhancedColor, KeypointCrop


@pytest.fixture
def wide_enhanced():
    return Preprocessor(KeypointCrop(50, 100, "wide"), EnhancedColor("both"), image_size=32)


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
    assert message.startswith("3 file(s) of the dataset cannot be used")
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
