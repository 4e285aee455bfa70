"""DICOM radiographs read as a radiologist sees them: an 8-bit grey film.

The package's one owner of the DICOM format. read_dicom_film is the only function that reads a
file; the rest is pure. It refuses from the header what cannot be a lateral radiograph (no
pixels, several frames, colour, too many pixels, a transfer syntax nothing here decodes),
decodes the pixels through pydicom's handlers (the pylibjpeg plugins register themselves for
the JPEG syntaxes), then maps them as a display does (DICOM PS3.3 C.11): the modality LUT
(Rescale Slope/Intercept, or a Modality LUT Sequence) turns stored values into output units,
the VOI (a VOI LUT, or a window) chooses the grey levels, and MONOCHROME1 is inverted so that
bone is white, as in MONOCHROME2.

Nothing here reads a patient attribute: names and IDs never reach a message or an output.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.pixels import apply_modality_lut, get_decoder

from csxa_lightning.data.images import MAX_PIXELS, ImageReadError
from csxa_lightning.utils.errors import ConfigValueError

DICOM_SUFFIXES = (".dcm", ".dicom")
# A DICOM file (PS3.10): a 128-byte preamble, then these 4 bytes; PACS exports often have no
# suffix, or a UID for a name.
DICOM_MAGIC, MAGIC_OFFSET = b"DICM", 128
# dicom.window: no VOI (the stored range), the file's first VOI LUT or window, or one given.
WINDOW_CHOICES = ("none", "first", "<center>,<width>")
WINDOW_EXAMPLE = 'dicom.window="2048,4096" (center, width, in the film\'s rescaled units)'
MONOCHROME = ("MONOCHROME1", "MONOCHROME2")
WINDOW_FUNCTIONS = ("LINEAR", "LINEAR_EXACT", "SIGMOID")  # VOI LUT Function, PS3.3 C.11.2.1.3
GREY_MAX = 255.0
# How a refusal ends: the film can be left out (training pairs it with its JSON).
EXCLUDE = "or remove it (and its JSON) to exclude the case"


class DicomReadError(ImageReadError):
    """A DICOM file that cannot be read as a greyscale radiograph; the message names the file,
    then the reason, then after the first "; " what to do."""


@dataclass(frozen=True, eq=False)  # eq: arrays do not compare as one truth value
class DicomFilm:
    """A DICOM radiograph as an 8-bit grey film, and what its header says about it."""

    pixels: np.ndarray  # uint8 (rows, columns); bone white, MONOCHROME2's convention
    bits_stored: int  # the depth of the stored values (Bits Stored), not the container's
    pixel_spacing_mm: tuple[float, float] | None  # (between rows, between columns)
    window: str  # what chose the grey levels, e.g. "window 1: center 2048, width 4096"


def is_dicom(path: str | Path) -> bool:
    """Whether path is a DICOM file: a DICOM suffix (any case), else DICM at byte 128 (the
    file's first 132 bytes are read; a folder or an unreadable file is not DICOM)."""
    path = Path(path)
    if path.suffix.lower() in DICOM_SUFFIXES:
        return True
    try:
        with path.open("rb") as file:
            file.seek(MAGIC_OFFSET)
            return file.read(len(DICOM_MAGIC)) == DICOM_MAGIC
    except OSError:
        return False


def parse_window(setting: object) -> str | tuple[float, float]:
    """dicom.window as "none", "first" or (center, width): the text none, first (any case) or
    "<center>,<width>", or a pair of numbers (dicom.window=[2048,4096] comes as a list).
    ConfigValueError for anything else, a width not above 0 included."""
    if isinstance(setting, str):
        text = setting.strip().lower()
        if text in WINDOW_CHOICES[:2]:
            return text
        parts: Sequence[object] = text.split(",")
    else:
        parts = setting if isinstance(setting, Sequence) else ()
    try:
        center, width = (float(part) for part in parts)
    except (TypeError, ValueError):  # not numbers, or not two of them
        center = width = math.nan
    if not (math.isfinite(center) and math.isfinite(width) and width > 0):
        raise ConfigValueError(
            f'dicom.window={setting!r}: choose none, first or "<center>,<width>" with a '
            f"width above 0, e.g. {WINDOW_EXAMPLE}"
        )
    return center, width


def read_dicom_film(
    path: str | Path, window: object = "first", max_pixels: int = MAX_PIXELS
) -> DicomFilm:
    """The film at path as displayed (see the module's docstring), 8-bit grey.

    window: a dicom.window setting (see parse_window). "first": the file's first VOI LUT, else
    its first window (with its VOI LUT Function), else as "none". (center, width): that window
    (LINEAR), whatever the file holds. "none": the stored range (0..2^BitsStored - 1, signed
    when Pixel Representation is 1) through the modality LUT, onto 0..255: a 12-bit film in a
    16-bit container is scaled by its 12 bits, not by 65535. Grey levels are rounded to the
    nearest (np.rint: halves to even). DicomReadError for what cannot be read or used."""
    choice = parse_window(window)
    dataset = read_dataset(path)
    check_header(path, dataset, max_pixels)
    stored = decode_pixels(path, dataset)
    grey, description = display_grey(path, stored, dataset, choice)
    pixels = np.clip(np.rint(grey), 0, GREY_MAX).astype(np.uint8)
    if dataset.PhotometricInterpretation == "MONOCHROME1":
        # Low values are white: inverted against the displayed range, after rounding, so that a
        # MONOCHROME1 film is exactly 255 minus the same film stored as MONOCHROME2.
        pixels = 255 - pixels
    return DicomFilm(pixels, int(dataset.BitsStored), pixel_spacing_mm(dataset), description)


def pixel_spacing_mm(dataset: Dataset) -> tuple[float, float] | None:
    """(row spacing, column spacing) in mm: Pixel Spacing (calibrated to the patient), else
    Imager Pixel Spacing (at the detector); the first of them that holds two positive finite
    numbers, else None."""
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        try:
            values = [float(value) for value in dataset.get(keyword) or ()]
        except (TypeError, ValueError):  # one number, or text that is not one
            continue
        if len(values) == 2 and all(math.isfinite(v) and v > 0 for v in values):
            return values[0], values[1]
    return None


def read_dataset(path: str | Path) -> Dataset:
    """The file's dataset (force=False: a file without DICM is refused, not guessed at)."""
    try:
        return pydicom.dcmread(path)
    except FileNotFoundError:
        reason = "missing"
    except IsADirectoryError:
        reason = "a folder, not a file"
    except InvalidDicomError:
        reason = "no DICM after the 128-byte preamble"
    except OSError as err:
        reason = err.strerror or type(err).__name__
    except (EOFError, ValueError, struct.error, KeyError, IndexError, TypeError) as err:
        reason = short_reason(err)  # a header cut short or garbled
    raise DicomReadError(
        f"{path}: not a readable DICOM file ({reason}); export it again as a DICOM file "
        f"(PS3.10: preamble, DICM, file meta), {EXCLUDE}"
    )


def check_header(path: str | Path, dataset: Dataset, max_pixels: int) -> None:
    """DicomReadError for a file that is no single greyscale film, or too large to decode
    safely, or in a transfer syntax no installed plugin decodes; from the header alone."""
    if "PixelData" not in dataset:
        kind = dataset.get("SOPClassUID") or dataset.file_meta.get("MediaStorageSOPClassUID")
        what = f"a {kind.name}" if kind else "no image"
        raise DicomReadError(
            f"{path}: no pixel data ({what}, or a file cut short); give the radiograph's own "
            f"DICOM file, {EXCLUDE}"
        )
    frames = int(dataset.get("NumberOfFrames") or 1)
    if frames > 1:
        raise DicomReadError(
            f"{path}: {frames} frames (a multi-frame image); give a single-frame film, or "
            f"export the frame you want, {EXCLUDE}"
        )
    photometric = dataset.get("PhotometricInterpretation")
    if photometric not in MONOCHROME:
        raise DicomReadError(
            f"{path}: Photometric Interpretation {photometric} is not greyscale (MONOCHROME1 "
            f"or MONOCHROME2); a lateral radiograph is greyscale: export it as one, {EXCLUDE}"
        )
    rows, columns = int(dataset.get("Rows") or 0), int(dataset.get("Columns") or 0)
    if rows * columns > max_pixels:
        raise DicomReadError(
            f"{path}: {columns}x{rows} pixels ({rows * columns / 1e6:.0f} megapixels, more "
            f"than data.max_pixels={max_pixels}); not decoded. Is it a radiograph? Remove it, "
            "downscale it, or raise data.max_pixels."
        )
    check_transfer_syntax(path, dataset)


def check_transfer_syntax(path: str | Path, dataset: Dataset) -> None:
    """DicomReadError unless an installed plugin decodes the file's transfer syntax (pydicom
    has decoders for the native, JPEG, JPEG-LS, JPEG 2000 and RLE syntaxes; the pylibjpeg
    plugins and pydicom itself cover them; MPEG and the video syntaxes have none)."""
    uid = dataset.file_meta.get("TransferSyntaxUID")
    if uid is None:
        raise DicomReadError(
            f"{path}: no Transfer Syntax UID in its file meta (a damaged header); export it "
            f"again, {EXCLUDE}"
        )
    try:
        decodable = get_decoder(uid).is_available
    except NotImplementedError:  # no decoder exists for this syntax
        decodable = False
    if not decodable:
        name = f"{uid.name} ({uid})" if uid.name != uid else uid
        raise DicomReadError(
            f"{path}: transfer syntax {name} cannot be decoded here; decompress it first, e.g. "
            f"`dcmdjpeg in.dcm out.dcm` or `gdcmconv --raw in.dcm out.dcm`, {EXCLUDE}"
        )


def decode_pixels(path: str | Path, dataset: Dataset) -> np.ndarray:
    """The stored values, (rows, columns): pydicom masks the bits above Bits Stored and sign-
    extends signed values."""
    try:
        stored = dataset.pixel_array
    except (ValueError, RuntimeError, AttributeError, KeyError) as err:
        raise DicomReadError(
            f"{path}: its pixel data cannot be decoded ({short_reason(err)}); export it "
            f"again, {EXCLUDE}"
        ) from err
    rows, columns = int(dataset.Rows), int(dataset.Columns)
    if stored.size != rows * columns:  # e.g. 3 samples per pixel under a MONOCHROME label
        raise DicomReadError(
            f"{path}: its pixels decode to shape {stored.shape}, not {rows}x{columns} grey; "
            f"export it again as a greyscale film, {EXCLUDE}"
        )
    return stored.reshape(rows, columns)


def short_reason(err: BaseException) -> str:
    """err's message on one line, short, without "; " (which separates reason and fix)."""
    text = " ".join(str(err).split()) or type(err).__name__
    text = text.replace("; ", ", ")
    return text if len(text) <= 160 else text[:157] + "..."


def display_grey(
    path: str | Path, stored: np.ndarray, dataset: Dataset, window: str | tuple[float, float]
) -> tuple[np.ndarray, str]:
    """The grey levels 0..255 (float, unrounded) of the stored values, and what chose them."""
    values = modality_values(path, stored, dataset)
    if isinstance(window, tuple):
        center, width = window
        return window_grey(values, center, width, "LINEAR"), (
            f"given: center {center:g}, width {width:g}"
        )
    if window == "first" and voi_lut_present(dataset):
        return voi_lut_grey(path, values, dataset), "VOI LUT sequence 1"
    if window == "first" and window_present(dataset):
        return first_window_grey(path, values, dataset)
    low, high = stored_range(dataset)
    out_low, out_high = output_range(path, dataset)
    described = f"none: the stored range {low}..{high}"
    if (out_low, out_high) != (low, high):
        described += f", {out_low:g}..{out_high:g} after the modality LUT"
    scale = GREY_MAX / (out_high - out_low) if out_high > out_low else 0.0
    return (np.asarray(values, dtype=np.float64) - out_low) * scale, described


def modality_values(path: str | Path, stored: np.ndarray, dataset: Dataset) -> np.ndarray:
    """The stored values in output units (PS3.3 C.11.1): through the Modality LUT Sequence,
    else Rescale Slope and Intercept (float64), else as stored. The LUT is looked up here:
    pydicom 3.0.2's apply_modality_lut fails on a LUT of other than 8 or 16 bits an entry."""
    if dataset.get("ModalityLUTSequence"):
        signed = int(dataset.get("PixelRepresentation") or 0) == 1
        table, first_mapped, _ = lut_table(path, dataset, "ModalityLUTSequence", signed)
        return lut_lookup(stored, table, first_mapped)
    return apply_modality_lut(stored, dataset)


def stored_range(dataset: Dataset) -> tuple[int, int]:
    """The values Bits Stored holds: 0..2^bits - 1, or two's complement when Pixel
    Representation is 1 (e.g. 12 bits: 0..4095, or -2048..2047)."""
    bits = int(dataset.BitsStored)
    if int(dataset.get("PixelRepresentation") or 0) == 1:
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


def output_range(path: str | Path, dataset: Dataset) -> tuple[float, float]:
    """The stored range through the modality LUT (its lowest and highest output): the LUT's
    entries the stored range reaches, else the rescaled ends (a negative slope swaps them)."""
    low, high = stored_range(dataset)
    if dataset.get("ModalityLUTSequence"):
        signed = int(dataset.get("PixelRepresentation") or 0) == 1
        table, first_mapped, _ = lut_table(path, dataset, "ModalityLUTSequence", signed)
        ends = np.clip([low - first_mapped, high - first_mapped], 0, table.size - 1)
        reached = table[ends[0] : ends[1] + 1]
        return float(reached.min()), float(reached.max())
    rescaled = apply_modality_lut(np.array([low, high], dtype=np.float64), dataset)
    return float(rescaled.min()), float(rescaled.max())


def voi_lut_present(dataset: Dataset) -> bool:
    """A VOI LUT Sequence whose first item has a descriptor and data (pydicom's test)."""
    sequence = dataset.get("VOILUTSequence")
    return bool(sequence) and "LUTDescriptor" in sequence[0] and "LUTData" in sequence[0]


def window_present(dataset: Dataset) -> bool:
    """Window Center and Window Width, each with a value."""
    keywords = ("WindowCenter", "WindowWidth")
    return all(keyword in dataset and dataset[keyword].VM >= 1 for keyword in keywords)


def voi_lut_grey(path: str | Path, values: np.ndarray, dataset: Dataset) -> np.ndarray:
    """values through the first VOI LUT, its output range 0..2^bits - 1 (the descriptor's
    bits per entry) onto 0..255. The LUT is looked up here: pydicom 3.0.2's apply_voi keeps
    the indices of an 8-bit LUT in uint8, so input 256 of a 4096-entry LUT reads entry 0."""
    signed = output_range(path, dataset)[0] < 0
    table, first_mapped, bits = lut_table(path, dataset, "VOILUTSequence", signed)
    return lut_lookup(values, table, first_mapped) * (GREY_MAX / ((1 << bits) - 1))


def lut_table(
    path: str | Path, dataset: Dataset, keyword: str, signed_input: bool
) -> tuple[np.ndarray, int, int]:
    """(entries as int64, the first input mapped, bits per entry) of the first item of a LUT
    sequence (PS3.3 C.11.1.1). LUT Descriptor: the number of entries (0 means 2^16), the first
    input mapped (written as US, it means a negative one when inputs are signed), the bits."""
    item = dataset.get(keyword)[0]
    try:
        entries, first_mapped, bits = (int(value) for value in item.LUTDescriptor)
        data = item["LUTData"].value
    except (AttributeError, KeyError, TypeError, ValueError):
        data, entries, bits = None, 0, 0
    entries = entries or 1 << 16
    if signed_input and first_mapped >= 1 << 15:
        first_mapped -= 1 << 16
    if isinstance(data, bytes):  # OW: 16-bit words in the file's byte order
        # Some writers pack an 8-bit LUT two entries a word: half the bytes of one a word.
        packed = bits == 8 and len(data) == entries
        little = dataset.file_meta.TransferSyntaxUID.is_little_endian
        words = np.dtype("<u2" if little else ">u2")
        table = np.frombuffer(
            data, np.uint8 if packed else words, len(data) // (1 if packed else 2)
        )
    else:
        table = np.atleast_1d(np.asarray(data if data is not None else [], dtype=np.int64))
    if not 1 <= bits <= 16 or table.size < entries:
        # The modality LUT is always applied; a VOI LUT only with dicom.window=first.
        instead = f", or set a window instead, e.g. {WINDOW_EXAMPLE}"
        raise DicomReadError(
            f"{path}: its {keyword} has a malformed LUT Descriptor or LUT Data ({table.size} "
            f"entries, {entries} expected, {bits} bits); export it again"
            + ("" if keyword == "ModalityLUTSequence" else instead)
        )
    return table[:entries].astype(np.int64), first_mapped, bits


def lut_lookup(values: np.ndarray, table: np.ndarray, first_mapped: int) -> np.ndarray:
    """table's entry for each value (rounded to the nearest input): inputs below first_mapped
    take the first entry, those past the table the last (PS3.3 C.11.2.1.1)."""
    inputs = np.rint(np.asarray(values, dtype=np.float64)) - first_mapped
    return table[np.clip(inputs, 0, table.size - 1).astype(np.intp)]


def first_window_grey(
    path: str | Path, values: np.ndarray, dataset: Dataset
) -> tuple[np.ndarray, str]:
    """values through the file's first window, with its VOI LUT Function, and its description."""
    try:
        center, width = (first_value(dataset[k]) for k in ("WindowCenter", "WindowWidth"))
    except (TypeError, ValueError):
        center = width = math.nan
    function = str(dataset.get("VOILUTFunction") or "LINEAR").strip().upper()
    usable = math.isfinite(center) and math.isfinite(width) and width > 0
    if function not in WINDOW_FUNCTIONS or not usable:
        raise DicomReadError(
            f"{path}: its window 1 (center {center:g}, width {width:g}, VOI LUT Function "
            f"{function}) cannot be applied; set dicom.window=none, or give a window, e.g. "
            f"{WINDOW_EXAMPLE}"
        )
    described = f"window 1: center {center:g}, width {width:g}"
    described += "" if function == "LINEAR" else f", {function}"
    return window_grey(values, center, width, function), described


def first_value(element: DataElement) -> float:
    """The first value of a multi-valued element (Window Center 2048\\1024 -> 2048.0)."""
    return float(element.value[0] if element.VM > 1 else element.value)


def window_grey(values: np.ndarray, center: float, width: float, function: str) -> np.ndarray:
    """values through a window straight onto 0..255 (float): PS3.3 C.11.2.1.2.1 (LINEAR) and
    C.11.2.1.3 (LINEAR_EXACT, SIGMOID) with y_min 0 and y_max 255. Not pydicom's
    apply_windowing: its y range is the stored range rescaled, reversed by a negative slope."""
    x = np.asarray(values, dtype=np.float64)
    if function == "SIGMOID":
        with np.errstate(over="ignore"):  # far below the center: exp overflows, y is 0
            return GREY_MAX / (1 + np.exp(-4 * (x - center) / width))
    if function == "LINEAR":
        # LINEAR's window is one unit narrower and half a unit lower than LINEAR_EXACT's. A
        # width under 1 (the standard's minimum) acts as 1: a threshold at center - 0.5.
        center, width = center - 0.5, max(width - 1, 0.0)
    low, high = center - width / 2, center + width / 2
    ramp = ((x - center) / width + 0.5) * GREY_MAX if width > 0 else np.zeros_like(x)
    return np.where(x <= low, 0.0, np.where(x > high, GREY_MAX, ramp))


def window_text(setting: object) -> str:
    """A dicom.window setting, checked (parse_window), as the text a preprocessing spec and a
    cache key keep: "first", "none" or "<center>,<width>"."""
    parsed = parse_window(setting)
    return parsed if isinstance(parsed, str) else f"{parsed[0]:g},{parsed[1]:g}"
