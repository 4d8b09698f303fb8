"""The oulu-mass data path on real CBIS-DDSM mammograms (tests/fixtures/cbis_ddsm, CC BY 3.0, see its README)."""
import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.distance import dice as dice_dissimilarity

from mammoseg.errors import DataError
from mammoseg.io.dicom import write_dicom
from mammoseg.io.inbreast import breast_crop, dice, load_mass_case, load_record, read_mass_dataset
from mammoseg.io.raster import read_image, write_image, write_mask

FIXTURE = Path(__file__).parent / "fixtures" / "cbis_ddsm"
MASS_IDS = ["Mass-Training_P_00001_LEFT_CC", "Mass-Training_P_00001_LEFT_MLO", "Mass-Training_P_00092_LEFT_CC",
            "Mass-Training_P_00264_LEFT_MLO"]
CALC_ID = "Calc-Training_P_00377_LEFT_CC"


@pytest.fixture(scope="module")
def cases():
    return {r.id: (r, *load_record(r)) for r in read_mass_dataset(FIXTURE)}


@pytest.fixture
def dataset(tmp_path):
    """A writable copy of the fixture, for the tests that break it."""
    root = tmp_path / "ds"
    shutil.copytree(FIXTURE, root, ignore=shutil.ignore_patterns("*.py", "*.md", "__pycache__"))
    return root


def test_fixture_is_small_and_attributed():
    size = sum(p.stat().st_size for p in FIXTURE.rglob("*") if p.is_file())
    assert size <= 1_000_000
    readme = (FIXTURE / "README.md").read_text()
    assert "CC BY 3.0" in readme and "doi:10.7937/K9/TCIA.2016.7O02S9CY" in readme


def test_records_follow_meta_csv():
    records = read_mass_dataset(FIXTURE)
    assert [r.id for r in records] == MASS_IDS + [CALC_ID]
    assert [r.split for r in records] == ["train", "train", "val", "test", "test"]
    assert [r.has_mass for r in records] == [True] * 4 + [False]
    assert records[-1].mask_path is None  # the calcification case ships without a mask file
    assert records[0].extra == {"patient_id": "P_00001", "laterality": "L", "view": "CC"}


def test_images_and_masks(cases):
    for case_id, (record, image, mask) in cases.items():
        assert image.ndim == 2 and image.dtype == np.uint8 and mask.dtype == bool
        assert mask.shape == image.shape
        fraction = mask.mean()
        if record.has_mass:
            assert 0.001 < fraction < 0.02, case_id  # masses cover 0.25-0.8 % of the image (source README)
            assert image[mask].mean() > image[~mask].mean()  # a mass is denser than the average pixel
        else:
            assert fraction == 0


def test_breast_crop_keeps_every_mass_pixel_and_drops_background(cases):
    for case_id, (record, image, mask) in cases.items():
        crop = breast_crop(image, mask)
        top, bottom, left, right = crop.box
        assert crop.image.shape == crop.mask.shape == (bottom - top, right - left)
        assert crop.mask.sum() == mask.sum(), case_id  # 100 % of the mass pixels
        # All five are left breasts on the left edge: the right-hand background must be cut away ...
        assert left == 0 and right < 0.8 * image.shape[1], case_id
        # ... and what is cut is background: much darker than the kept breast.
        outside = np.ones(image.shape, bool)
        outside[crop.box.slices] = False
        assert image[outside].mean() < 0.3 * crop.image.mean(), case_id


def test_breast_crop_of_a_blank_image_is_the_whole_image():
    crop = breast_crop(np.zeros((30, 20), np.uint8))
    assert crop.box == (0, 30, 0, 20) and crop.mask is None


def test_dice_on_real_masks(cases):
    _, _, mask = cases[MASS_IDS[0]]
    assert dice(mask, mask) == 1.0
    shifted = np.roll(mask, 7, axis=1)  # the mass is far from the border: nothing wraps round
    expected = 1.0 - dice_dissimilarity(mask.ravel(), shifted.ravel())  # SciPy, independent of ours
    assert 0 < expected < 1
    assert dice(shifted, mask) == pytest.approx(expected, abs=1e-12)
    assert dice(np.zeros_like(mask), mask) == 0.0


def test_dice_by_hand():
    a = np.zeros((20, 30), bool)
    a[5:15, 5:25] = True  # 10 x 20 = 200 pixels
    b = np.roll(a, 5, axis=1)  # overlap 10 x 15 = 150
    assert dice(a, b) == pytest.approx(2 * 150 / 400)
    assert dice(np.zeros((2, 2)), np.zeros((2, 2))) == 1.0
    with pytest.raises(ValueError, match="shapes differ"):
        dice(a, a[:5])


def test_chest_wall_side_and_flip_on_real_images(cases):
    for case_id in cases:
        record, image, mask = cases[case_id]
        flipped_image, flipped_mask = load_mass_case(FIXTURE, case_id, flip_to="right")
        np.testing.assert_array_equal(flipped_image, image[:, ::-1])
        np.testing.assert_array_equal(flipped_mask, mask[:, ::-1])
        same_image, _ = load_mass_case(FIXTURE, case_id, flip_to="left")  # already on the left: untouched
        np.testing.assert_array_equal(same_image, image)


