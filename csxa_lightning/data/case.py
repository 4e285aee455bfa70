"""One CSXA case: its film and its annotation, read and checked together, as every
preprocessing variant needs them."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np

from csxa_lightning.data.annotations import check_inside, read_annotation
from csxa_lightning.data.films import read_film
from csxa_lightning.data.format_error import CSXAFormatError
from csxa_lightning.data.images import MAX_PIXELS, crop_window, keypoint_box

# Fewer pixels a side than this and a film is no radiograph (data.min_size): a 1x1 placeholder
# would be trained on as a black square under crop=none.
MIN_SIZE = 64


class Case(NamedTuple):
    image: np.ndarray  # 8 bits per channel
    keypoints: dict[str, tuple[float, float]]
    depth: int  # the bit depth the film's values were mapped from


def read_case(
    png_path: str | Path,
    json_path: str | Path,
    bit_depth: str | int = "auto",
    min_size: int = MIN_SIZE,
    max_pixels: int = MAX_PIXELS,
    dicom_window: str = "first",
) -> Case:
    """The film (8 bits per channel, see films.read_film), its 23 landmarks and the depth
    the film was mapped from, checked as every preprocessing variant needs them.

    A case is usable for all variants or for none: the film must decode and be at least
    min_size pixels a side, its annotation must hold the 23 landmarks and belong to it (the
    size it states is the film's; where it states none, the landmarks lie on the film), and
    their box must have an area -- also for crop=none, which never looks at the landmarks.
    Were the annotation checked only by the crops that use it, data.on_bad_file=skip would
    drop a case with a broken JSON from some variants of a sweep and not from others, and
    their splits (and test images) would differ. The cache build calls this for every crop (it
    decodes each film once anyway); the index does not, so that building it stays a listing
    of files. Raises ValueError naming the file.
    """
    annotation = read_annotation(json_path)  # the annotation first: as the landmark crops did
    json_path = annotation.path
    image, depth = read_film(png_path, bit_depth, max_pixels, dicom_window)
    height, width = image.shape[:2]
    if min(width, height) < min_size:
        raise CSXAFormatError(
            f"{png_path}: the film is {width}x{height} pixels, smaller than data.min_size="
            f"{min_size} on a side; it is not a usable radiograph (a placeholder or a failed "
            "export). Re-extract it from datasets-PNG.zip, or remove the case's PNG and JSON."
        )
    if annotation.size is not None and tuple(annotation.size) != (width, height):
        stated = "x".join(f"{v:g}" for v in annotation.size)
        raise CSXAFormatError(
            f"{png_path} is {width}x{height} pixels, its annotation {json_path} is for a "
            f"{stated} image (imageWidth x imageHeight); the two files do not belong together "
            "(a resized film, or another case's annotation), and every landmark would land on "
            "the wrong place. Re-extract both files, or remove the case."
        )
    check_inside(json_path, annotation.keypoints, width, height)
    box = keypoint_box(annotation.keypoints)
    if box[2] - box[0] < 1 or box[3] - box[1] < 1:
        raise CSXAFormatError(
            f"{json_path}: the landmarks span a degenerate box {box} (zero width or height), "
            "which the landmark crops cannot cut; check the annotation, or remove the case's "
            "PNG and JSON to exclude it."
        )
    try:  # landmarks all within the click slack beyond an edge leave no pixel to crop
        crop_window(box, 0, 0, width, height)
    except ValueError as err:
        raise CSXAFormatError(
            f"{json_path}: the landmark box {box} lies outside its {width}x{height} image "
            f"{png_path}; the annotation does not belong to this image. Re-extract both files, "
            "or remove the case."
        ) from err
    return Case(image, annotation.keypoints, depth)
