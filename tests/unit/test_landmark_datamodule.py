"""LandmarkDataModule on the session's phantom set (64 px inputs): the classifier's split, the
batch contract, heatmaps and points that agree with the images and with the annotated films,
the checkpoint state, and the settings and files it refuses or leaves out."""

from __future__ import annotations

import io
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from csxa_lightning.data.annotations import read_keypoints
from csxa_lightning.data.augment import PaperAugmentation
from csxa_lightning.data.cache import DatasetProblemsError
from csxa_lightning.data.csxa import load_index
from csxa_lightning.data.heatmaps import input_to_heatmap
from csxa_lightning.data.keypoints import KEYPOINT_LABELS
from csxa_lightning.data.landmark_augment import LandmarkAugmentation
from csxa_lightning.data.landmark_datamodule import (
    LABELME_OFFSET,
    LandmarkDataModule,
    LandmarkDataset,
    rank_and_world_size,
)
from csxa_lightning.data.sampler import sample_seed
from csxa_lightning.data.split import SPLITS, make_split
from csxa_lightning.utils.errors import ConfigValueError, UserError
from tests.helpers import PHANTOM_N

SIZE, STRIDE, SIGMA = 64, 4, 2.0
SPLIT = {"split_seed": 3, "test_fraction": 0.25, "val_fraction": 0.15, "stratify": True}


def landmark_datamodule(root, **overrides) -> LandmarkDataModule:
    settings = {"root": str(root), "image_size": SIZE, "stride": STRIDE, "sigma": SIGMA,
                "preprocess_workers": 1, "batch_size": 8, "seed": 5, **SPLIT,
                "augment": LandmarkAugmentation()}  # fmt: skip
    return LandmarkDataModule(**{**settings, **overrides})


@pytest.fixture(scope="module")
def prepared(phantom) -> LandmarkDataModule:
    datamodule = landmark_datamodule(phantom.root)
    datamodule.setup("fit")
    return datamodule


def every_batch(loader) -> list[dict]:
    return list(loader)


def test_the_split_is_the_classifiers_for_the_same_settings(prepared, phantom):
    # As CSXADataModule.setup calls it, on the same index.
    expected = make_split(load_index(phantom.root), SPLIT["split_seed"], SPLIT["test_fraction"],
                          SPLIT["val_fraction"], folds=0, fold=0, stratify=True)  # fmt: skip
    pd.testing.assert_frame_equal(prepared.split_frame, expected)
    for split in SPLITS:
        stems = expected.loc[expected["split"] == split, "stem"].tolist()
        assert prepared.frames[split]["stem"].tolist() == stems
        assert len(prepared.images[split]) == len(prepared.letterboxes[split]) == len(stems)
    assert sum(len(prepared.frames[s]) for s in SPLITS) == PHANTOM_N
    assert prepared.has_validation and prepared.skipped.empty
    assert prepared.dataset_root() == phantom.root


def test_a_train_batch_keeps_the_contract(prepared):
    batch = next(iter(prepared.train_dataloader()))
    side, k = SIZE // STRIDE, len(KEYPOINT_LABELS)
    assert set(batch) == {"image", "heatmaps", "visible", "points", "index"}
    b = len(batch["index"])
    assert b == 8
    assert (batch["image"].dtype, tuple(batch["image"].shape)) == (torch.uint8, (b, 1, SIZE, SIZE))
    assert batch["heatmaps"].dtype == torch.float32
    assert tuple(batch["heatmaps"].shape) == (b, k, side, side)
    assert (batch["visible"].dtype, tuple(batch["visible"].shape)) == (torch.bool, (b, k))
    assert (batch["points"].dtype, tuple(batch["points"].shape)) == (torch.float32, (b, k, 2))
    assert batch["index"].dtype == torch.int64
    assert batch["index"].max() < len(prepared.frames["train"])
    assert prepared.landmark_names == KEYPOINT_LABELS and prepared.num_landmarks == 23
    assert prepared.heatmap_size == side
    # The order is a function of (seed, epoch): the same again, another the next epoch.
    loader = prepared.train_dataloader()
    first = [batch["index"].tolist() for batch in loader]
    assert [batch["index"].tolist() for batch in loader] == first
    assert sorted(sum(first, [])) == list(range(len(prepared.frames["train"])))
    loader.batch_sampler.set_epoch(1)
    assert [batch["index"].tolist() for batch in loader] != first


