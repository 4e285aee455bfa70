"""The split: stratified, seeded, and the paper's exact counts on CSXA's class balance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from csxa_lightning.data.split import make_split


def csxa_like_index(seed: int = 0) -> pd.DataFrame:
    labels = np.array([0] * 181 + [1] * 4782)
    np.random.default_rng(seed).shuffle(labels)
    ids = np.arange(1, 4964)
    return pd.DataFrame({"case_id": ids, "stem": [f"{i:04d}130" for i in ids], "label": labels})


def test_paper_split_sizes_without_validation():
    split = make_split(csxa_like_index(), seed=42, test_fraction=0.25, val_fraction=0.0)
    counts = split.groupby(["split", "label"]).size().to_dict()
    # The paper's sizes: 3722 train, 1241 test. Its 47 healthy test images are not a
    # proportional share (181 / 4 = 45.25); exact stratification gives 45.
    assert counts == {("train", 0): 136, ("train", 1): 3586, ("test", 0): 45, ("test", 1): 1196}


def test_validation_is_carved_out_of_train_only():
    no_val = make_split(csxa_like_index(), seed=42, val_fraction=0.0)
    with_val = make_split(csxa_like_index(), seed=42, val_fraction=0.1)
    test_ids = set(no_val.loc[no_val["split"] == "test", "case_id"])
    assert set(with_val.loc[with_val["split"] == "test", "case_id"]) == test_ids
    val = with_val[with_val["split"] == "val"]
    assert len(val) == 373 and (val["label"] == 0).sum() == 14  # 10 % of 3722; of 136


def test_split_ignores_row_order_and_depends_on_seed():
    index = csxa_like_index()
    a = make_split(index, seed=1)
    b = make_split(index.sample(frac=1.0, random_state=5), seed=1)
    c = make_split(index, seed=2)
    assert a.equals(b)
    assert not a["split"].equals(c["split"])


def test_k_fold_test_sets_partition_the_data_stratified():
    index = csxa_like_index()
    tests = [make_split(index, seed=42, val_fraction=0.1, folds=5, fold=f) for f in range(5)]
    test_ids = [set(t.loc[t["split"] == "test", "case_id"]) for t in tests]
    assert sum(len(s) for s in test_ids) == len(index)
    assert set().union(*test_ids) == set(index["case_id"])
    for t in tests:
        healthy_test = ((t["split"] == "test") & (t["label"] == 0)).sum()
        assert healthy_test in (36, 37)  # 181 / 5
        assert {"train", "val", "test"} == set(t["split"])
    again = make_split(index.sample(frac=1.0, random_state=1), seed=42, folds=5, fold=2)
    assert again.equals(tests[2])  # same folds whatever the row order (and for every variant)


def tiny_index(healthy: int, diseased: int) -> pd.DataFrame:
    labels = np.array([0] * healthy + [1] * diseased)
    ids = np.arange(1, len(labels) + 1)
    return pd.DataFrame({"case_id": ids, "stem": [f"{i:07d}" for i in ids], "label": labels})


def test_a_split_that_leaves_a_class_without_test_images_is_refused():
    # Stratification rounds 2 healthy x 10 % of the images down to no healthy test image:
    # sensitivity and AUROC on that test set would be undefined.
    with pytest.raises(ValueError) as err:
        make_split(tiny_index(2, 38), seed=0, test_fraction=0.1, val_fraction=0.0)
    assert str(err.value) == (
        "the split of 40 images with class counts {0: 2, 1: 38} (data.test_fraction=0.1, "
        "data.val_fraction=0.0) is unusable: class 0 (healthy) has no test image. Use more "
        "images of that class, a larger data.test_fraction, or data.val_fraction=0."
    )


def test_a_validation_slice_without_a_class_is_refused_and_names_it():
    with pytest.raises(ValueError, match=r"class 0 \(healthy\) has no val image\. Use more"):
        make_split(tiny_index(3, 38), seed=0, test_fraction=0.25, val_fraction=0.1)
    # The same images without validation split fine, with each class in train and test.
    split = make_split(tiny_index(3, 38), seed=0, test_fraction=0.25, val_fraction=0.0)
    assert split.groupby(["split", "label"]).size().to_dict() == {
        ("test", 0): 1,
        ("test", 1): 10,
        ("train", 0): 2,
        ("train", 1): 28,
    }
