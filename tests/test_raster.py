import cv2
import numpy as np
import pytest

from mammoseg.errors import DataError
from mammoseg.io.atomic import atomic_write_bytes
from mammoseg.io.raster import read_image, read_mask, write_image, write_mask


def _write_raw(path, array, ext=".png"):
    """Encode with OpenCV directly, bypassing write_image's checks, to build files it would refuse to write."""
    ok, encoded = cv2.imencode(ext, array)
    assert ok
    path.write_bytes(encoded.tobytes())
    return path


@pytest.mark.parametrize("name,dtype", [("a.png", np.uint16), ("a.png", np.uint8), ("a.pgm", np.uint16),
                                        ("a.tif", np.uint16), ("a.tiff", np.float32)])
def test_roundtrip_keeps_values_and_dtype(tmp_path, rng, name, dtype):
    top = 1.0 if dtype == np.float32 else np.iinfo(dtype).max
    array = (rng.random((37, 23)) * top).astype(dtype)
    write_image(tmp_path / name, array)
    back = read_image(tmp_path / name)
    assert back.dtype == dtype
    np.testing.assert_array_equal(back, array)


def test_write_is_atomic_and_overwrites(tmp_path):
    target = tmp_path / "img.png"
    write_image(target, np.zeros((4, 5), np.uint16))
    write_image(target, np.full((4, 5), 4095, np.uint16))
    assert read_image(target).max() == 4095
    assert sorted(p.name for p in tmp_path.iterdir()) == ["img.png"]  # no temp file left behind


def test_atomic_write_bytes_creates_parent(tmp_path):
    path = atomic_write_bytes(tmp_path / "sub" / "x.bin", b"abc")
    assert path.read_bytes() == b"abc"
    assert [p.name for p in path.parent.iterdir()] == ["x.bin"]


@pytest.mark.parametrize("name,array,problem", [
    ("a.png", np.zeros((4, 4), np.int16), "losslessly"),
    ("a.png", np.zeros((4, 4), np.float32), "losslessly"),
    ("a.png", np.zeros((4, 4, 3), np.uint8), "2-D"),
    ("a.jpg", np.zeros((4, 4), np.uint8), "unsupported image format"),
])
def test_write_rejects_what_it_cannot_store(tmp_path, name, array, problem):
    with pytest.raises(DataError, match=problem) as err:
        write_image(tmp_path / name, array)
    assert err.value.path == tmp_path / name
    assert not (tmp_path / name).exists()


def test_equal_channel_rgb_becomes_gray(tmp_path, rng):
    gray = (rng.random((10, 12)) * 255).astype(np.uint8)
    path = _write_raw(tmp_path / "rgb.png", np.stack([gray] * 3, axis=-1))
    np.testing.assert_array_equal(read_image(path), gray)


def test_colour_image_is_rejected(tmp_path, rng):
    colour = (rng.random((10, 12, 3)) * 255).astype(np.uint8)
    path = _write_raw(tmp_path / "rgb.png", colour)
    with pytest.raises(DataError, match="colour") as err:
        read_image(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("content,problem", [
    (None, "file not found"),
    (b"", "file is empty"),
    (b"this is certainly not a PNG file" * 10, "cannot decode"),
])
def test_bad_files_raise_one_data_error_naming_the_file(tmp_path, content, problem):
    path = tmp_path / "image.png"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError, match=problem) as err:
        read_image(path)
    assert err.value.path == path and str(err.value).startswith(str(path))


def test_truncated_png_is_rejected(tmp_path, rng):
    full = _write_raw(tmp_path / "full.png", (rng.random((64, 64)) * 4095).astype(np.uint16)).read_bytes()
    cut = tmp_path / "cut.png"
    cut.write_bytes(full[: len(full) // 2])
    with pytest.raises(DataError, match="corrupt or truncated"):
        read_image(cut)


@pytest.mark.parametrize("positive", [1, 255])
def test_read_mask_accepts_zero_and_one_positive_value(tmp_path, positive):
    array = np.zeros((6, 7), np.uint8)
    array[2:4, 1:5] = positive
    path = _write_raw(tmp_path / "m.png", array)
    mask = read_mask(path, expected_shape=(6, 7))
    assert mask.dtype == bool and mask.sum() == 8 and mask[2:4, 1:5].all()


def test_write_mask_stores_0_and_255(tmp_path):
    mask = np.eye(5, dtype=bool)
    path = write_mask(tmp_path / "m.png", mask)
    assert set(np.unique(read_image(path))) == {0, 255}
    np.testing.assert_array_equal(read_mask(path), mask)


def test_read_mask_shape_mismatch_names_both_shapes(tmp_path):
    path = write_mask(tmp_path / "tumor.png", np.zeros((6, 7), bool))
    with pytest.raises(DataError) as err:
        read_mask(path, expected_shape=(8, 7))
    message = str(err.value)
    assert str(path) in message and "(6, 7)" in message and "(8, 7)" in message


def test_read_mask_rejects_grey_levels(tmp_path):
    array = np.zeros((6, 7), np.uint8)
    array[0, 0], array[1, 1] = 128, 255  # e.g. an anti-aliased export
    path = _write_raw(tmp_path / "skin.png", array)
    with pytest.raises(DataError, match="not binary: 3 distinct values"):
        read_mask(path)


def test_read_mask_rejects_nan_in_float_tiff(tmp_path):
    array = np.zeros((5, 5), np.float32)
    array[1, 1], array[2, 2] = 1.0, np.nan
    path = _write_raw(tmp_path / "m.tif", array, ".tiff")
    with pytest.raises(DataError, match="NaN") as err:
        read_mask(path)
    assert err.value.path == path