def test_dicom_image_in_the_layout(dataset, cases):
    """The same case stored as a 12-bit MONOCHROME1 DICOM reads back as the PNG, scaled by 16."""
    case_id = MASS_IDS[2]
    png = dataset / "images" / f"{case_id}.png"
    pixels = read_image(png).astype(np.uint16) * 16  # 8 -> 12 bit
    write_dicom(dataset / "images" / f"{case_id}.dcm", 4095 - pixels, bits_stored=12, photometric="MONOCHROME1",
                ImageLaterality="L")
    png.unlink()
    image, mask = load_mass_case(dataset, case_id)
    assert image.dtype == np.uint16
    np.testing.assert_array_equal(image, pixels)
    np.testing.assert_array_equal(mask, cases[case_id][2])


# ---- layout errors: one DataError naming the file ----

def _rewrite_meta(root, edit):
    with open(root / "meta.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    rows = edit(rows)
    with open(root / "meta.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _set(column, value, row_index=0):
    def edit(rows):
        rows[row_index][column] = value
        return rows
    return edit


@pytest.mark.parametrize("edit, match", [
    (_set("split", "training"), "split 'training' is not one of"),
    (_set("has_mass", "yes"), "has_mass must be 0 or 1"),
    (_set("id", ""), "empty id"),
    (_set("id", MASS_IDS[0], row_index=1), "duplicate id"),
    (lambda rows: [{k: v for k, v in r.items() if k != "split"} for r in rows], "missing column"),
])
def test_bad_meta_csv(dataset, edit, match):
    _rewrite_meta(dataset, edit)
    with pytest.raises(DataError, match=match) as info:
        read_mass_dataset(dataset)
    assert info.value.path == dataset / "meta.csv"


def test_missing_meta_csv(dataset):
    (dataset / "meta.csv").unlink()
    with pytest.raises(DataError, match="meta.csv.*file not found"):
        read_mass_dataset(dataset)


def test_empty_meta_csv(dataset):
    (dataset / "meta.csv").write_text("id,split,has_mass\n")
    with pytest.raises(DataError, match="no cases listed"):
        read_mass_dataset(dataset)


def test_mass_without_mask_file(dataset):
    (dataset / "masks" / f"{MASS_IDS[1]}.png").unlink()
    with pytest.raises(DataError, match="mask not found") as info:
        read_mass_dataset(dataset)
    assert info.value.path.name == f"{MASS_IDS[1]}.png"


def test_missing_and_ambiguous_images(dataset):
    image = dataset / "images" / f"{MASS_IDS[0]}.png"
    shutil.copy(image, image.with_suffix(".tif"))
    with pytest.raises(DataError, match="several images"):
        read_mass_dataset(dataset)
    image.unlink()
    image.with_suffix(".tif").unlink()
    with pytest.raises(DataError, match="no image for case"):
        read_mass_dataset(dataset)


def test_mask_shape_mismatch(dataset):
    mask_path = dataset / "masks" / f"{MASS_IDS[0]}.png"
    write_mask(mask_path, np.ones((10, 10), bool))
    with pytest.raises(DataError, match="does not match image shape") as info:
        load_mass_case(dataset, MASS_IDS[0])
    assert info.value.path == mask_path


def test_non_binary_mask(dataset):
    mask_path = dataset / "masks" / f"{MASS_IDS[0]}.png"
    grey = read_image(mask_path) // 2
    grey[0, 0] = 255
    write_image(mask_path, grey)
    with pytest.raises(DataError, match="not binary"):
        load_mass_case(dataset, MASS_IDS[0])


def test_has_mass_disagrees_with_mask(dataset):
    image = read_image(dataset / "images" / f"{CALC_ID}.png")
    write_mask(dataset / "masks" / f"{CALC_ID}.png", np.zeros(image.shape, bool))
    _, mask = load_mass_case(dataset, CALC_ID)  # an all-zero mask file is fine for has_mass=0
    assert not mask.any()
    marked = np.zeros(image.shape, bool)
    marked[100:110, 50:60] = True
    write_mask(dataset / "masks" / f"{CALC_ID}.png", marked)
    with pytest.raises(DataError, match="has 100 mass pixels, but meta.csv says"):
        load_mass_case(dataset, CALC_ID)
    write_mask(dataset / "masks" / f"{MASS_IDS[0]}.png", np.zeros(read_image(
        dataset / "images" / f"{MASS_IDS[0]}.png").shape, bool))
    with pytest.raises(DataError, match="mask is empty"):
        load_mass_case(dataset, MASS_IDS[0])


def test_unknown_case_and_truncated_image(dataset):
    with pytest.raises(DataError, match="no case with id 'nope'"):
        load_mass_case(dataset, "nope")
    image = dataset / "images" / f"{MASS_IDS[0]}.png"
    image.write_bytes(image.read_bytes()[:500])
    with pytest.raises(DataError) as info:
        load_mass_case(dataset, MASS_IDS[0])
    assert info.value.path == image
