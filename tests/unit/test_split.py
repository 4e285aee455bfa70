"""The split: plain random (the paper's) or stratified, seeded, and the counts each gives on
CSXA's class balance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from csxa_lightning.data.split import make_split


def csxa_like_index(seed: int = 0) -> pd.DataFrame:
    """CSXA's size and balance: case ids 1..4963, 181 healthy (label 0) scattered among them."""
    labels = np.array([0] * 181 + [1] * 4782)
    np.random.default_rng(seed).shuffle(labels)
    ids = np.arange(1, 4964)
    return pd.DataFrame({"case_id": ids, "stem": [f"{i:04d}130" for i in ids], "label": labels})


def class_counts(split: pd.DataFrame, part: str = "test") -> tuple[int, int]:
    """(healthy, diseased) films in one part of the split."""
    rows = split[split["split"] == part]
    return int((rows["label"] == 0).sum()), int((rows["label"] == 1).sum())


def test_paper_split_is_a_plain_random_75_25_split_whose_healthy_count_varies_with_the_seed():
    index = csxa_like_index()
    counts = {
        seed: class_counts(make_split(index, seed=seed, val_fraction=0.0, stratify=False))
        for seed in (42, 0, 1, 2, 3)
    }
    print("protocol=paper test (healthy, diseased) by data.split_seed:", counts)
    # Always the paper's sizes, 1241 tested of 4963 ...
    assert {h + d for h, d in counts.values()} == {1241}
    # ... but not a fixed share of the 181 healthy films: the paper's test set held 47, a
    # stratified split always 45.
    assert counts == {42: (42, 1199), 0: (45, 1196), 1: (50, 1191), 2: (39, 1202), 3: (46, 1195)}
    split = make_split(index, seed=42, val_fraction=0.0, stratify=False)
    assert class_counts(split, "train") == (181 - 42, 3722 - 139)
    assert set(split["split"]) == {"train", "test"}


def test_stratified_split_always_tests_45_healthy_films():
    index = csxa_like_index()
    for seed in (42, 0, 1, 2, 3):
        split = make_split(index, seed=seed, test_fraction=0.25, val_fraction=0.0, stratify=True)
        # The paper's sizes: 3722 train, 1241 test. Its 47 healthy test images are not a
        # proportional share (181 / 4 = 45.25); exact stratification gives 45.
        assert split.groupby(["split", "label"]).size().to_dict() == {
            ("train", 0): 136,
            ("train", 1): 3586,
            ("test", 0): 45,
            ("test", 1): 1196,
        }


@pytest.mark.parametrize("stratify", [True, False])
def test_validation_is_carved_out_of_train_only(stratify):
    no_val = make_split(csxa_like_index(), seed=42, val_fraction=0.0, stratify=stratify)
    with_val = make_split(csxa_like_index(), seed=42, val_fraction=0.1, stratify=stratify)
    test_ids = set(no_val.loc[no_val["split"] == "test", "case_id"])
    assert set(with_val.loc[with_val["split"] == "test", "case_id"]) == test_ids
    val = with_val[with_val["split"] == "val"]
    assert len(val) == 373  # 10 % of 3722
    if stratify:
        assert (val["label"] == 0).sum() == 14  # of 136 healthy training films
    train_ids = set(no_val.loc[no_val["split"] == "train", "case_id"])
    assert set(val["case_id"]) <= train_ids


def test_the_validation_slice_follows_stratify():
    healthy_val = {
        stratify: [
            class_counts(
                make_split(csxa_like_index(), seed=s, val_fraction=0.1, stratify=stratify), "val"
            )[0]
            for s in range(5)
        ]
        for stratify in (True, False)
    }
    assert set(healthy_val[True]) == {14}  # always 10 % of the 136 healthy training films
    assert len(set(healthy_val[False])) > 1  # a plain random slice: varies with the seed


@pytest.mark.parametrize("stratify", [True, False])
def test_split_ignores_row_order_and_depends_on_seed(stratify):
    index = csxa_like_index()
    a = make_split(index, seed=1, stratify=stratify)
    b = make_split(index.sample(frac=1.0, random_state=5), seed=1, stratify=stratify)
    c = make_split(index, seed=2, stratify=stratify)
    assert a.equals(b)
    assert not a["split"].equals(c["split"])


@pytest.mark.parametrize("stratify", [True, False])
def test_split_is_a_function_of_the_index_and_the_seed_only(stratify):
    """Every variant (crop, color, model) indexes the same films: whatever else its index
    carries (file paths, keypoints) and in whatever order, the split is the same."""
    index = csxa_like_index()
    variant_index = index.assign(
        png_path=[f"/elsewhere/{s}.png" for s in index["stem"]], crop="wide", color="enhanced"
    ).iloc[::-1]
    assert make_split(index, seed=42, stratify=stratify, val_fraction=0.0).equals(
        make_split(variant_index, seed=42, stratify=stratify, val_fraction=0.0)
    )


