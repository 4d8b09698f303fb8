"""CT volume reading (pig-ct): DICOM series ordering, HU rescale, spacing, label volumes, HU window."""
import numpy as np
import pytest

from mammoseg.errors import DataError
from mammoseg.io.dicom import write_dicom
from mammoseg.io.volume import PIG_CT_WINDOW, hu_window, read_ct_volume, read_label_volume

SHAPE = (4, 5)  # (y, x) of each slice


def write_series(folder, z_positions, values=None, intercept="-1024", **extra):
    """One CT slice per z; slice k is filled with stored value values[k]; file names run against z order."""
    folder.mkdir(parents=True, exist_ok=True)
    values = values if values is not None else [100 * (k + 1) for k in range(len(z_positions))]
    paths = []
    for k, (z, value) in enumerate(zip(z_positions, values)):
        paths.append(write_dicom(
            folder / f"slice_{len(z_positions) - k:03d}.dcm", np.full(SHAPE, value, np.int16), modality="CT",
            RescaleSlope="1", RescaleIntercept=intercept, ImagePositionPatient=[0, 0, z],
            ImageOrientationPatient=[1, 0, 0, 0, 1, 0], PixelSpacing=["0.7", "0.8"], **extra))
    return paths


def test_npy_volume(tmp_path, rng):
    volume = rng.integers(-1000, 1000, size=(3, 4, 5)).astype(np.int16)
    np.save(tmp_path / "v.npy", volume)
    ct = read_ct_volume(tmp_path / "v.npy")
    assert ct.hu.dtype == np.float32 and ct.spacing is None
    np.testing.assert_array_equal(ct.hu, volume)


def test_dicom_series_sorted_by_position_with_hu_and_spacing(tmp_path):
    # Files are written in reverse z order; stored values 100, 200, ... at z = 10, 12.5, 15 ...
    write_series(tmp_path / "scan", [10.0, 12.5, 15.0, 17.5])
    ct = read_ct_volume(tmp_path / "scan")
    assert ct.hu.shape == (4,) + SHAPE and ct.hu.dtype == np.float32
    np.testing.assert_array_equal(ct.hu[:, 0, 0], [100 - 1024, 200 - 1024, 300 - 1024, 400 - 1024])
    assert ct.spacing == pytest.approx((2.5, 0.7, 0.8))


def test_each_slice_has_its_own_rescale(tmp_path):
    paths = write_series(tmp_path / "scan", [0.0, 1.0], values=[0, 0])
    write_dicom(paths[1], np.zeros(SHAPE, np.int16), modality="CT", RescaleSlope="2", RescaleIntercept="-1000",
                ImagePositionPatient=[0, 0, 1.0], ImageOrientationPatient=[1, 0, 0, 0, 1, 0])
    np.testing.assert_array_equal(read_ct_volume(tmp_path / "scan").hu[:, 0, 0], [-1024, -1000])


def test_instance_number_used_without_positions(tmp_path):
    folder = tmp_path / "scan"
    folder.mkdir()
    for name, number, value in [("a.dcm", 3, 30), ("b.dcm", 1, 10), ("c.dcm", 2, 20)]:
        write_dicom(folder / name, np.full(SHAPE, value, np.int16), modality="CT", InstanceNumber=number)
    ct = read_ct_volume(folder)
    np.testing.assert_array_equal(ct.hu[:, 0, 0], [10, 20, 30])
    assert ct.spacing is None


def test_label_volume(tmp_path):
    labels = np.zeros((2,) + SHAPE, np.uint8)
    labels[1, 1:3, 2:4] = 1
    np.save(tmp_path / "l.npy", labels)
    out = read_label_volume(tmp_path / "l.npy", expected_shape=(2,) + SHAPE)
    assert out.dtype == bool and out.sum() == 4
    write_series(tmp_path / "lab", [0.0, 1.0], values=[0, 1], intercept="0")
    np.testing.assert_array_equal(read_label_volume(tmp_path / "lab")[:, 0, 0], [False, True])


def test_label_volume_errors(tmp_path):
    np.save(tmp_path / "l.npy", np.zeros((2,) + SHAPE, np.uint8))
    with pytest.raises(DataError, match=r"shape \(2, 4, 5\) does not match the CT volume shape \(3, 4, 5\)"):
        read_label_volume(tmp_path / "l.npy", expected_shape=(3,) + SHAPE)
    bad = np.zeros((2,) + SHAPE, np.uint8)
    bad[0, 0, 0] = 2
    np.save(tmp_path / "b.npy", bad)
    with pytest.raises(DataError, match=r"unknown label ids \[2\]") as info:
        read_label_volume(tmp_path / "b.npy")
    assert info.value.path == tmp_path / "b.npy"


