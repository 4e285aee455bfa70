"""DICOM films read as a radiologist sees them: the exact 8-bit pixels of each display step
(modality LUT, VOI LUT or window, MONOCHROME1), the compressed syntaxes decoding to the same
pixels, the refusals as one line naming the file and never the patient.

Grey levels are rounded with np.rint (halves to even): 127.5 -> 128, 128.5 -> 128."""

from __future__ import annotations

import logging

import numpy as np
import pydicom
import pytest
from pydicom.pixels import apply_windowing

from csxa_lightning.data.dicom import (
    DICOM_SUFFIXES,
    WINDOW_CHOICES,
    DicomReadError,
    is_dicom,
    parse_window,
    pixel_spacing_mm,
    read_dicom_film,
)
from csxa_lightning.utils.errors import ConfigValueError
from tests.dicom_files import (
    MPEG2,
    PATIENT_ID,
    PATIENT_NAME,
    write_dicom,
    write_structured_report,
)

# A 12-bit ramp and the values a hand can check: 32 x 40, every value of the film's range
# sampled, its ends and middle included.
FILM_12BIT = (np.arange(32 * 40, dtype=np.uint16).reshape(32, 40) * 3) % 4096
FILM_12BIT[0, :6] = [0, 16, 1024, 2048, 4095, 4094]


def film_8bit(seed: int = 0) -> np.ndarray:
    film = np.random.default_rng(seed).integers(0, 256, size=(32, 40)).astype(np.uint8)
    film[0, :2] = [0, 255]
    return film


def row(film, n: int = 6) -> list[int]:
    return film.pixels[0, :n].tolist()


def test_an_8bit_monochrome2_film_without_window_is_read_as_stored(tmp_path):
    stored = film_8bit()
    film = read_dicom_film(write_dicom(tmp_path / "a.dcm", stored))
    assert film.pixels.dtype == np.uint8 and film.pixels.shape == (32, 40)
    assert np.array_equal(film.pixels, stored)  # 0..255 onto 0..255
    assert film.bits_stored == 8 and film.window == "none: the stored range 0..255"


@pytest.mark.parametrize("window", ["first", "none"])
def test_a_12bit_film_in_16_bits_is_scaled_by_its_12_bits_not_65535(tmp_path, window):
    path = write_dicom(tmp_path / "a.dcm", FILM_12BIT, bits_stored=12)
    film = read_dicom_film(path, window=window)  # no window in the file: first is none
    # v * 255 / 4095: 16 -> 0.996 -> 1, 1024 -> 63.77 -> 64, 2048 -> 127.53 -> 128, 4094 ->
    # 254.94 -> 255. Scaled by 65535, 4095 would be 15.9 -> 16, the film nearly black.
    assert row(film) == [0, 1, 64, 128, 255, 255]
    expected = np.rint(FILM_12BIT.astype(float) * 255 / 4095).astype(np.uint8)
    assert np.array_equal(film.pixels, expected)
    assert film.bits_stored == 12 and film.window == "none: the stored range 0..4095"


def test_the_window_of_the_whole_12bit_range_is_the_stored_range(tmp_path):
    # LINEAR with center 2048, width 4096: y = (x - 2047.5) / 4095 + 0.5 = x / 4095, the same
    # mapping as none: the standard's half-unit offsets make the two agree exactly.
    path = write_dicom(tmp_path / "a.dcm", FILM_12BIT, bits_stored=12)
    windowed = read_dicom_film(path, window="2048,4096")
    assert np.array_equal(windowed.pixels, read_dicom_film(path, window="none").pixels)
    assert windowed.window == "given: center 2048, width 4096"


def test_monochrome1_is_the_inverse_of_the_same_film_as_monochrome2(tmp_path):
    mono2 = read_dicom_film(write_dicom(tmp_path / "2.dcm", FILM_12BIT, bits_stored=12))
    path = write_dicom(tmp_path / "1.dcm", FILM_12BIT, bits_stored=12, photometric="MONOCHROME1")
    mono1 = read_dicom_film(path)
    assert np.array_equal(mono1.pixels, 255 - mono2.pixels)
    assert row(mono1) == [255, 254, 191, 127, 0, 0]  # 255 - [0, 1, 64, 128, 255, 255]


