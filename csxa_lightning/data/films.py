"""The one film reader every command uses (train's cache, predict, evaluate, preview): a PNG
(images.py) or a DICOM file (dicom.py), as an 8-bit film with the same checks. A DICOM film
enters the same preprocessing as a PNG: it comes out as the 8-bit grey image a radiologist's
display shows, with its pixel spacing kept (film_pixel_spacing)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom

from csxa_lightning.data.dicom import (
    DicomReadError,
    is_dicom,
    pixel_spacing_mm,
    read_dicom_film,
)
from csxa_lightning.data.images import MAX_PIXELS, check_not_blank, read_png_film
from csxa_lightning.data.listing import FILM_SUFFIXES


def is_film_file(path: Path) -> bool:
    return path.suffix.lower() in FILM_SUFFIXES


def read_film(
    path: str | Path,
    bit_depth: str | int = "auto",
    max_pixels: int = MAX_PIXELS,
    dicom_window: object = "first",
) -> tuple[np.ndarray, int]:
    """The film with 8 bits per channel, and the depth its values were mapped from. A PNG by
    images.read_png_film (bit_depth: how a 16-bit PNG is mapped); a DICOM file (by suffix, or
    DICM at byte 128 of a file without a PNG suffix) by dicom.read_dicom_film (dicom_window:
    the dicom.window setting), its depth its Bits Stored. Blank films are refused for both."""
    if Path(path).suffix.lower() != ".png" and is_dicom(path):
        film = read_dicom_film(path, dicom_window, max_pixels)
        return check_not_blank(path, film.pixels), film.bits_stored
    return read_png_film(path, bit_depth, max_pixels)


def film_pixel_spacing(path: str | Path) -> tuple[float, float] | None:
    """(row, column) spacing in mm of a DICOM film (Pixel Spacing, else Imager Pixel Spacing),
    read from its header alone; None for a PNG (CSXA gives its spacing in the sheet) or a
    DICOM file without one."""
    if Path(path).suffix.lower() == ".png" or not is_dicom(path):
        return None
    try:
        header = pydicom.dcmread(path, stop_before_pixels=True)
    except (OSError, pydicom.errors.InvalidDicomError) as err:
        raise DicomReadError(f"{path}: not a readable DICOM file ({err})") from err
    return pixel_spacing_mm(header)
