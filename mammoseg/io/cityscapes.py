"""Cityscapes in its official layout: image/label pairing, RGB images, labelIds -> train ids (ignore 255).

`leftImg8bit/<split>/<city>/<city>_<seq>_<frame>_leftImg8bit.png` pairs with
`gtFine/<split>/<city>/<city>_<seq>_<frame>_gtFine_labelIds.png`. Label ids are those of cityscapesScripts'
`labels.py` (0..33; licence plate is -1, which a uint8 PNG stores as 255); the mapping to the 19 train ids lives in
`mammoseg.labels` so that every reader uses one table.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import DataError
from ..labels import cityscapes_labelids_to_trainids
from .raster import read_image

IMAGE_SUFFIX = "_leftImg8bit.png"
LABEL_SUFFIX = "_gtFine_labelIds.png"
MAX_LABEL_ID = 33
LICENSE_PLATE_AS_UINT8 = 255  # label id -1 written into an 8-bit PNG


@dataclass(frozen=True)
class CityscapesPair:
    split: str
    city: str
    name: str  # "<city>_<seq>_<frame>", shared by the image and its label
    image_path: Path
    label_path: Path


def list_cityscapes_pairs(root: str | Path, split: str) -> list[CityscapesPair]:
    """Every image of `split` with its labelIds file, sorted by city and name; a missing label is an error."""
    root = Path(root)
    image_dir = root / "leftImg8bit" / split
    if not image_dir.is_dir():
        raise DataError(image_dir, "folder not found (expected the official Cityscapes layout)")
    images = sorted(image_dir.glob(f"*/*{IMAGE_SUFFIX}"))
    if not images:
        raise DataError(image_dir, f"no <city>/*{IMAGE_SUFFIX} images found")
    pairs = []
    for image_path in images:
        city, name = image_path.parent.name, image_path.name[: -len(IMAGE_SUFFIX)]
        label_path = root / "gtFine" / split / city / f"{name}{LABEL_SUFFIX}"
        if not label_path.is_file():
            raise DataError(label_path, f"label file missing for image {image_path.name}")
        pairs.append(CityscapesPair(split, city, name, image_path, label_path))
    return pairs


def read_cityscapes_image(path: str | Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "file not found")
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size == 0:
        raise DataError(path, "file is empty")
    pixels = cv2.imdecode(raw, cv2.IMREAD_UNCHANGED)
    if pixels is None:
        raise DataError(path, "cannot decode image: not a valid PNG file (corrupt or truncated)")
    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] != 3:
        raise DataError(path, f"expected an 8-bit RGB image, got {pixels.dtype} array of shape {pixels.shape}")
    return cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB)


def read_cityscapes_label(path: str | Path, expected_shape: tuple[int, int] | None = None) -> np.ndarray:
    """(H, W) uint8 train ids 0..18, 255 = ignore; ids outside 0..33 (and -1) are an error, not silently ignored."""
    path = Path(path)
    label_ids = read_image(path)
    if expected_shape is not None and tuple(label_ids.shape) != tuple(expected_shape[:2]):
        raise DataError(path, f"label shape {label_ids.shape} does not match image shape {tuple(expected_shape[:2])}")
    if label_ids.dtype.kind == "f":
        raise DataError(path, f"label ids must be stored as integers, got {label_ids.dtype}")
    ids = np.unique(label_ids)
    unknown = [int(i) for i in ids if i > MAX_LABEL_ID and i != LICENSE_PLATE_AS_UINT8]
    if unknown:
        raise DataError(path, f"unknown label ids {unknown[:10]} (Cityscapes labelIds are 0..{MAX_LABEL_ID} and -1)")
    return cityscapes_labelids_to_trainids(label_ids)


def read_cityscapes_pair(pair: CityscapesPair) -> tuple[np.ndarray, np.ndarray]:
    """(RGB image, train ids) with the shapes checked against each other."""
    image = read_cityscapes_image(pair.image_path)
    return image, read_cityscapes_label(pair.label_path, expected_shape=image.shape)
