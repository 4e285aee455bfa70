"""datasets-JSON/, CSXA's LabelMe annotation files: the 23 landmarks of one film and the image
size the file states.

Handles the quirks of the real files: labels in other case or spacing, a landmark saved twice
(``2548130.json``) or as a polygon of 2-4 near-identical vertices, and files saved by an editor
in an encoding other than UTF-8 (named in the message). ``imageData`` is never decoded.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from csxa_lightning.data.format_error import CSXA_SOURCE, CSXAFormatError
from csxa_lightning.data.keypoints import CANONICAL_BY_NORMALIZED, KEYPOINT_LABELS, normalize_label
from csxa_lightning.utils.whole_files import write_text_whole

# A landmark saved twice or as a small polygon (2548130.json) is one point clicked again: its
# copies lie within a few pixels of each other. Farther apart, they are two different points.
LANDMARK_SPREAD_TOLERANCE = 20.0

# Encodings a LabelMe file saved by a non-UTF-8 editor is likely in: GB18030 (Chinese
# Windows, where CSXA was annotated), then Windows-1252; Latin-1 decodes any bytes.
GUESSED_ENCODINGS = ("GB18030", "CP1252", "LATIN1")


def read_keypoints(json_path: str | Path) -> dict[str, tuple[float, float]]:
    """The 23 canonical landmarks of one LabelMe file, as {label: (x, y)} in image pixels.

    Handles the quirks of the real files: labels in other case or spacing, a landmark saved
    twice (``2548130.json``) or as a polygon of 2-4 near-identical vertices -- all points given
    for one label are averaged. ``imageData`` is never decoded. Where the file states the image
    size, the landmarks must lie inside it (case.read_case compares them with the film itself).
    """
    annotation = read_annotation(json_path)
    if annotation.size is not None:
        check_inside(annotation.path, annotation.keypoints, *annotation.size)
    return annotation.keypoints


@dataclass(frozen=True)
class Annotation:
    """One LabelMe file: its 23 landmarks and the image size it states (None if it states
    none)."""

    path: Path
    keypoints: dict[str, tuple[float, float]]
    size: tuple[float, float] | None  # (imageWidth, imageHeight)


def read_annotation(json_path: str | Path) -> Annotation:
    """The landmarks (finite, all 23) and the stated image size of one LabelMe file."""
    json_path = Path(json_path)
    doc = _annotation_document(json_path)
    shapes = doc.get("shapes") if isinstance(doc, dict) else None
    if not isinstance(shapes, list):
        raise CSXAFormatError(f"{json_path}: no LabelMe 'shapes' list; is this a CSXA annotation?")
    collected = _landmark_points(json_path, shapes)
    result = {label: _one_point(json_path, label, collected[label]) for label in KEYPOINT_LABELS}
    bad = [label for label, xy in result.items() if not np.all(np.isfinite(xy))]
    if bad:
        raise CSXAFormatError(
            f"{json_path}: landmark(s) {bad} have non-numeric coordinates (NaN or infinite); "
            "re-extract the file from datasets-JSON.zip or remove the case."
        )
    width, height = doc.get("imageWidth"), doc.get("imageHeight")
    stated = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (width, height))
    return Annotation(json_path, result, (width, height) if stated else None)


def check_inside(
    json_path: Path, keypoints: dict[str, tuple[float, float]], width: float, height: float
) -> None:
    """Every landmark on the width x height image, within a pixel of click slack."""
    outside = [
        label
        for label, (x, y) in keypoints.items()
        if not (-1 <= x <= width + 1 and -1 <= y <= height + 1)
    ]
    if outside:
        raise CSXAFormatError(
            f"{json_path}: landmark(s) {outside} lie outside the {width}x{height} image; the "
            "annotation does not belong to this image. Re-extract it or remove the case."
        )


def _annotation_document(json_path: Path) -> object:
    """The file's JSON document, whatever it holds; a file that is not UTF-8 text or not JSON
    is refused, naming the encoding it reads as."""
    raw = _annotation_bytes(json_path)
    try:
        return json.loads(raw)
    except UnicodeDecodeError as err:  # json.loads reads UTF-8/16/32 (BOM or not), no other
        encoding = guess_encoding(raw)
        raise CSXAFormatError(
            f"{json_path}: not UTF-8 text (byte {raw[err.start]:#04x} at offset {err.start}); "
            f"it reads as {encoding}. Convert it to UTF-8 (e.g. iconv -f {encoding} -t UTF-8 "
            f"in.json > out.json), or re-extract it from datasets-JSON.zip."
        ) from err
    except json.JSONDecodeError as err:
        raise CSXAFormatError(
            f"{json_path}: not valid JSON ({err}); re-extract it from datasets-JSON.zip."
        ) from err


def _annotation_bytes(json_path: Path) -> bytes:
    try:
        return json_path.read_bytes()
    except FileNotFoundError as err:
        if json_path.is_symlink():
            raise CSXAFormatError(
                f"{json_path}: symbolic link to {os.readlink(json_path)}, which does not exist; "
                "copy the file itself into the dataset folder, or remove the link and the "
                "case's PNG to exclude it."
            ) from err
        raise CSXAFormatError(f"annotation file not found: {json_path}. {CSXA_SOURCE}") from err


def _landmark_points(json_path: Path, shapes: list) -> dict[str, list[tuple[float, float]]]:
    """{canonical label: every point the shapes give for it}; refused unless all 23 labels
    have points (the message lists the file's labels that are none of the 23)."""
    collected: dict[str, list[tuple[float, float]]] = defaultdict(list)
    unrecognised: list[str] = []
    for number, shape in enumerate(shapes):
        if not isinstance(shape, dict):
            raise CSXAFormatError(
                f"{json_path}: shapes[{number}] is {type(shape).__name__} {shape!r:.60}, not a "
                "LabelMe shape object; re-extract the file from datasets-JSON.zip or remove the "
                "case."
            )
        raw_label = str(shape.get("label", ""))
        label = CANONICAL_BY_NORMALIZED.get(normalize_label(raw_label))
        points = shape.get("points") or []
        if label is None:
            unrecognised.append(raw_label)  # not one of the 23 vertebral landmarks
            continue
        if points:
            collected[label].extend(_points(json_path, number, label, points))

    missing = [label for label in KEYPOINT_LABELS if label not in collected]
    if missing:
        # repr() shows invisible characters escaped ('C7\u200b top left'): a label that looks
        # right but is not is then visible in the message.
        found = (
            f"Labels in the file that are none of the 23: {sorted(set(unrecognised))}."
            if unrecognised
            else "The file holds no other labels."
        )
        raise CSXAFormatError(
            f"{json_path}: missing landmark(s) {missing}; every CSXA annotation has the 23 "
            f"vertebral keypoints. {found} Re-extract the file from datasets-JSON.zip, correct "
            "the labels, or remove the case's PNG and JSON to exclude it."
        )
    return collected


def _points(json_path: Path, number: int, label: str, points) -> list[tuple[float, float]]:
    """The (x, y) pairs of one shape; anything else is a clear error naming the shape."""
    if isinstance(points, list):
        pairs = []
        for point in points:
            if not (isinstance(point, list | tuple) and len(point) == 2):
                break
            try:
                pairs.append((float(point[0]), float(point[1])))
            except (TypeError, ValueError):
                break
        else:
            return pairs
    raise CSXAFormatError(
        f"{json_path}: shapes[{number}] ({label}) has points {points!r:.80}; LabelMe points are "
        "a list of [x, y] number pairs. Re-extract the file from datasets-JSON.zip or remove "
        "the case."
    )


def _one_point(
    json_path: Path, label: str, given: list[tuple[float, float]]
) -> tuple[float, float]:
    """The one point of a landmark given once or more: its copies averaged, refused when they
    lie too far apart to be one point clicked again."""
    points = np.asarray(given, dtype=np.float64)
    spread = landmark_spread(points)
    if spread > LANDMARK_SPREAD_TOLERANCE:
        raise CSXAFormatError(
            f"{json_path}: landmark {label!r} is given {len(points)} times, up to "
            f"{spread:.0f} pixels apart; their average would be neither point and would "
            "move the crop. Keep the right one (LabelMe), or remove the case."
        )
    # The first point plus the mean offset of the others, not the plain mean: a sum of
    # coordinates near the float maximum overflows (and would be refused as "infinite"
    # instead of "outside"), and identical copies must give that very point.
    with np.errstate(invalid="ignore"):  # inf - inf: a NaN, refused below
        x, y = points[0] + ((points - points[0]) / len(points)).sum(axis=0)
    return float(x), float(y)


def landmark_spread(points: np.ndarray) -> float:
    """The largest distance (pixels) between two of a landmark's given points: 0 for one point,
    for identical copies (whatever their size: a mean of huge equal values can round), and for
    coordinates that are not finite (refused as such below)."""
    if len(points) < 2 or not np.all(np.isfinite(points)):
        return 0.0
    with np.errstate(over="ignore", invalid="ignore"):  # 1e308 apart is far apart: inf
        dx = points[:, None, 0] - points[None, :, 0]
        dy = points[:, None, 1] - points[None, :, 1]
        return float(np.nanmax(np.hypot(dx, dy)))


def guess_encoding(raw: bytes) -> str:
    """The likeliest encoding of text that is not UTF-8: GB18030 when what it decodes beyond
    ASCII is Chinese (it decodes much Latin text too, into nonsense), else the first that
    decodes it."""
    for encoding in GUESSED_ENCODINGS:
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        beyond_ascii = [c for c in text if ord(c) > 127]
        if encoding != "GB18030" or all("\u4e00" <= c <= "\u9fff" for c in beyond_ascii):
            return encoding
    return "LATIN1"


def write_annotation(
    json_path: str | Path,
    image_name: str,
    width: int,
    height: int,
    keypoints: dict[str, tuple[float, float]],
) -> Path:
    """A LabelMe file of the 23 landmarks (one "point" shape each) that read_annotation reads
    back unchanged: how predicted landmarks (inference/landmark_model.py) reach the crops that
    read annotated ones. Points are clipped onto the image (a prediction a little past the
    edge is still the film's); no imageData."""
    shapes = [
        {
            "label": label,
            "points": [[min(max(float(x), 0.0), width), min(max(float(y), 0.0), height)]],
            "shape_type": "point",
            "group_id": None,
            "flags": {},
        }
        for label, (x, y) in keypoints.items()
    ]
    doc = {
        "version": "5.0.1",
        "flags": {},
        "shapes": shapes,
        "imagePath": image_name,
        "imageData": None,
        "imageHeight": int(height),
        "imageWidth": int(width),
    }
    path = Path(json_path)
    write_text_whole(path, json.dumps(doc, indent=1))
    return path
