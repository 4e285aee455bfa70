"""Real DICOM files for the tests, written with pydicom: a radiograph as a modality or PACS
exports it (Digital X-Ray or Secondary Capture, Explicit VR Little Endian, optionally JPEG
lossless or RLE compressed), with the display attributes a test needs (rescale, windows, a
VOI LUT, pixel spacing) and a made-up patient whose name and ID must never reach our output.

pydicom cannot encode JPEG lossless (1.2.840.10008.1.2.4.70), the syntax many X-ray modalities
export, so a minimal encoder of ITU T.81's lossless process is here: one component, predictor
1, point transform 0, one fixed Huffman table. pylibjpeg-libjpeg decodes what it writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import (
    ExplicitVRLittleEndian,
    JPEGLosslessSV1,
    RLELossless,
    generate_uid,
)

PATIENT_NAME = "Doe^Jane"
PATIENT_ID = "CSXA-TEST-0042"
DIGITAL_XRAY = "1.2.840.10008.5.1.4.1.1.1.1"  # Digital X-Ray Image Storage - For Presentation
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
BASIC_TEXT_SR = "1.2.840.10008.5.1.4.1.1.88.11"  # a structured report: no pixels
MPEG2 = "1.2.840.10008.1.2.4.100"  # MPEG2 Main Profile / Main Level: no decoder exists
# transfer_syntax's names; any other value is a UID the pixels are encapsulated under as they
# are (a file that claims a syntax it does not hold, for the refusals).
TRANSFER_SYNTAXES = {
    "explicit": ExplicitVRLittleEndian,
    "jpeg_lossless": JPEGLosslessSV1,
    "rle": RLELossless,
}

Window = tuple[float, float]


def write_dicom(
    path: str | Path,
    pixels: np.ndarray,
    *,
    bits_stored: int | None = None,
    photometric: str = "MONOCHROME2",
    slope: float | None = None,
    intercept: float | None = None,
    window: Window | Sequence[Window] | None = None,
    voi_lut_function: str | None = None,
    voi_lut: tuple[tuple[int, int, int], Sequence[int] | bytes] | None = None,
    modality_lut: tuple[tuple[int, int, int], Sequence[int] | bytes] | None = None,
    pixel_spacing: tuple[float, float] | None = None,
    imager_pixel_spacing: tuple[float, float] | None = None,
    frames: int = 1,
    patient_name: str = PATIENT_NAME,
    patient_id: str = PATIENT_ID,
    transfer_syntax: str = "explicit",
    sop_class: str = DIGITAL_XRAY,
) -> Path:
    """Write pixels as a DICOM file at path and return the path.

    pixels: (rows, cols) uint8, uint16 or int16 (signed: PixelRepresentation 1), or
    (rows, cols, 3) uint8 with photometric RGB or YBR_FULL. bits_stored defaults to the
    container's 8 or 16 bits. frames > 1 repeats the film as a multi-frame image. window: one
    (center, width) or several (WindowCenter/WindowWidth with that many values). voi_lut and
    modality_lut: (LUT Descriptor (entries, first mapped value, bits per entry), LUT Data)."""
    path = Path(path)
    ds = film_dataset(path, pixels, bits_stored, photometric, sop_class)
    ds.PatientName, ds.PatientID = patient_name, patient_id
    if slope is not None or intercept is not None:
        ds.RescaleSlope = 1.0 if slope is None else slope
        ds.RescaleIntercept = 0.0 if intercept is None else intercept
        ds.RescaleType = "US"  # unspecified units
    if window is not None:
        pairs = [window] if np.isscalar(window[0]) else list(window)
        ds.WindowCenter = [float(center) for center, _ in pairs]
        ds.WindowWidth = [float(width) for _, width in pairs]
    if voi_lut_function is not None:
        ds.VOILUTFunction = voi_lut_function
    if voi_lut is not None:
        ds.VOILUTSequence = DicomSequence([lut_item(*voi_lut)])
    if modality_lut is not None:
        ds.ModalityLUTSequence = DicomSequence([lut_item(*modality_lut)])
        ds.ModalityLUTSequence[0].ModalityLUTType = "US"
    if pixel_spacing is not None:
        ds.PixelSpacing = [float(value) for value in pixel_spacing]
    if imager_pixel_spacing is not None:
        ds.ImagerPixelSpacing = [float(value) for value in imager_pixel_spacing]
    set_pixel_data(ds, np.stack([pixels] * frames) if frames > 1 else pixels, transfer_syntax)
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.save_as(path, enforce_file_format=True)
    return path


def film_dataset(
    path: Path, pixels: np.ndarray, bits_stored: int | None, photometric: str, sop_class: str
) -> FileDataset:
    """A dataset with the file meta, the SOP identity and the Image Pixel module of pixels
    (no Pixel Data yet)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality = "DX" if sop_class == DIGITAL_XRAY else "OT"
    ds.Rows, ds.Columns = pixels.shape[:2]
    ds.SamplesPerPixel = pixels.shape[2] if pixels.ndim == 3 else 1
    if ds.SamplesPerPixel > 1:
        ds.PlanarConfiguration = 0
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = pixels.dtype.itemsize * 8
    ds.BitsStored = ds.BitsAllocated if bits_stored is None else bits_stored
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = int(np.issubdtype(pixels.dtype, np.signedinteger))
    return ds


def lut_item(descriptor: tuple[int, int, int], data: Sequence[int] | bytes) -> Dataset:
    """A VOI or Modality LUT Sequence item; LUT Data as OW: the entries as little-endian 16-bit
    words, as most modalities write them, or bytes written as they are (8-bit entries packed
    two a word, as some writers do)."""
    words = data if isinstance(data, bytes) else np.asarray(data, "<u2").tobytes()
    item = Dataset()
    item.add(DataElement(0x00283002, "US", list(descriptor)))  # LUT Descriptor
    item.add(DataElement(0x00283006, "OW", words))  # LUT Data
    return item


