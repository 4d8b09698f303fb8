"""Cityscapes reader on hand-written tiny PNGs in the official layout."""
from pathlib import Path

import cv2
import numpy as np
import pytest

from mammoseg.errors import DataError
from mammoseg.io.cityscapes import (list_cityscapes_pairs, read_cityscapes_image, read_cityscapes_label,
                                    read_cityscapes_pair)
from mammoseg.io.raster import write_image

# labelIds -> train ids from cityscapesScripts' table: 7 road 0, 8 sidewalk 1, 26 car 13, 33 bicycle 18,
# 0 unlabeled -> ignore, 255 (licence plate, -1 as uint8) -> ignore, 9 parking (not evaluated) -> ignore.
LABEL_IDS = np.array([[7, 8, 26], [0, 33, 255], [9, 24, 11]], np.uint8)
TRAIN_IDS = np.array([[0, 1, 13], [255, 18, 255], [255, 11, 2]], np.uint8)


def write_rgb(path: Path, rgb: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path


def add_frame(root: Path, split: str, city: str, frame: str, label_ids=LABEL_IDS) -> tuple[Path, Path]:
    name = f"{city}_000000_{frame}"
    rgb = np.zeros(label_ids.shape + (3,), np.uint8)
    rgb[..., 0] = 200  # pure red: catches a BGR/RGB swap
    image = write_rgb(root / "leftImg8bit" / split / city / f"{name}_leftImg8bit.png", rgb)
    label = write_image(root / "gtFine" / split / city / f"{name}_gtFine_labelIds.png", label_ids)
    return image, label


def test_pairs_are_matched_and_sorted(tmp_path):
    add_frame(tmp_path, "val", "munster", "000002")
    add_frame(tmp_path, "val", "frankfurt", "000001")
    add_frame(tmp_path, "val", "frankfurt", "000000")
    add_frame(tmp_path, "train", "aachen", "000000")
    pairs = list_cityscapes_pairs(tmp_path, "val")
    assert [(p.city, p.name) for p in pairs] == [("frankfurt", "frankfurt_000000_000000"),
                                                ("frankfurt", "frankfurt_000000_000001"),
                                                ("munster", "munster_000000_000002")]
    assert pairs[0].label_path == tmp_path / "gtFine/val/frankfurt/frankfurt_000000_000000_gtFine_labelIds.png"


def test_label_ids_to_train_ids(tmp_path):
    _, label = add_frame(tmp_path, "val", "lindau", "000000")
    train_ids = read_cityscapes_label(label)
    assert train_ids.dtype == np.uint8
    np.testing.assert_array_equal(train_ids, TRAIN_IDS)


def test_image_is_rgb_and_pair_reads(tmp_path):
    add_frame(tmp_path, "test", "bonn", "000000")
    image, train_ids = read_cityscapes_pair(list_cityscapes_pairs(tmp_path, "test")[0])
    assert image.shape == (3, 3, 3) and image.dtype == np.uint8
    np.testing.assert_array_equal(image[0, 0], [200, 0, 0])
    np.testing.assert_array_equal(train_ids, TRAIN_IDS)


def test_unknown_label_id_names_the_file(tmp_path):
    bad = LABEL_IDS.copy()
    bad[0, 0] = 34
    _, label = add_frame(tmp_path, "val", "lindau", "000000", bad)
    with pytest.raises(DataError, match=r"unknown label ids \[34\]") as info:
        read_cityscapes_label(label)
    assert info.value.path == label


def test_missing_label(tmp_path):
    _, label = add_frame(tmp_path, "val", "lindau", "000000")
    label.unlink()
    with pytest.raises(DataError, match="label file missing") as info:
        list_cityscapes_pairs(tmp_path, "val")
    assert info.value.path == label


def test_shape_mismatch(tmp_path):
    add_frame(tmp_path, "val", "lindau", "000000")
    pair = list_cityscapes_pairs(tmp_path, "val")[0]
    write_image(pair.label_path, np.zeros((2, 3), np.uint8))
    with pytest.raises(DataError, match="does not match image shape") as info:
        read_cityscapes_pair(pair)
    assert info.value.path == pair.label_path


def test_bad_images(tmp_path):
    with pytest.raises(DataError, match="folder not found"):
        list_cityscapes_pairs(tmp_path, "val")
    (tmp_path / "leftImg8bit" / "val" / "lindau").mkdir(parents=True)
    with pytest.raises(DataError, match="no <city>"):
        list_cityscapes_pairs(tmp_path, "val")
    grey = write_image(tmp_path / "grey.png", np.zeros((3, 3), np.uint8))
    with pytest.raises(DataError, match="8-bit RGB"):
        read_cityscapes_image(grey)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(DataError, match="empty"):
        read_cityscapes_image(empty)
    (tmp_path / "cut.png").write_bytes(grey.read_bytes()[:20])
    with pytest.raises(DataError, match="cannot decode"):
        read_cityscapes_image(tmp_path / "cut.png")
