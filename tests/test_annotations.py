import numpy as np
import pytest
from scipy import ndimage

from mammoseg.errors import ConfigError, DataError
from mammoseg.io.annotations import (DEFAULT_MERGE_SIGMA, list_cases, merge_case, merge_masks, read_splits)
from mammoseg.io.raster import read_image, write_image, write_mask
from mammoseg.labels import MAMMO13

SHAPE = (40, 50)
ID = MAMMO13.id


def _square(top, left, size, shape=SHAPE):
    mask = np.zeros(shape, bool)
    mask[top:top + size, left:left + size] = True
    return mask


# ------------------------------------------------------------------------------------------------ merge_masks
def test_higher_priority_class_wins_the_overlap_regardless_of_dict_order():
    # text (rank 8) and calcifications (rank 2) are both unsmoothed: the overlap must be calcifications
    text, calc = _square(5, 5, 20), _square(15, 15, 20)
    for masks in ({"text": text, "calcifications": calc}, {"calcifications": calc, "text": text}):
        label = merge_masks(masks, SHAPE)
        assert label.dtype == np.uint8
        assert label[20, 20] == ID("calcifications")  # in both squares
        assert label[6, 6] == ID("text")  # text only
        assert label[33, 33] == ID("calcifications")  # calcifications only
        assert label[0, 0] == ID("background") == 0  # neither
        expected = np.zeros(SHAPE, np.uint8)
        expected[text] = ID("text")
        expected[calc] = ID("calcifications")
        np.testing.assert_array_equal(label, expected)


def test_full_priority_chain_with_smoothing_off():
    # twelve nested squares, the lowest-priority class largest ... nipple (rank 1) smallest and innermost:
    # pixel (d, d) lies in the squares of depth <= d, and the deepest one there has the highest priority
    names = [n for n in MAMMO13.priority if n != "background"]
    masks = {name: _square(d, d, 40 - 2 * d, shape=(40, 40)) for d, name in enumerate(reversed(names))}
    label = merge_masks(masks, (40, 40), sigma=0)
    for d, name in enumerate(reversed(names)):
        assert label[d, d] == ID(name)
    assert label[20, 20] == ID("nipple")


def test_smoothing_rounds_corners_of_smoothed_class_only():
    sigma = 3.0
    square = _square(10, 10, 20)
    label = merge_masks({"tumor": square}, SHAPE, sigma=sigma)  # tumor is smoothed
    by_hand = ndimage.gaussian_filter(square.astype(np.float64), sigma) >= 0.5
    np.testing.assert_array_equal(label == ID("tumor"), by_hand)
    # Hand reasoning: at a corner of a large square the blurred value is about 1/2 * 1/2 = 1/4 (a quarter-plane),
    # so corner pixels are lost; at the middle of a straight edge it is about Phi(0.5/sigma) > 1/2, so edges stay.
    assert label[10, 10] == ID("background") and label[29, 29] == ID("background")
    assert label[10, 20] == ID("tumor") and label[19, 10] == ID("tumor")
    assert label[9, 20] == ID("background")
    # nipple is not smoothed: the same square comes out exactly
    label = merge_masks({"nipple": square}, SHAPE, sigma=sigma)
    np.testing.assert_array_equal(label == ID("nipple"), square)


def test_thin_band_vanishes_under_smoothing_but_not_at_sigma_zero():
    band = np.zeros(SHAPE, bool)
    band[:, 20] = True  # 1 px wide: its blurred peak ~ 1/(sigma*sqrt(2*pi)) = 0.2 < 0.5 at sigma 2
    assert not (merge_masks({"thick_vessels": band}, SHAPE, sigma=2.0) == ID("thick_vessels")).any()
    np.testing.assert_array_equal(merge_masks({"thick_vessels": band}, SHAPE, sigma=0) == ID("thick_vessels"), band)


def test_background_map_is_accepted_and_changes_nothing():
    masks = {"skin": _square(0, 0, 10)}
    with_bg = merge_masks({**masks, "background": np.ones(SHAPE, bool)}, SHAPE)
    np.testing.assert_array_equal(with_bg, merge_masks(masks, SHAPE))


def test_merge_rejects_unknown_class_and_wrong_shape():
    with pytest.raises(DataError, match="unknown class name.*'pectoralis'"):
        merge_masks({"pectoralis": np.zeros(SHAPE, bool)}, SHAPE)
    with pytest.raises(DataError, match="'skin' has shape"):
        merge_masks({"skin": np.zeros((3, 3), bool)}, SHAPE)
    with pytest.raises(ConfigError, match="sigma"):
        merge_masks({}, SHAPE, sigma=-1)


def test_default_sigma_is_positive():
    assert DEFAULT_MERGE_SIGMA > 0


# ------------------------------------------------------------------------------------------------ merge_case
@pytest.fixture
def case(tmp_path):
    """A hand-built case: image + three masks."""
    case_dir = tmp_path / "case_a"
    write_image(case_dir / "image.png", np.full(SHAPE, 1000, np.uint16))
    masks = {"mammary_gland": _square(0, 0, 40), "pectoral_muscle": _square(0, 0, 15), "nipple": _square(30, 35, 8)}
    for name, mask in masks.items():
        write_mask(case_dir / "masks" / f"{name}.png", mask)
    return case_dir, masks