def set_pixel_data(ds: FileDataset, pixels: np.ndarray, transfer_syntax: str) -> None:
    """Pixel Data in the named transfer syntax (see TRANSFER_SYNTAXES)."""
    uid = TRANSFER_SYNTAXES.get(transfer_syntax, transfer_syntax)
    if uid == ExplicitVRLittleEndian:
        ds.PixelData = np.ascontiguousarray(pixels).tobytes()
    elif uid == RLELossless:
        ds.compress(RLELossless, pixels, generate_instance_uid=False)
    else:
        frame = (
            jpeg_lossless(pixels, int(ds.BitsStored))
            if uid == JPEGLosslessSV1
            else np.ascontiguousarray(pixels).tobytes()
        )
        ds.PixelData = encapsulate([frame])
        ds["PixelData"].VR = "OB"
        ds["PixelData"].is_undefined_length = True
        ds.file_meta.TransferSyntaxUID = uid


def write_structured_report(path: str | Path) -> Path:
    """A DICOM file without Pixel Data (a Basic Text SR), with the made-up patient."""
    path = Path(path)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = BASIC_TEXT_SR
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = BASIC_TEXT_SR, meta.MediaStorageSOPInstanceUID
    ds.Modality = "SR"
    ds.PatientName, ds.PatientID = PATIENT_NAME, PATIENT_ID
    ds.save_as(path, enforce_file_format=True)
    return path


# JPEG lossless (ITU T.81, Annex H): the markers, and the one Huffman table for the difference
# categories 0..16 (the number of bits of |difference|): 14 codes of 4 bits, then 3 of 5 bits.
# Canonical codes (Annex C) leave the all-ones code unused, as the standard requires.
SOI, SOF3, DHT, SOS, EOI = b"\xff\xd8", b"\xff\xc3", b"\xff\xc4", b"\xff\xda", b"\xff\xd9"
CODE_COUNTS = (0, 0, 0, 14, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)  # codes of 1..16 bits
CATEGORIES = tuple(range(17))


def huffman_codes(counts: Sequence[int]) -> list[tuple[int, int]]:
    """(code, length) of each symbol in table order: T.81 Annex C's canonical codes."""
    codes, code = [], 0
    for length, count in enumerate(counts, start=1):
        for _ in range(count):
            codes.append((code, length))
            code += 1
        code <<= 1
    return codes


def predicted_differences(pixels: np.ndarray, precision: int) -> np.ndarray:
    """Each sample minus its prediction with predictor 1 (Ra, the sample to the left), modulo
    2^16 as T.81 H.1.2.1 says, as int64 in -32767..32768. The first sample is predicted with
    2^(P-1), the rest of the first row with Ra, the first column with Rb (the sample above)."""
    samples = pixels.astype(np.int64)
    prediction = np.empty_like(samples)
    prediction[:, 1:] = samples[:, :-1]
    prediction[1:, 0] = samples[:-1, 0]
    prediction[0, 0] = 1 << (precision - 1)
    differences = (samples - prediction) % 65536
    return np.where(differences > 32768, differences - 65536, differences)


def entropy_coded(differences: np.ndarray) -> bytes:
    """The Huffman-coded differences, each its category's code then (categories 1..15) its
    additional bits (T.81 F.1.2.1: a negative difference as difference - 1's low bits), packed
    most significant bit first, padded with 1 bits, and every 0xFF byte followed by 0x00."""
    codes = huffman_codes(CODE_COUNTS)
    bits: list[str] = []
    for difference in differences.ravel().tolist():
        category = abs(difference).bit_length()  # 32768 -> 16, no additional bits
        code, length = codes[category]
        bits.append(format(code, f"0{length}b"))
        if 0 < category < 16:
            extra = difference if difference > 0 else difference - 1
            bits.append(format(extra & ((1 << category) - 1), f"0{category}b"))
    stream = "".join(bits)
    stream += "1" * (-len(stream) % 8)
    packed = int(stream, 2).to_bytes(len(stream) // 8, "big") if stream else b""
    return packed.replace(b"\xff", b"\xff\x00")


def jpeg_lossless(pixels: np.ndarray, precision: int) -> bytes:
    """A JPEG lossless codestream (process 14, selection value 1) of a 2-D unsigned film of
    precision bits (2..16): SOI, SOF3, DHT, SOS, the coded differences, EOI."""
    if pixels.ndim != 2 or np.issubdtype(pixels.dtype, np.signedinteger):
        raise ValueError("jpeg_lossless encodes one unsigned 2-D frame")
    rows, cols = pixels.shape
    frame = bytes([precision]) + rows.to_bytes(2, "big") + cols.to_bytes(2, "big")
    frame += bytes([1, 1, 0x11, 0])  # one component: id 1, 1x1 sampling, no quantization
    table = bytes([0x00, *CODE_COUNTS, *CATEGORIES])  # class 0 (lossless/DC), id 0
    scan = bytes([1, 1, 0x00, 1, 0, 0])  # component 1 with table 0; predictor 1; Se 0; Pt 0
    return b"".join(
        [
            SOI,
            SOF3 + (2 + len(frame)).to_bytes(2, "big") + frame,
            DHT + (2 + len(table)).to_bytes(2, "big") + table,
            SOS + (2 + len(scan)).to_bytes(2, "big") + scan,
            entropy_coded(predicted_differences(pixels, precision)),
            EOI,
        ]
    )