@pytest.mark.parametrize("split", SPLITS)
def test_each_heatmap_peaks_at_its_visible_point(prepared, split):
    loader = getattr(prepared, f"{split}_dataloader")()
    for batch in every_batch(loader):
        maps, visible = batch["heatmaps"].numpy(), batch["visible"].numpy()
        assert visible.any()
        at = input_to_heatmap(batch["points"].numpy(), STRIDE)
        rows, cols = np.unravel_index(maps.reshape(*maps.shape[:2], -1).argmax(-1), maps.shape[2:])
        # An uncut Gaussian peaks at the pixel nearest its centre: within half a pixel.
        assert np.all(np.abs(cols - at[..., 0])[visible] <= 0.5 + 1e-6)
        assert np.all(np.abs(rows - at[..., 1])[visible] <= 0.5 + 1e-6)
        assert np.all(maps[~visible] == 0)


@pytest.mark.parametrize("split", ["val", "test"])
def test_val_and_test_points_map_back_to_the_annotated_film(prepared, split):
    batches = every_batch(getattr(prepared, f"{split}_dataloader")())
    order = torch.cat([batch["index"] for batch in batches]).tolist()
    assert order == list(range(len(prepared.frames[split])))  # fixed order, every film once
    for batch in batches:
        for row, points in zip(batch["index"].tolist(), batch["points"].numpy(), strict=True):
            box = prepared.letterboxes[split][row]
            film = box.to_film(points)
            np.testing.assert_allclose(film, prepared.film_points[split][row], atol=1e-4)
        rows = batch["index"].numpy()
        assert np.array_equal(batch["image"][:, 0].numpy(), prepared.images[split][rows])
    # film_points are the LabelMe points in pixel-centre coordinates (data/letterbox.py)
    first = prepared.frames[split].iloc[0]
    labelme = read_keypoints(first["json_path"])
    expected = np.array([labelme[label] for label in KEYPOINT_LABELS]) - 0.5
    assert LABELME_OFFSET == 0.5
    np.testing.assert_allclose(prepared.film_points[split][0], expected)
    assert (prepared.letterboxes[split][0].width, prepared.letterboxes[split][0].height) == (
        first["width"], first["height"])  # fmt: skip


def test_training_items_are_one_augmentation_of_image_and_points(prepared):
    dataset = prepared.datasets["train"]
    item = dataset[(2, 4)]
    again = dataset[(2, 4)]
    assert torch.equal(item["image"], again["image"]) and torch.equal(
        item["points"], again["points"]
    )
    augment = LandmarkAugmentation()
    augment.reseed(sample_seed(prepared.seed, 2, 4))
    image, points = augment(prepared.images["train"][4], prepared.input_points["train"][4])
    assert np.array_equal(item["image"][0].numpy(), image)
    np.testing.assert_allclose(item["points"].numpy(), points, rtol=0, atol=1e-5)
    assert not np.allclose(points, prepared.input_points["train"][4])  # it did move


def test_augmented_points_follow_the_pixels():
    """A blob drawn at landmark 0: after augmentation its centroid is where the point went."""
    rng = np.random.default_rng(0)
    n, yy, xx = 12, *np.mgrid[0:SIZE, 0:SIZE]
    points = np.full((n, 23, 2), np.nan)
    points[:, 0] = rng.uniform(22, 42, size=(n, 2))
    images = np.stack([
        np.round(255 * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 1.5**2))).astype(np.uint8)
        for x, y in points[:, 0]
    ])  # fmt: skip
    augment = LandmarkAugmentation(brightness=0.0, contrast=0.0)
    dataset = LandmarkDataset(images, points, STRIDE, SIGMA, augment, seed=1)
    for i in range(n):
        item = dataset[(0, i)]
        image = item["image"][0].numpy().astype(np.float64)
        centroid = np.array([(image * xx).sum(), (image * yy).sum()]) / image.sum()
        np.testing.assert_allclose(centroid, item["points"][0].numpy(), atol=0.25)
        assert not item["visible"][1:].any() and item["points"][1:].isnan().all()


