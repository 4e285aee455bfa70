"""read_keypoints: the 23 canonical landmarks from LabelMe JSON, every documented quirk."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from csxa_lightning.data.annotations import read_keypoints
from csxa_lightning.data.csxa import load_index
from csxa_lightning.data.format_error import CSXAFormatError
from csxa_lightning.data.keypoints import KEYPOINT_LABELS


def write_labelme(path, shapes, image_data="not base64 at all: must never be decoded"):
    path.write_text(
        json.dumps(
            {
                "shapes": shapes,
                "imagePath": "x.png",
                "imageWidth": 600,
                "imageHeight": 800,
                "imageData": image_data,
            }
        )
    )
    return path


def point(label, x, y, shape_type="point"):
    return {"label": label, "points": [[x, y]], "shape_type": shape_type}


def reference_shapes():
    return [point(label, 100 + 3 * i, 200 + 5 * i) for i, label in enumerate(KEYPOINT_LABELS)]


def test_plain_file_gives_all_23_points(tmp_path):
    kp = read_keypoints(write_labelme(tmp_path / "a.json", reference_shapes()))
    assert list(kp) == list(KEYPOINT_LABELS)
    assert kp["C2 centroid"] == (100.0, 200.0)
    assert kp["C7 bottom right"] == (100.0 + 3 * 22, 200.0 + 5 * 22)


def test_duplicate_landmark_is_averaged(tmp_path):
    shapes = reference_shapes()
    i = KEYPOINT_LABELS.index("C3 top right")
    shapes.append(point("C3 top right", shapes[i]["points"][0][0] + 2, shapes[i]["points"][0][1]))
    kp = read_keypoints(write_labelme(tmp_path / "2548130.json", shapes))
    assert len(shapes) == 24
    assert kp["C3 top right"] == (100 + 3 * i + 1.0, 200 + 5 * i)


def test_a_landmark_saved_twice_far_apart_is_refused_not_averaged(tmp_path):
    """Averaged, two different points would become a third that is neither, and move the
    crop; copies within the tolerance (a re-click, 2548130.json) still average."""
    shapes = reference_shapes()
    i = KEYPOINT_LABELS.index("C3 top right")
    x, y = shapes[i]["points"][0]
    shapes.append(point("C3 top right", x + 80, y))  # 80 px from the first
    with pytest.raises(CSXAFormatError, match=r"far\.json: landmark 'C3 top right' is given 2 "
                       r"times, up to 80 pixels apart;"):  # fmt: skip
        read_keypoints(write_labelme(tmp_path / "far.json", shapes))
    shapes[-1] = point("C3 top right", x + 20, y)  # 20 px: the tolerance itself, kept
    assert read_keypoints(write_labelme(tmp_path / "near.json", shapes))["C3 top right"] == (
        x + 10,
        y,
    )


def test_polygon_vertices_are_averaged(tmp_path):
    shapes = reference_shapes()
    shapes[4] = {
        "label": KEYPOINT_LABELS[4],
        "shape_type": "polygon",
        "points": [[10.0, 20.0], [11.0, 20.5], [12.0, 21.0], [11.0, 20.5]],
    }
    kp = read_keypoints(write_labelme(tmp_path / "p.json", shapes))
    assert kp[KEYPOINT_LABELS[4]] == pytest.approx((11.0, 20.5))


def test_label_case_and_spacing_are_normalized(tmp_path):
    shapes = reference_shapes()
    shapes[5]["label"] = "  c3   BOTTOM left "
    shapes[7]["label"] = "C4\ttop  Left"
    shapes.append(point("soft tissue thing", 1, 1))  # unknown labels are ignored
    kp = read_keypoints(write_labelme(tmp_path / "c.json", shapes))
    assert len(kp) == 23
    assert kp["C3 bottom left"] == (100 + 3 * 5, 200 + 5 * 5)
    assert kp["C4 top left"] == (100 + 3 * 7, 200 + 5 * 7)


def test_missing_landmarks_name_file_and_labels(tmp_path):
    shapes = [s for s in reference_shapes() if s["label"] not in ("C5 top left", "C7 bottom right")]
    path = write_labelme(tmp_path / "0001035.json", shapes)
    with pytest.raises(CSXAFormatError) as err:
        read_keypoints(path)
    message = str(err.value)
    assert "0001035.json" in message
    assert "'C5 top left'" in message and "'C7 bottom right'" in message


def test_corrupt_json_names_the_file(tmp_path):
    path = tmp_path / "0002035.json"
    path.write_text('{"shapes": [')
    with pytest.raises(CSXAFormatError, match="0002035.json.*not valid JSON"):
        read_keypoints(path)


def test_phantom_quirk_files_parse_to_landmarks_inside_the_image(phantom):
    index = load_index(phantom.root).set_index("stem")
    assert set(phantom.quirks) == {"duplicate", "polygon", "label_case"}
    for kind, stems in phantom.quirks.items():
        for stem in stems:
            raw = json.loads((phantom.root / "datasets-JSON" / f"{stem}.json").read_text())
            kp = read_keypoints(index.loc[stem, "json_path"])
            height, width = cv2.imread(index.loc[stem, "png_path"], cv2.IMREAD_UNCHANGED).shape[:2]
            xy = np.array(list(kp.values()))
            assert len(kp) == 23
            assert (xy[:, 0] >= 0).all() and (xy[:, 0] < width).all()
            assert (xy[:, 1] >= 0).all() and (xy[:, 1] < height).all()
            if kind == "duplicate":
                assert len(raw["shapes"]) == 24
            if kind == "polygon":
                assert any(len(s["points"]) >= 2 for s in raw["shapes"])
            if kind == "label_case":
                assert any(s["label"] not in KEYPOINT_LABELS for s in raw["shapes"])


def test_nan_coordinates_are_an_error_naming_the_label(tmp_path):
    shapes = reference_shapes()
    shapes[3]["points"] = [[float("nan"), 5.0]]
    path = tmp_path / "n.json"
    path.write_text(json.dumps({"shapes": shapes, "imageWidth": 600, "imageHeight": 800}))
    with pytest.raises(CSXAFormatError, match=r"n\.json: landmark\(s\) \['C3 top left'\].*NaN"):
        read_keypoints(path)


def test_landmarks_outside_the_image_are_an_error(tmp_path):
    shapes = reference_shapes()
    shapes[22]["points"] = [[650.0, 300.0]]  # the file says the image is 600 wide
    with pytest.raises(CSXAFormatError, match=r"\['C7 bottom right'\] lie outside the 600x800"):
        read_keypoints(write_labelme(tmp_path / "o.json", shapes))


@pytest.mark.parametrize(
    ("points", "shown"),
    [
        ([[5.0]], "[[5.0]]"),  # one number, not a pair
        ([[1.0, 2.0, 3.0]], "[[1.0, 2.0, 3.0]]"),
        ([["left", 2.0]], "[['left', 2.0]]"),
        ("12,40", "'12,40'"),
        ([None], "[None]"),
    ],
)
def test_malformed_points_are_an_error_naming_the_shape(tmp_path, points, shown):
    shapes = reference_shapes()
    shapes[4]["points"] = points
    with pytest.raises(CSXAFormatError) as err:
        read_keypoints(write_labelme(tmp_path / "m.json", shapes))
    message = str(err.value)
    assert message.startswith(f"{tmp_path / 'm.json'}: shapes[4] (C3 top right) has points {shown}")
    assert "a list of [x, y] number pairs" in message


@pytest.mark.parametrize("shape", ["C2 top left", 17, None, ["C2 top left", [1, 2]]])
def test_a_shape_that_is_not_an_object_is_an_error(tmp_path, shape):
    shapes = reference_shapes()
    shapes.insert(2, shape)
    with pytest.raises(CSXAFormatError, match=r"m\.json: shapes\[2\] is \w+ .*not a LabelMe shape"):
        read_keypoints(write_labelme(tmp_path / "m.json", shapes))


def test_coordinates_near_the_float_maximum_are_refused_as_outside_not_infinite(tmp_path):
    shapes = reference_shapes()
    shapes[0]["points"] = [[1.7e308, 5.0], [1.7e308, 5.0]]  # a naive mean overflows to inf
    with pytest.raises(CSXAFormatError, match=r"\['C2 centroid'\] lie outside the 600x800"):
        read_keypoints(write_labelme(tmp_path / "big.json", shapes))