def test_a_signed_12bit_film_spans_minus_2048_to_2047(tmp_path):
    stored = np.zeros((32, 40), np.int16)
    stored[0, :4] = [-2048, -1, 0, 2047]
    film = read_dicom_film(write_dicom(tmp_path / "s.dcm", stored, bits_stored=12))
    # (v + 2048) * 255 / 4095: -1 -> 127.47 -> 127, 0 -> 127.53 -> 128
    assert row(film, 4) == [0, 127, 128, 255]
    assert film.window == "none: the stored range -2048..2047"


def test_rescale_then_a_window_in_output_units(tmp_path):
    stored = np.zeros((32, 40), np.uint16)
    stored[0, :7] = [0, 256, 384, 512, 640, 768, 4095]
    path = write_dicom(tmp_path / "r.dcm", stored, bits_stored=12, slope=2, intercept=-1024)
    # x = 2v - 1024 = [-1024, -512, -256, 0, 256, 512, 7166]. LINEAR, center 0.5, width 1025:
    # center' = 0, width' = 1024: 0 for x <= -512, 255 for x > 512, else (x / 1024 + 0.5) *
    # 255: -256 -> 63.75 -> 64, 0 -> 127.5 -> 128, 256 -> 191.25 -> 191, 512 -> 255.
    film = read_dicom_film(path, window="0.5,1025")
    assert row(film, 7) == [0, 0, 64, 128, 191, 255, 255]
    # none: the stored range 0..4095 rescaled, -1024..7166; a linear map of a linear map, so
    # the same grey levels as the 12-bit film unscaled: 512 -> 31.88 -> 32, 4095 -> 255.
    none = read_dicom_film(path, window="none")
    assert row(none, 7) == [0, 16, 24, 32, 40, 48, 255]
    assert none.window == "none: the stored range 0..4095, -1024..7166 after the modality LUT"


def test_a_negative_slope_keeps_high_output_white(tmp_path):
    # x = 4095 - v; the file's window (2048, 4096) maps x = 4095 (v = 0) to white. pydicom
    # 3.0.2's apply_windowing rescales its output range by the slope too, reversing it.
    stored = np.zeros((32, 40), np.uint16)
    stored[0, :3] = [0, 2047, 4095]
    path = write_dicom(
        tmp_path / "n.dcm", stored, bits_stored=12, slope=-1, intercept=4095, window=(2048, 4096)
    )
    assert row(read_dicom_film(path), 3) == [255, 128, 0]  # x / 4095: 2048 -> 127.53 -> 128


def test_the_first_of_two_windows_is_used_and_a_given_one_or_none_overrides_it(tmp_path):
    stored = np.zeros((32, 40), np.uint8)
    stored[0, :6] = [49, 50, 100, 149, 150, 200]
    path = write_dicom(tmp_path / "w.dcm", stored, window=[(100, 101), (50, 20)])
    # LINEAR 100, 101: center' 99.5, width' 100, y = (x - 49.5) * 2.55 in (49.5, 149.5]:
    # 50 -> 1.275 -> 1, 100 -> 128.775 -> 129, 149 -> 253.725 -> 254
    first = read_dicom_film(path)
    assert row(first) == [0, 1, 129, 254, 255, 255]
    assert first.window == "window 1: center 100, width 101"
    # given 200, 101: y = (x - 149.5) * 2.55: 150 -> 1, 200 -> 129
    given = read_dicom_film(path, window="200,101")
    assert row(given) == [0, 0, 0, 0, 1, 129]
    assert read_dicom_film(path, window="none").pixels[0, :6].tolist() == stored[0, :6].tolist()


