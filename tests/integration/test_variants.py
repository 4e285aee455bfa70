"""The paper's variants through the real config: one split for all, enhanced runs scored once per
film, normalization kept with the model, and the preview a user looks at first."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from csxa_lightning.config.location import CONFIG_DIR
from csxa_lightning.data.cache import preprocess_file
from csxa_lightning.data.csxa import load_index
from csxa_lightning.results.preview import preview
from csxa_lightning.training.run import train
from tests.helpers import TINY_TRAINING as TINY
from tests.helpers import compose_config, compose_train_config


def data_config(phantom, tmp_path, extra):
    return compose_train_config(
        [
            "data=csxa",
            f"data.root={phantom.root}",
            f"paths.cache_dir={tmp_path / 'cache'}",
            f"paths.output_dir={tmp_path}",
            "image_size=32",
            *extra,
        ]
    )


def test_split_is_identical_for_every_variant(phantom, tmp_path):
    splits, train_sizes = [], []
    for extra in (
        [],
        ["crop=tight", "color=enhanced", "balance=oversample"],
        ["crop=wide", "balance=none", "model=vgg19", "seed=3"],
    ):
        datamodule = instantiate(data_config(phantom, tmp_path, extra).data)
        datamodule.setup("fit")
        splits.append(datamodule.split_frame)
        train_sizes.append(len(datamodule.datasets["train"]))
    assert splits[0].equals(splits[1]) and splits[0].equals(splits[2])
    n_train = int((splits[0]["split"] == "train").sum())
    n_diseased = int(((splits[0]["split"] == "train") & (splits[0]["label"] == 1)).sum())
    # smote and oversample grow healthy to the diseased count; enhanced/both doubles samples
    assert train_sizes == [2 * n_diseased, 2 * 2 * n_diseased, n_train]


def test_enhanced_both_scores_each_test_film_once(phantom_run_overrides, tmp_path):
    out = tmp_path / "run"
    cfg = compose_train_config([*phantom_run_overrides, "crop=wide", "color=enhanced"])
    metrics = train(cfg)
    split = pd.read_csv(out / "split.csv")
    predictions = pd.read_csv(out / "predictions.csv")
    n_test = int((split["split"] == "test").sum())
    assert len(predictions) == n_test == metrics["n"]
    assert predictions["case_id"].is_unique

    stats = json.loads((out / "normalization.json").read_text())
    assert len(stats["mean"]) == 3 and len(stats["std"]) == 3
    state = torch.load(metrics["checkpoint"], map_location="cpu", weights_only=False)["state_dict"]
    assert torch.allclose(state["input_mean"].flatten(), torch.tensor(stats["mean"]))
    assert torch.allclose(state["input_std"].flatten(), torch.tensor(stats["std"]))


def test_normalization_is_computed_on_the_real_training_images(phantom, tmp_path):
    datamodule = instantiate(data_config(phantom, tmp_path, ["color=none"]).data)
    datamodule.setup("fit")
    train_rows = datamodule.frames["train"]
    pixels = (
        np.stack(
            [
                preprocess_file(datamodule.preprocess, r.png_path, r.json_path)
                for r in train_rows.itertuples()
            ]
        ).astype(np.float64)
        / 255
    )
    (mean,), (std,) = datamodule.normalization
    assert mean == pytest.approx(pixels.mean(), abs=1e-9)
    assert std == pytest.approx(pixels.std(), abs=1e-9)


def test_preview_writes_model_inputs_and_a_contact_sheet(phantom, tmp_path):
    index = load_index(phantom.root)
    first, second = index.iloc[0], index.iloc[5]
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(
            config_name="preview",
            overrides=[
                "data=csxa",
                f"data.root={phantom.root}",
                "crop=wide",
                "color=enhanced",
                f"cases=[{first['stem']},{int(second['case_id'])}]",
                f"out={tmp_path / 'preview'}",
                "image_size=64",
            ],
        )
    written = preview(cfg)
    names = sorted(p.name for p in written)
    assert names == sorted(
        f"{stem}__{suffix}"
        for stem in (first["stem"], second["stem"])
        for suffix in (
            "wide__enhanced-gray_eq_inv.png",
            "wide__enhanced-gray_inv_eq.png",
            "contact_sheet.png",
        )
    )
    saved = cv2.imread(
        str(tmp_path / "preview" / f"{first['stem']}__wide__enhanced-gray_inv_eq.png")
    )
    expected = preprocess_file(
        instantiate(cfg.data).preprocess, first["png_path"], first["json_path"]
    )[1]
    assert (saved == expected[::-1].transpose(1, 2, 0)).all()  # channels stored as R, G, B
    sheet = cv2.imread(str(tmp_path / "preview" / f"{first['stem']}__contact_sheet.png"))
    assert sheet.shape[0] == 64 + 22
    assert sheet.shape[1] > 6 * (64 + 4)  # the film, then six crop x color tiles


def test_on_bad_file_skip_leaves_unusable_files_out_and_lists_them(phantom_copy, tmp_path):
    stems = load_index(phantom_copy)["stem"].tolist()
    (phantom_copy / "datasets-PNG" / f"{stems[2]}.png").write_bytes(b"garbage")
    (phantom_copy / "datasets-JSON" / f"{stems[9]}.json").write_text("{not json")
    out = tmp_path / "run"
    cfg = compose_train_config(
        TINY
        + [
            "data=csxa",
            f"data.root={phantom_copy}",
            f"paths.output_dir={out}",
            f"paths.cache_dir={tmp_path / 'cache'}",
            "crop=tight",
            "data.on_bad_file=skip",
        ]
    )
    metrics = train(cfg)
    skipped = pd.read_csv(out / "skipped_files.csv", dtype={"stem": str})
    assert sorted(skipped["stem"]) == sorted([stems[2], stems[9]])
    assert skipped["problem"].str.contains("corrupt|not valid JSON").all()
    split = pd.read_csv(out / "split.csv", dtype={"stem": str})
    assert len(split) == len(stems) - 2 and not set(split["stem"]) & {stems[2], stems[9]}
    assert metrics["n"] == (split["split"] == "test").sum()


def test_on_bad_file_skip_gives_every_variant_the_same_split(phantom_copy, tmp_path):
    """A broken annotation leaves its case out of crop=none (which never uses the landmarks) as
    out of crop=tight: the same usable cases, so the same split and the same test images, and
    the report's paired comparisons between the variants stay possible."""
    stems = load_index(phantom_copy)["stem"].tolist()
    (phantom_copy / "datasets-JSON" / f"{stems[9]}.json").write_text("{not json")
    datamodules = {}
    for crop in ("none", "tight"):
        cfg = compose_train_config(
            TINY
            + [
                "data=csxa",
                f"data.root={phantom_copy}",
                f"paths.cache_dir={tmp_path / 'cache'}",
                f"paths.output_dir={tmp_path / crop}",
                f"crop={crop}",
                "balance=none",
                "data.on_bad_file=skip",
            ]
        )
        datamodule = instantiate(cfg.data)
        datamodule.setup("fit")  # index, cache, split: no training
        datamodules[crop] = datamodule
    none, tight = datamodules["none"], datamodules["tight"]
    assert none.skipped["stem"].tolist() == tight.skipped["stem"].tolist() == [stems[9]]
    assert none.skipped["problem"].str.contains("not valid JSON").all()
    assert none.split_frame.equals(tight.split_frame)
    assert len(none.split_frame) == len(stems) - 1
    test_ids = none.frames["test"]["case_id"].tolist()
    assert test_ids == tight.frames["test"]["case_id"].tolist() and test_ids


def test_preview_holds_a_film_to_trainings_minimum_size(phantom, tmp_path):
    """A film training would refuse (smaller than data.min_size) is refused by preview too."""
    from csxa_lightning.data.images import UnusableFilmError

    root = tmp_path / "CSXA"
    shutil.copytree(phantom.root, root)
    row = load_index(root).iloc[0]
    cv2.imwrite(row["png_path"], (np.arange(40 * 40).reshape(40, 40) % 256).astype(np.uint8))
    cfg = compose_config(
        "preview",
        ["data=csxa", f"data.root={root}", f"cases=[{row['stem']}]",
         f"out={tmp_path / 'preview'}", "image_size=64"],
    )  # fmt: skip
    with pytest.raises(UnusableFilmError, match="the film is 40x40 pixels, smaller than the 64"):
        preview(cfg)