@pytest.mark.parametrize("stratify", [True, False])
def test_k_fold_test_sets_partition_the_data_stratified_under_both_protocols(stratify):
    index = csxa_like_index()
    tests = [
        make_split(index, seed=42, val_fraction=0.1, folds=5, fold=f, stratify=stratify)
        for f in range(5)
    ]
    test_ids = [set(t.loc[t["split"] == "test", "case_id"]) for t in tests]
    assert sum(len(s) for s in test_ids) == len(index)
    assert set().union(*test_ids) == set(index["case_id"])
    for t in tests:
        healthy_test = ((t["split"] == "test") & (t["label"] == 0)).sum()
        assert healthy_test in (36, 37)  # 181 / 5, whatever data.stratify says
        assert {"train", "val", "test"} == set(t["split"])
    again = make_split(
        index.sample(frac=1.0, random_state=1), seed=42, folds=5, fold=2, stratify=stratify
    )
    assert again.equals(tests[2])  # same folds whatever the row order (and for every variant)
    plain = make_split(index, seed=42, val_fraction=0.1, folds=5, fold=2, stratify=False)
    strat = make_split(index, seed=42, val_fraction=0.1, folds=5, fold=2, stratify=True)
    assert plain["split"].eq("test").equals(strat["split"].eq("test"))  # same test fold


def tiny_index(healthy: int, diseased: int) -> pd.DataFrame:
    labels = np.array([0] * healthy + [1] * diseased)
    ids = np.arange(1, len(labels) + 1)
    return pd.DataFrame({"case_id": ids, "stem": [f"{i:07d}" for i in ids], "label": labels})


def test_a_split_that_leaves_a_class_without_test_images_is_refused():
    # Stratification rounds 2 healthy x 10 % of the images down to no healthy test image:
    # sensitivity and AUROC on that test set would be undefined.
    with pytest.raises(ValueError) as err:
        make_split(tiny_index(2, 38), seed=0, test_fraction=0.1, val_fraction=0.0, stratify=True)
    assert str(err.value) == (
        "the split of 40 images with class counts {0: 2, 1: 38} (data.test_fraction=0.1, "
        "data.val_fraction=0.0) is unusable: class 0 (healthy) has no test image. Use more "
        "images of that class, a larger data.test_fraction, or data.val_fraction=0."
    )


def test_a_plain_random_split_that_loses_a_class_says_how_to_get_one_that_does_not():
    # 3 healthy films among 40, 10 tested: a plain random draw often tests none of them.
    index = tiny_index(3, 37)
    failed, usable = {}, []
    for seed in range(20):
        try:
            make_split(index, seed=seed, test_fraction=0.25, val_fraction=0.0, stratify=False)
            usable.append(seed)
        except ValueError as err:
            failed[seed] = str(err)
    assert failed and usable  # it depends on the seed
    assert next(iter(failed.values())) == (
        "the split of 40 images with class counts {0: 3, 1: 37} (data.test_fraction=0.25, "
        "data.val_fraction=0.0) is unusable: class 0 (healthy) has no test image. The split is "
        "a plain random one (data.stratify=false, the paper's), which can leave a rare class "
        "out of a part. Use another data.split_seed, more images of that class, or a "
        "stratified split (protocol=strict, or data.stratify=true)."
    )
    # The fixes it names work: another seed, or a stratified split of the same films.
    assert class_counts(make_split(index, seed=usable[0], val_fraction=0.0, stratify=False))[0]
    for seed in failed:
        strat = make_split(index, seed=seed, test_fraction=0.25, val_fraction=0.0, stratify=True)
        assert class_counts(strat) == (1, 9)


def test_stratify_must_be_a_boolean():
    with pytest.raises(ValueError, match=r"data.stratify='yes': must be true .* or false"):
        make_split(tiny_index(10, 30), seed=0, stratify="yes")


def test_a_validation_slice_without_a_class_is_refused_and_names_it():
    with pytest.raises(ValueError, match=r"class 0 \(healthy\) has no val image\. Use more"):
        make_split(tiny_index(3, 38), seed=0, test_fraction=0.25, val_fraction=0.1, stratify=True)
    # The same images without validation split fine, with each class in train and test.
    split = make_split(tiny_index(3, 38), seed=0, test_fraction=0.25, val_fraction=0.0)
    assert split.groupby(["split", "label"]).size().to_dict() == {
        ("test", 0): 1,
        ("test", 1): 10,
        ("train", 0): 2,
        ("train", 1): 28,
    }