@pytest.mark.parametrize(
    ("function", "expected"),
    [
        # 100, 50 LINEAR: center' 99.5, width' 49, y = ((x - 99.5) / 49 + 0.5) * 255 in
        # (75, 124]: 76 -> 5.2 -> 5, 100 -> 130.1 -> 130, 124 -> 255
        ("LINEAR", [0, 5, 130, 255, 255]),
        # LINEAR_EXACT: y = ((x - 100) / 50 + 0.5) * 255 in (75, 125]: 76 -> 5.1 -> 5,
        # 100 -> 127.5 -> 128, 124 -> 249.9 -> 250
        ("LINEAR_EXACT", [0, 5, 128, 250, 255]),
        # SIGMOID: 255 / (1 + exp(-4 (x - 100) / 50)): 75 -> 255 / (1 + e^2) = 30.4, 76 ->
        # 32.6, 100 -> 127.5, 124 -> 222.4, 125 -> 255 / (1 + e^-2) = 224.6
        ("SIGMOID", [30, 33, 128, 222, 225]),
    ],
)
def test_the_voi_lut_function_is_honoured_as_pydicom_does(tmp_path, function, expected):
    stored = np.arange(32 * 40).reshape(32, 40).astype(np.uint8)  # every 8-bit value
    stored[0, :5] = [75, 76, 100, 124, 125]
    path = write_dicom(tmp_path / "f.dcm", stored, window=(100, 50), voi_lut_function=function)
    film = read_dicom_film(path)
    assert row(film, 5) == expected
    assert film.window == "window 1: center 100, width 50" + (
        "" if function == "LINEAR" else f", {function}"
    )
    # For unsigned 8-bit without rescale pydicom's output range is 0..255 too: the same pixels.
    dataset = pydicom.dcmread(path)
    assert np.array_equal(film.pixels, np.rint(apply_windowing(dataset.pixel_array, dataset)))


def test_a_voi_lut_maps_by_its_own_bits_and_wins_over_a_window(tmp_path):
    stored = np.zeros((32, 40), np.uint16)
    stored[0, :6] = [0, 10, 11, 12, 13, 4095]
    # 4 entries from input 10, 12 bits each: inputs <= 10 -> 0, 11 -> 1024, 12 -> 2048, >= 13
    # -> 4095; onto 8 bits by 255 / 4095: 1024 -> 63.77 -> 64, 2048 -> 127.53 -> 128.
    lut = ((4, 10, 12), [0, 1024, 2048, 4095])
    path = write_dicom(tmp_path / "v.dcm", stored, bits_stored=12, voi_lut=lut, window=(5, 2))
    film = read_dicom_film(path)
    assert row(film) == [0, 0, 64, 128, 255, 255]
    assert film.window == "VOI LUT sequence 1"
    assert row(read_dicom_film(path, window="none")) == [0, 1, 1, 1, 1, 255]  # v * 255 / 4095


