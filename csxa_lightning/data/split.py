"""The seeded train/val/test split: a function of the index, the seed, the fractions and
`stratify` only, so it is the same for every preprocessing variant, balancing choice and model.

Two kinds (data.stratify, set by the protocol group, conf/protocol/):
- plain (stratify=False, protocol=paper): a seeded random permutation of the case-id-sorted
  index, as the paper's split was (its test set held 47 healthy films of 1241; a stratified
  split of CSXA always puts 45 there). A rare class's share of each part varies with the seed.
- stratified (stratify=True, protocol=strict): each part keeps the class proportions.

The test set is carved first, then the optional validation slice out of train, by the same
kind of split; data.val_fraction=0 (protocol=paper) means no validation slice, and the last
epoch is tested. k-fold cross-validation (folds >= 2) is always stratified.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold, train_test_split

from csxa_lightning.utils.errors import ConfigValueError, UserError
from csxa_lightning.utils.labels import CLASS_NAMES

SPLITS = ("train", "val", "test")


class SplitError(UserError):
    """The images cannot be split as configured (a class left out of a part)."""


def make_split(
    index: pd.DataFrame,
    seed: int,
    test_fraction: float = 0.25,
    val_fraction: float = 0.1,
    folds: int = 0,
    fold: int = 0,
    stratify: bool = True,
) -> pd.DataFrame:
    """case_id, stem, label and split ("train" | "val" | "test") for every row of the index.

    The test set is carved first (paper: 75 % / 25 %, 1241 of 4963 images), then the
    validation slice is taken out of train (a fraction of train); val_fraction=0: none, as in
    the paper. stratify=False draws both as plain seeded random subsets (the paper's split),
    stratify=True keeps the class proportions in each part.

    With folds=k > 1 (k-fold cross-validation), the test set is fold `fold` of a stratified,
    seeded k-fold partition instead (test_fraction is then 1/k): the same folds for every
    variant, so per-fold results pair up across variants.

    Every class must have at least one image in every part used (train, test, and val when
    val_fraction > 0); a split that leaves one out is refused with what to change.
    """
    stratify = check_split_settings(test_fraction, val_fraction, folds, fold, stratify)
    # Sort by case id so the split does not depend on the order files were listed in.
    ordered = index.sort_values("case_id", ignore_index=True)
    labels = ordered["label"].to_numpy()
    train_pos, val_pos, test_pos = _draw_parts(
        labels, seed, test_fraction, val_fraction, folds, fold, stratify
    )
    split = np.empty(len(ordered), dtype=object)
    split[train_pos], split[val_pos], split[test_pos] = "train", "val", "test"
    _check_every_class_in_every_split(
        labels, split, test_fraction, val_fraction, folds, stratified=stratify or bool(folds)
    )
    out = ordered[["case_id", "stem", "label"]].copy()
    out["split"] = split
    return out


def check_split_settings(
    test_fraction: float, val_fraction: float, folds: int, fold: int, stratify: object
) -> bool:
    """The split's settings refused with what to change; returns stratify as a bool."""
    if folds and not (folds >= 2 and 0 <= fold < folds):
        raise ConfigValueError(
            f"cv.folds={folds}, cv.fold={fold}: need folds >= 2, 0 <= fold < folds"
        )
    if not 0.0 < test_fraction < 1.0:
        raise ConfigValueError(
            f"data.test_fraction={test_fraction}: must lie strictly between 0 and 1"
        )
    if not 0.0 <= val_fraction < 1.0:
        raise ConfigValueError(f"data.val_fraction={val_fraction}: must lie in [0, 1)")
    if not isinstance(stratify, bool | np.bool_):
        raise ConfigValueError(
            f"data.stratify={stratify!r}: must be true (stratified split) or false (plain "
            "random split, the paper's)"
        )
    return bool(stratify)


def _draw_parts(
    labels: np.ndarray,
    seed: int,
    test_fraction: float,
    val_fraction: float,
    folds: int,
    fold: int,
    stratify: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The positions (in case-id order) of the train, val and test parts: the test part first,
    then val out of train; a split that cannot be drawn is refused with the class counts."""
    positions = np.arange(len(labels))
    try:
        if folds:
            kfold = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
            train_pos, test_pos = list(kfold.split(positions, labels))[fold]
        else:
            train_pos, test_pos = train_test_split(
                positions,
                test_size=test_fraction,
                stratify=labels if stratify else None,
                random_state=seed,
            )
        val_pos = np.array([], dtype=int)
        if val_fraction > 0:
            train_pos, val_pos = train_test_split(
                train_pos,
                test_size=val_fraction,
                stratify=labels[train_pos] if stratify else None,
                random_state=seed,
            )
    except ValueError as err:
        counts = {
            int(k): int(v) for k, v in zip(*np.unique(labels, return_counts=True), strict=True)
        }
        kind = "stratified" if stratify or folds else "random"
        raise SplitError(
            f"cannot make a {kind} split of {len(labels)} images with class counts "
            f"{counts} (data.test_fraction={test_fraction}, "
            f"data.val_fraction={val_fraction}): {err}. Use more images, or fractions that "
            "leave every class at least one image in each part."
        ) from err
    return train_pos, val_pos, test_pos


def class_name(label: int) -> str:
    """The name of a class id (CLASS_NAMES), or the id itself when it has none."""
    return CLASS_NAMES[label] if 0 <= label < len(CLASS_NAMES) else str(label)


def _check_every_class_in_every_split(
    labels: np.ndarray,
    split: np.ndarray,
    test_fraction: float,
    val_fraction: float,
    folds: int,
    stratified: bool = True,
) -> None:
    """A split without a class cannot be trained on or scored (recall, AUROC undefined);
    stratification alone allows it when a class has only a handful of images, and a plain
    random split whenever the draw leaves a rare class out of a part."""
    used = ["train", "test"] + (["val"] if val_fraction > 0 else [])
    counts = {int(k): int(v) for k, v in zip(*np.unique(labels, return_counts=True), strict=True)}
    empty = [
        f"class {label} ({class_name(label)}) has no {name} image"
        for name in used
        for label in counts
        if not np.any((split == name) & (labels == label))
    ]
    if not empty:
        return
    settings = f"cv.folds={folds}" if folds else f"data.test_fraction={test_fraction}"
    problem = (
        f"the split of {len(labels)} images with class counts {counts} ({settings}, "
        f"data.val_fraction={val_fraction}) is unusable: {'; '.join(empty)}."
    )
    if stratified:
        raise SplitError(
            f"{problem} Use more images of that class, a larger data.test_fraction, or "
            "data.val_fraction=0."
        )
    raise SplitError(
        f"{problem} The split is a plain random one (data.stratify=false, the paper's), which "
        "can leave a rare class out of a part. Use another data.split_seed, more images of "
        "that class, or a stratified split (protocol=strict, or data.stratify=true)."
    )
