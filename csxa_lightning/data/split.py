"""The stratified, seeded train/val/test split: a function of the index, the seed and the fractions
only, so it is the same for every preprocessing variant, balancing choice and model."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold, train_test_split

SPLITS = ("train", "val", "test")


def make_split(
    index: pd.DataFrame,
    seed: int,
    test_fraction: float = 0.25,
    val_fraction: float = 0.1,
    folds: int = 0,
    fold: int = 0,
) -> pd.DataFrame:
    """case_id, stem, label and split ("train" | "val" | "test") for every row of the index.

    The test set is carved first (paper: 75 % / 25 %, 1241 of 4963 images), then the
    validation slice is taken out of train (a fraction of train). val_fraction=0 reproduces
    the paper, which had no validation set.

    With folds=k > 1 (k-fold cross-validation), the test set is fold `fold` of a stratified,
    seeded k-fold partition instead (test_fraction is then 1/k): the same folds for every
    variant, so per-fold results pair up across variants.
    """
    if folds and not (folds >= 2 and 0 <= fold < folds):
        raise ValueError(f"cv.folds={folds}, cv.fold={fold}: need folds >= 2, 0 <= fold < folds")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"data.test_fraction={test_fraction}: must lie strictly between 0 and 1")
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"data.val_fraction={val_fraction}: must lie in [0, 1)")
    # Sort by case id so the split does not depend on the order files were listed in.
    ordered = index.sort_values("case_id", ignore_index=True)
    positions = np.arange(len(ordered))
    labels = ordered["label"].to_numpy()
    try:
        if folds:
            kfold = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
            train_pos, test_pos = list(kfold.split(positions, labels))[fold]
        else:
            train_pos, test_pos = train_test_split(
                positions, test_size=test_fraction, stratify=labels, random_state=seed
            )
        val_pos = np.array([], dtype=int)
        if val_fraction > 0:
            train_pos, val_pos = train_test_split(
                train_pos,
                test_size=val_fraction,
                stratify=labels[train_pos],
                random_state=seed,
            )
    except ValueError as err:
        counts = {
            int(k): int(v) for k, v in zip(*np.unique(labels, return_counts=True), strict=True)
        }
        raise ValueError(
            f"cannot make a stratified split of {len(ordered)} images with class counts "
            f"{counts} (data.test_fraction={test_fraction}, "
            f"data.val_fraction={val_fraction}): {err}. Use more images, or fractions that "
            "leave every class at least one image in each part."
        ) from err
    split = np.empty(len(ordered), dtype=object)
    split[train_pos], split[val_pos], split[test_pos] = "train", "val", "test"
    _check_every_class_in_every_split(labels, split, test_fraction, val_fraction, folds)
    out = ordered[["case_id", "stem", "label"]].copy()
    out["split"] = split
    return out


CLASS_NAMES = {0: "healthy", 1: "diseased"}


def _check_every_class_in_every_split(
    labels: np.ndarray, split: np.ndarray, test_fraction: float, val_fraction: float, folds: int
) -> None:
    """A split without a class cannot be trained on or scored (recall, AUROC undefined);
    stratification alone allows it when a class has only a handful of images."""
    used = ["train", "test"] + (["val"] if val_fraction > 0 else [])
    counts = {int(k): int(v) for k, v in zip(*np.unique(labels, return_counts=True), strict=True)}
    empty = [
        f"class {label} ({CLASS_NAMES.get(label, label)}) has no {name} image"
        for name in used
        for label in counts
        if not np.any((split == name) & (labels == label))
    ]
    if empty:
        settings = f"cv.folds={folds}" if folds else f"data.test_fraction={test_fraction}"
        raise ValueError(
            f"the split of {len(labels)} images with class counts {counts} ({settings}, "
            f"data.val_fraction={val_fraction}) is unusable: {'; '.join(empty)}. Use more images "
            "of that class, a larger data.test_fraction, or data.val_fraction=0."
        )