def test_an_8bit_voi_lut_of_4096_entries_reads_every_entry(tmp_path):
    # entry i = i // 16 (8-bit output): 255 -> 15, 256 -> 16, 300 -> 18, 4095 -> 255.
    # pydicom 3.0.2's apply_voi keeps indices in uint8: 256 would read entry 0, 4095 entry 255.
    stored = np.zeros((32, 40), np.uint16)
    stored[0, :5] = [0, 255, 256, 300, 4095]
    lut = ((4096, 0, 8), (np.arange(4096) // 16).tolist())
    film = read_dicom_film(write_dicom(tmp_path / "v.dcm", stored, bits_stored=12, voi_lut=lut))
    assert row(film, 5) == [0, 15, 16, 18, 255]


def test_a_packed_8bit_lut_and_a_negative_first_input_written_as_us(tmp_path):
    # 4 entries of 8 bits packed two a 16-bit word (4 bytes, not 8): 0..3 -> 0, 85, 170, 255.
    stored = np.zeros((32, 40), np.uint8)
    stored[0, :5] = [0, 1, 2, 3, 200]
    packed = ((4, 0, 8), bytes([0, 85, 170, 255]))
    film = read_dicom_film(write_dicom(tmp_path / "p.dcm", stored, voi_lut=packed))
    assert row(film, 5) == [0, 85, 170, 255, 255]
    # Signed inputs, the first mapped -2 written as US 65534: -3, -2 -> 10, -1 -> 20, >= 0 -> 30.
    signed = np.zeros((32, 40), np.int16)
    signed[0, :5] = [-3, -2, -1, 0, 1]
    lut = ((3, 65534, 8), [10, 20, 30])
    film = read_dicom_film(write_dicom(tmp_path / "s.dcm", signed, bits_stored=12, voi_lut=lut))
    assert row(film, 5) == [10, 10, 20, 30, 30]


def test_a_modality_lut_sequence_gives_the_range_none_maps(tmp_path):
    stored = np.zeros((32, 40), np.uint8)
    stored[0, :5] = [0, 1, 2, 3, 255]
    # 4 entries from 0, 12 bits (pydicom 3.0.2's apply_modality_lut fails on 12): 0..3 ->
    # 100..400, 255 -> the last entry. none maps the range reached, 100..400: (y - 100) * 0.85.
    lut = ((4, 0, 12), [100, 200, 300, 400])
    film = read_dicom_film(write_dicom(tmp_path / "m.dcm", stored, modality_lut=lut))
    assert row(film, 5) == [0, 85, 170, 255, 255]
    assert film.window == "none: the stored range 0..255, 100..400 after the modality LUT"


@pytest.mark.parametrize(
    ("bits", "syntax", "uid"),
    [
        (8, "jpeg_lossless", "1.2.840.10008.1.2.4.70"),
        (12, "jpeg_lossless", "1.2.840.10008.1.2.4.70"),
        (16, "jpeg_lossless", "1.2.840.10008.1.2.4.70"),
        (8, "rle", "1.2.840.10008.1.2.5"),
        (12, "rle", "1.2.840.10008.1.2.5"),
    ],
)
def test_compressed_films_decode_to_the_uncompressed_pixels(tmp_path, bits, syntax, uid):
    rng = np.random.default_rng(bits)
    stored = rng.integers(0, 1 << bits, size=(32, 40)).astype(np.uint8 if bits == 8 else np.uint16)
    stored[0, :3] = [0, (1 << bits) - 1, 0]  # the largest differences the predictor meets
    plain = write_dicom(tmp_path / "plain.dcm", stored, bits_stored=bits)
    packed = write_dicom(tmp_path / "packed.dcm", stored, bits_stored=bits, transfer_syntax=syntax)
    dataset = pydicom.dcmread(packed)
    assert dataset.file_meta.TransferSyntaxUID == uid
    assert np.array_equal(dataset.pixel_array, stored)  # the encoder is lossless
    assert np.array_equal(read_dicom_film(packed).pixels, read_dicom_film(plain).pixels)


def test_pixel_spacing_wins_over_imager_pixel_spacing(tmp_path):
    stored = film_8bit()
    both = write_dicom(
        tmp_path / "b.dcm", stored, pixel_spacing=(0.1, 0.2), imager_pixel_spacing=(0.15, 0.3)
    )
    imager = write_dicom(tmp_path / "i.dcm", stored, imager_pixel_spacing=(0.15, 0.3))
    unusable = write_dicom(
        tmp_path / "u.dcm", stored, pixel_spacing=(0, 0.2), imager_pixel_spacing=(0.15, 0.3)
    )
    assert read_dicom_film(both).pixel_spacing_mm == (0.1, 0.2)  # (rows, columns)
    assert read_dicom_film(imager).pixel_spacing_mm == (0.15, 0.3)
    assert read_dicom_film(unusable).pixel_spacing_mm == (0.15, 0.3)  # 0 mm is no spacing
    assert read_dicom_film(write_dicom(tmp_path / "n.dcm", stored)).pixel_spacing_mm is None
    assert pixel_spacing_mm(pydicom.dcmread(both)) == (0.1, 0.2)


def write_rgb(path):
    rgb = np.zeros((32, 40, 3), np.uint8)
    return write_dicom(path, rgb, photometric="RGB", sop_class="1.2.840.10008.5.1.4.1.1.7")


def write_cut_short(path):
    write_dicom(path, FILM_12BIT, bits_stored=12)
    path.write_bytes(path.read_bytes()[:-100])  # the last 50 pixels gone
    return path


def write_text(path):
    path.write_text("not a DICOM file\n")
    return path


@pytest.mark.parametrize(
    ("write", "words"),
    [
        (write_rgb, "Photometric Interpretation RGB is not greyscale"),
        (lambda p: write_dicom(p, film_8bit(), frames=3), "3 frames"),
        (write_structured_report, "no pixel data (a Basic Text SR Storage"),
        (lambda p: write_dicom(p, film_8bit(), transfer_syntax=MPEG2), MPEG2),
        (write_cut_short, "its pixel data cannot be decoded"),
        (write_text, "not a readable DICOM file (no DICM after the 128-byte preamble)"),
        (lambda p: write_dicom(p, film_8bit(), window=(100, 0)), "window 1 (center 100, width 0"),
        (lambda p: p, "not a readable DICOM file (missing)"),
    ],
)
def test_refusals_are_one_line_naming_the_file_never_the_patient(tmp_path, write, words):
    path = tmp_path / "film.dcm"
    write(path)
    with pytest.raises(DicomReadError) as refused:
        read_dicom_film(path)
    message = str(refused.value)
    assert message.startswith(f"{path}: ") and words in message and "\n" not in message
    assert PATIENT_NAME not in message and "Doe" not in message and PATIENT_ID not in message


def test_no_patient_identifier_reaches_a_log_or_a_warning(tmp_path, caplog, recwarn):
    caplog.set_level(logging.DEBUG)
    film = read_dicom_film(write_dicom(tmp_path / "a.dcm", FILM_12BIT, bits_stored=12))
    with pytest.raises(DicomReadError):
        read_dicom_film(write_cut_short(tmp_path / "b.dcm"))
    said = caplog.text + " ".join(str(w.message) for w in recwarn) + repr(film)
    assert PATIENT_NAME not in said and "Doe" not in said and PATIENT_ID not in said


def test_a_transfer_syntax_without_decoder_is_named_with_its_uid_and_the_fix(tmp_path):
    path = write_dicom(tmp_path / "m.dcm", film_8bit(), transfer_syntax=MPEG2)
    with pytest.raises(DicomReadError, match="MPEG2 Main Profile / Main Level") as refused:
        read_dicom_film(path)
    assert f"({MPEG2})" in str(refused.value) and "gdcmconv --raw" in str(refused.value)


def test_too_many_pixels_are_refused_from_the_header(tmp_path):
    path = write_dicom(tmp_path / "big.dcm", film_8bit())
    with pytest.raises(DicomReadError, match=r"40x32 pixels .*data\.max_pixels=1000"):
        read_dicom_film(path, max_pixels=1000)
    assert read_dicom_film(path, max_pixels=1280).pixels.shape == (32, 40)  # 32 x 40 = 1280


def test_window_settings_parse_and_refuse():
    assert WINDOW_CHOICES[:2] == ("none", "first")
    assert parse_window("none") == "none" and parse_window(" First ") == "first"
    assert parse_window("2048,4096") == (2048.0, 4096.0)
    assert parse_window("-100.5, 300") == (-100.5, 300.0)
    assert parse_window([2048, 4096]) == (2048.0, 4096.0)  # dicom.window=[2048,4096]
    for bad in ("2048,0", "2048,-1", "abc", "1,2,3", "", "nan,1", "100", None):
        with pytest.raises(ConfigValueError, match=r"dicom\.window=.*e\.g\. dicom\.window="):
            parse_window(bad)


def test_dicom_files_are_known_by_suffix_or_by_dicm_at_byte_128(tmp_path):
    assert DICOM_SUFFIXES == (".dcm", ".dicom")
    assert is_dicom(tmp_path / "absent.dcm") and is_dicom(tmp_path / "ABSENT.DICOM")
    exported = write_dicom(tmp_path / "1.2.840.113619.2.55", film_8bit())  # a UID for a name
    bare = write_dicom(tmp_path / "IM0001", film_8bit())
    (tmp_path / "film.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    (tmp_path / "notes").write_text("x" * 200)
    assert is_dicom(exported) and is_dicom(bare)
    assert not is_dicom(tmp_path / "film.png") and not is_dicom(tmp_path / "notes")
    assert not is_dicom(tmp_path) and not is_dicom(tmp_path / "absent")