def test_merge_case_matches_merge_masks_and_writes_label(case):
    case_dir, masks = case
    label = merge_case(case_dir, sigma=1.5)
    np.testing.assert_array_equal(label, merge_masks(masks, SHAPE, sigma=1.5))
    np.testing.assert_array_equal(read_image(case_dir / "label.png"), label)
    assert sorted(p.name for p in case_dir.iterdir()) == ["image.png", "label.png", "masks"]


def test_merge_case_without_write_leaves_no_label(case):
    case_dir, _ = case
    merge_case(case_dir, write=False)
    assert not (case_dir / "label.png").exists()


def _expect_error(case_dir, culprit, problem):
    with pytest.raises(DataError, match=problem) as err:
        merge_case(case_dir)
    assert err.value.path == culprit, str(err.value)


def test_missing_image(case):
    case_dir, _ = case
    (case_dir / "image.png").unlink()
    _expect_error(case_dir, case_dir / "image.png", "image not found")


def test_missing_masks_folder(tmp_path):
    case_dir = tmp_path / "c"
    write_image(case_dir / "image.png", np.zeros(SHAPE, np.uint16))
    _expect_error(case_dir, case_dir / "masks", "masks folder not found")


def test_empty_masks_folder(tmp_path):
    case_dir = tmp_path / "c"
    write_image(case_dir / "image.png", np.zeros(SHAPE, np.uint16))
    (case_dir / "masks").mkdir()
    _expect_error(case_dir, case_dir / "masks", "no mask files")


def test_mask_named_after_no_class(case):
    case_dir, _ = case
    bad = write_mask(case_dir / "masks" / "lesion.png", np.zeros(SHAPE, bool))
    _expect_error(case_dir, bad, "not a class of mammo13")


def test_mask_shape_differs_from_image(case):
    case_dir, _ = case
    bad = write_mask(case_dir / "masks" / "skin.png", np.zeros((SHAPE[0], SHAPE[1] + 1), bool))
    _expect_error(case_dir, bad, r"mask shape \(40, 51\) does not match image shape \(40, 50\)")


def test_non_binary_mask(case):
    case_dir, _ = case
    grey = np.zeros(SHAPE, np.uint8)
    grey[:5], grey[5:10] = 100, 255
    bad = write_image(case_dir / "masks" / "tumor.png", grey)
    _expect_error(case_dir, bad, "not binary")


def test_garbage_image_bytes(case):
    case_dir, _ = case
    (case_dir / "image.png").write_bytes(b"\x89PNG but then nonsense" * 20)
    _expect_error(case_dir, case_dir / "image.png", "cannot decode")


def test_empty_mask_file(case):
    case_dir, _ = case
    (case_dir / "masks" / "skin.png").write_bytes(b"")
    _expect_error(case_dir, case_dir / "masks" / "skin.png", "file is empty")


def test_missing_case_folder(tmp_path):
    _expect_error(tmp_path / "nope", tmp_path / "nope", "case folder not found")


# ------------------------------------------------------------------------------------------------ splits
def _make_root(tmp_path, csv_text, cases=("a", "b", "c")):
    for name in cases:
        (tmp_path / name).mkdir()
    (tmp_path / "splits.csv").write_text(csv_text)
    return tmp_path


def test_read_splits_and_list_cases(tmp_path):
    root = _make_root(tmp_path, "case,split\nc,train\na,train\nb,test\n")
    assert read_splits(root) == {"c": "train", "a": "train", "b": "test"}
    assert list_cases(root) == ["a", "b", "c"]
    assert list_cases(root, "train") == ["a", "c"]
    assert list_cases(root, "val") == []
    with pytest.raises(ConfigError, match="unknown split"):
        list_cases(root, "training")


@pytest.mark.parametrize("csv_text,problem", [
    ("", "file is empty"),
    ("name,fold\na,train\n", "lacks the columns"),
    ("case,split\na,train\nb,holdout\n", "line 3: split 'holdout'"),
    ("case,split\na,train\na,test\n", "line 3: case 'a' listed twice"),
    ("case,split\na\n", "line 2: expected 2 columns"),
    ("case,split\n,train\n", "line 2: empty case name"),
    ("case,split\n", "no cases listed"),
])
def test_malformed_splits_file(tmp_path, csv_text, problem):
    root = _make_root(tmp_path, csv_text)
    with pytest.raises(DataError, match=problem) as err:
        read_splits(root)
    assert err.value.path == root / "splits.csv"


def test_missing_splits_file(tmp_path):
    with pytest.raises(DataError, match="splits file not found") as err:
        list_cases(tmp_path)
    assert err.value.path == tmp_path / "splits.csv"


def test_listed_case_without_folder(tmp_path):
    root = _make_root(tmp_path, "case,split\na,train\nghost,val\n")
    with pytest.raises(DataError, match="has no folder") as err:
        list_cases(root, "train")
    assert err.value.path == root / "ghost"