def test_a_missing_or_outside_landmark_is_invisible(prepared):
    images, points = prepared.images["val"].copy(), prepared.input_points["val"].copy()
    points[0, 5] = np.nan  # not annotated
    points[0, 6] = (-10.0, 30.0)  # left of the image
    for augment in (None, LandmarkAugmentation()):
        item = LandmarkDataset(images, points, STRIDE, SIGMA, augment)[(0, 0)]
        assert not item["visible"][5] and item["points"][5].isnan().all()
        assert not item["heatmaps"][5].any()
        assert item["visible"][[0, 1, 2, 3, 4]].all()
    plain = LandmarkDataset(images, points, STRIDE, SIGMA)[0]
    assert not plain["visible"][6] and not plain["heatmaps"][6].any()
    assert plain["points"][6].tolist() == [-10.0, 30.0]  # kept, only not a target


def test_pixel_size_and_film_size_are_carried_into_the_frames(prepared, phantom):
    sheet = load_index(phantom.root).set_index("stem")["pixel_mm"]
    for split in SPLITS:
        frame = prepared.frames[split]
        assert {"case_id", "stem", "label", "png_path", "json_path", "width", "height",
                "pixel_mm"} <= set(frame.columns)  # fmt: skip
        assert frame["pixel_mm"].tolist() == sheet.loc[frame["stem"]].tolist()
        assert frame["pixel_mm"].between(0.08, 0.16).all()
        boxes = prepared.letterboxes[split]
        assert frame["width"].tolist() == [box.width for box in boxes]
        assert prepared.film_points[split].shape == (len(frame), 23, 2)


def test_the_state_is_plain_data_and_round_trips(prepared, phantom):
    buffer = io.BytesIO()
    torch.save(prepared.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    assert state["landmark_names"] == list(KEYPOINT_LABELS)
    assert {k: state[k] for k in ("image_size", "stride", "sigma")} == {
        "image_size": SIZE, "stride": STRIDE, "sigma": SIGMA}  # fmt: skip
    fresh = landmark_datamodule(phantom.root)
    fresh.load_state_dict(state)
    with pytest.raises(UserError, match="data.landmark_names"):
        fresh.load_state_dict({**state, "landmark_names": state["landmark_names"][::-1]})
    with pytest.raises(UserError, match=r"data.image_size=128.*configured with 64"):
        fresh.load_state_dict({**state, "image_size": 128})


@pytest.mark.parametrize(
    ("setting", "says"),
    [
        ({"preprocess": object()}, "crop, color and balance do not apply to a landmark model"),
        ({"balance": object()}, "crop, color and balance do not apply to a landmark model"),
        ({"augment_on": "device"}, "no device augmentation"),
        ({"augment": PaperAugmentation()}, "moves the pixels but not the landmarks"),
        ({"image_size": 66}, "not a multiple of data.stride=4"),
        ({"sigma": 0}, "data.sigma=0"),
        ({"on_bad_file": "ignore"}, "data.on_bad_file='ignore'"),
    ],
)
def test_settings_it_cannot_use_are_refused(tmp_path, setting, says):
    with pytest.raises(ConfigValueError, match=says):
        landmark_datamodule(tmp_path, **setting)


def test_a_corrupt_film_stops_the_run_or_is_skipped(phantom_copy):
    index = load_index(phantom_copy)
    stem, png = index["stem"].iloc[6], index["png_path"].iloc[6]
    with open(png, "r+b") as f:
        f.truncate(200)  # a PNG cut off in its data
    with pytest.raises(DatasetProblemsError, match=stem):
        landmark_datamodule(phantom_copy).setup("fit")
    datamodule = landmark_datamodule(phantom_copy, on_bad_file="skip")
    datamodule.setup("fit")
    assert datamodule.skipped.columns.tolist() == ["stem", "problem"]
    assert datamodule.skipped["stem"].tolist() == [stem]
    assert stem in datamodule.skipped["problem"].iloc[0]
    assert stem not in set(datamodule.split_frame["stem"])
    assert sum(len(datamodule.frames[s]) for s in SPLITS) == PHANTOM_N - 1


def test_no_validation_slice_and_sharding_under_ddp(phantom):
    datamodule = landmark_datamodule(phantom.root, val_fraction=0, augment=None)
    datamodule.setup("fit")
    assert not datamodule.has_validation and datamodule.val_dataloader() == []
    ddp = SimpleNamespace(world_size=2, global_rank=1)
    assert rank_and_world_size(ddp, use_distributed_sampler=False) == (1, 2)
    with pytest.raises(ConfigValueError, match="use_distributed_sampler=true"):
        rank_and_world_size(ddp, use_distributed_sampler=True)