def test_hu_window_by_hand():
    hu = np.array([-2000, -1000, 0, 500, 1000, 3000], np.float32)
    np.testing.assert_allclose(hu_window(hu), [0, 0, 0.5, 0.75, 1, 1])
    assert PIG_CT_WINDOW == (0.0, 2000.0)  # air -1000 HU .. bone +1000 HU (seed 003 Table 3.1)
    np.testing.assert_allclose(hu_window(np.array([-160, 40, 240]), center=40, width=400), [0, 0.5, 1])
    assert hu_window(hu).dtype == np.float32
    with pytest.raises(ValueError, match="width"):
        hu_window(hu, width=0)


# ---- errors: one DataError naming the file or folder ----

@pytest.mark.parametrize("content, match", [
    (np.full((2, 2, 2), np.nan, np.float32), "NaN/inf"),
    (np.array([[0.0, np.inf]]).reshape(1, 1, 2), "NaN/inf"),
    (np.zeros((4, 5)), "3-D"),
    (np.zeros((0, 4, 5)), "non-empty 3-D"),
    (np.array(["a", "b"]).reshape(1, 1, 2), "numeric"),
])
def test_bad_npy(tmp_path, content, match):
    np.save(tmp_path / "v.npy", content)
    with pytest.raises(DataError, match=match) as info:
        read_ct_volume(tmp_path / "v.npy")
    assert info.value.path == tmp_path / "v.npy"


def test_empty_truncated_and_missing_npy(tmp_path):
    (tmp_path / "e.npy").write_bytes(b"")
    with pytest.raises(DataError, match="empty file"):
        read_ct_volume(tmp_path / "e.npy")
    np.save(tmp_path / "t.npy", np.zeros((3, 4, 5)))
    (tmp_path / "t.npy").write_bytes((tmp_path / "t.npy").read_bytes()[:200])
    with pytest.raises(DataError, match="corrupt or truncated"):
        read_ct_volume(tmp_path / "t.npy")
    with pytest.raises(DataError, match="not found"):
        read_ct_volume(tmp_path / "nope.npy")


def test_empty_folder(tmp_path):
    (tmp_path / "scan").mkdir()
    with pytest.raises(DataError, match="empty folder"):
        read_ct_volume(tmp_path / "scan")


def test_inconsistent_slice_shapes(tmp_path):
    paths = write_series(tmp_path / "scan", [0.0, 1.0, 2.0])
    write_dicom(paths[1], np.zeros((4, 6), np.int16), modality="CT", ImagePositionPatient=[0, 0, 1.0],
                ImageOrientationPatient=[1, 0, 0, 0, 1, 0])
    with pytest.raises(DataError, match=r"slice shape \(4, 6\) differs") as info:
        read_ct_volume(tmp_path / "scan")
    assert info.value.path == paths[1]


def test_duplicate_and_missing_slices(tmp_path):
    write_series(tmp_path / "dup", [0.0, 1.0, 1.0])
    with pytest.raises(DataError, match="same ImagePositionPatient"):
        read_ct_volume(tmp_path / "dup")
    write_series(tmp_path / "gap", [0.0, 1.0, 2.0, 4.0])
    with pytest.raises(DataError, match="uneven slice spacing"):
        read_ct_volume(tmp_path / "gap")


def test_foreign_file_in_series(tmp_path):
    write_series(tmp_path / "scan", [0.0, 1.0])
    (tmp_path / "scan" / "notes.txt").write_text("not a slice")
    with pytest.raises(DataError, match="not a DICOM file") as info:
        read_ct_volume(tmp_path / "scan")
    assert info.value.path.name == "notes.txt"


def test_duplicate_instance_numbers(tmp_path):
    folder = tmp_path / "scan"
    folder.mkdir()
    for name in ("a.dcm", "b.dcm"):
        write_dicom(folder / name, np.zeros(SHAPE, np.int16), modality="CT", InstanceNumber=1)
    with pytest.raises(DataError, match="same InstanceNumber"):
        read_ct_volume(folder)


def test_unorderable_series(tmp_path):
    folder = tmp_path / "scan"
    folder.mkdir()
    write_dicom(folder / "a.dcm", np.zeros(SHAPE, np.int16), modality="CT")
    with pytest.raises(DataError, match="cannot order the slice"):
        read_ct_volume(folder)
