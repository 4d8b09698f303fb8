"""The `oulu-mass` / INbreast-like binary mass layout, the breast crop and a numpy Dice.

Layout (docs/data-readers.md): `<root>/images/<id>.{dcm,png,pgm,tif,tiff}`, `<root>/masks/<id>.png`,
`<root>/meta.csv` with at least the columns `id`, `split` (train / val / test) and `has_mass` (0 / 1); other
columns are kept in `MassRecord.extra`. A case without a mass may have no mask file (an all-zero mask is
supplied) or an all-zero one; a case with a mass must have a non-empty mask.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np
from skimage.filters import threshold_otsu

from ..errors import DataError
from .annotations import SPLITS
from .dicom import chest_wall_side, flip_to_side, read_dicom, validate_flip_target
from .raster import RASTER_SUFFIXES, read_image, read_mask

META_FILE = "meta.csv"
REQUIRED_COLUMNS = ("id", "split", "has_mass")
IMAGE_SUFFIXES = (".dcm",) + RASTER_SUFFIXES
_CROP_WORK_SIZE = 512  # the breast outline is found on a copy this large: fast, and independent of resolution


@dataclass(frozen=True)
class MassRecord:
    id: str
    split: str
    has_mass: bool
    image_path: Path
    mask_path: Path | None  # None: no mask file (only allowed when has_mass is False)
    extra: dict = field(default_factory=dict)


def read_csv_records(path: Path, required: tuple[str, ...], needed_by: str, items: str = "cases") -> list[dict]:
    """The rows of a dataset's index CSV (`meta.csv`, `labels.csv`) as dicts, in file order.

    A missing or unreadable file, a missing required column or no rows at all is one DataError naming the file;
    `needed_by` says which layout needs the file, `items` what its rows list.
    """
    if not path.is_file():
        raise DataError(path, f"file not found ({needed_by})")
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            columns, rows = reader.fieldnames or [], list(reader)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(path, f"not a readable CSV file: {exc}") from None
    missing = [c for c in required if c not in columns]
    if missing:
        raise DataError(path, f"missing column(s) {', '.join(missing)}; found {', '.join(columns) or 'none'}")
    if not rows:
        raise DataError(path, f"no {items} listed (header only or empty file)")
    return rows


def _read_meta(root: Path) -> list[dict]:
    return read_csv_records(root / META_FILE, REQUIRED_COLUMNS,
                            "every oulu-mass / INbreast-like dataset needs meta.csv")


def _parse_row(meta: Path, line: int, row: dict) -> tuple[str, str, bool]:
    case_id, split, has_mass = (str(row.get(c) or "").strip() for c in REQUIRED_COLUMNS)
    if not case_id:
        raise DataError(meta, f"line {line}: empty id")
    if split not in SPLITS:
        raise DataError(meta, f"line {line} ({case_id}): split {split!r} is not one of {', '.join(SPLITS)}")
    if has_mass not in ("0", "1"):
        raise DataError(meta, f"line {line} ({case_id}): has_mass must be 0 or 1, got {has_mass!r}")
    return case_id, split, has_mass == "1"


def find_image(root: Path, case_id: str) -> Path:
    """The one image `<root>/images/<case_id>.<ext>` (DICOM or raster), as the oulu-mass and kth-cls layouts name
    it; none or several is a DataError."""
    found = [root / "images" / f"{case_id}{s}" for s in IMAGE_SUFFIXES if (root / "images" / f"{case_id}{s}").is_file()]
    if not found:
        raise DataError(root / "images" / f"{case_id}.dcm",
                        f"no image for case {case_id!r} (looked for {', '.join(IMAGE_SUFFIXES)})")
    if len(found) > 1:
        raise DataError(found[0], f"case {case_id!r} has several images: {', '.join(p.name for p in found)}")
    return found[0]


def read_mass_dataset(root: str | Path) -> list[MassRecord]:
    """Cases listed in meta.csv, in file order, with their files located; nothing is decoded yet.

    Files in images/ that meta.csv does not list are ignored (meta.csv is the dataset's definition).
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(root, "dataset folder not found")
    meta = root / META_FILE
    records, seen = [], set()
    for line, row in enumerate(_read_meta(root), start=2):
        case_id, split, has_mass = _parse_row(meta, line, row)
        if case_id in seen:
            raise DataError(meta, f"line {line}: duplicate id {case_id!r}")
        seen.add(case_id)
        mask_path = root / "masks" / f"{case_id}.png"
        if not mask_path.is_file():
            if has_mass:
                raise DataError(mask_path, f"mask not found, but meta.csv says case {case_id!r} has a mass")
            mask_path = None
        extra = {k: v for k, v in row.items() if k not in REQUIRED_COLUMNS and k is not None}
        records.append(MassRecord(case_id, split, has_mass, find_image(root, case_id), mask_path, extra))
    return records


def load_record(record: MassRecord, flip_to: str | None = None, apply_voi: bool = True):
    """(image, bool mask) of one case; image and mask are flipped together when `flip_to` is given."""
    validate_flip_target(flip_to)
    if record.image_path.suffix.lower() == ".dcm":
        dicom = read_dicom(record.image_path, apply_voi=apply_voi)
        image, side = dicom.pixels, dicom.chest_wall_side
    else:
        image = read_image(record.image_path)
        side = chest_wall_side(image)
    if record.mask_path is None:
        mask = np.zeros(image.shape, bool)
    else:
        mask = read_mask(record.mask_path, expected_shape=image.shape)
    if record.has_mass and not mask.any():
        raise DataError(record.mask_path, f"mask is empty, but meta.csv says case {record.id!r} has a mass")
    if not record.has_mass and mask.any():
        raise DataError(record.mask_path, f"mask has {int(mask.sum())} mass pixels, but meta.csv says "
                                          f"case {record.id!r} has no mass (has_mass=0)")
    image, flipped = flip_to_side(image, side, flip_to)
    if flipped:
        mask = np.ascontiguousarray(mask[:, ::-1])
    return image, mask


def load_mass_case(root: str | Path, case_id: str, flip_to: str | None = None, apply_voi: bool = True):
    """(image, bool mask) of case `case_id` of the dataset at `root`."""
    records = {r.id: r for r in read_mass_dataset(root)}
    if case_id not in records:
        raise DataError(Path(root) / META_FILE, f"no case with id {case_id!r}")
    return load_record(records[case_id], flip_to=flip_to, apply_voi=apply_voi)


class CropBox(NamedTuple):
    """Half-open pixel box: rows top..bottom-1, columns left..right-1."""

    top: int
    bottom: int
    left: int
    right: int

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.top, self.bottom), slice(self.left, self.right)


class BreastCrop(NamedTuple):
    image: np.ndarray
    mask: np.ndarray | None
    box: CropBox


def breast_region(image: np.ndarray) -> np.ndarray:
    """Bool map of the breast: Otsu foreground, opened, largest connected component; found at <= 512 px.

    The opening (kernel 2 % of the short side) cuts the thin bright film edges and label strips that
    would otherwise join the breast; the largest component drops labels and markers.
    """
    image = np.asarray(image)
    if image.ndim != 2 or image.size == 0:
        raise ValueError(f"breast_region needs a non-empty 2-D image, got shape {image.shape}")
    scale = min(1.0, _CROP_WORK_SIZE / max(image.shape))
    small_size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    small = cv2.resize(image.astype(np.float32), small_size, interpolation=cv2.INTER_AREA)
    if small.max() == small.min():
        return np.zeros(image.shape, bool)
    foreground = (small > threshold_otsu(small)).astype(np.uint8)
    kernel_size = max(3, round(0.02 * min(small.shape))) | 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (kernel_size, kernel_size))
    opened = cv2.morphologyEx(foreground, cv2.MORPH_OPEN, kernel)
    if opened.any():
        foreground = opened
    count, labels, stats, _ = cv2.connectedComponentsWithStats(foreground, connectivity=8)
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    region = (labels == largest).astype(np.uint8)
    return cv2.resize(region, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_NEAREST).astype(bool)


def breast_crop(image: np.ndarray, mask: np.ndarray | None = None, margin: float = 0.02) -> BreastCrop:
    """Crop image (and mask) to the breast's bounding box grown by `margin` x the image size on each side.

    Otsu's threshold lies above the faint skin line, so the margin gives the box back the few pixels of
    skin it misses. A blank image is returned whole.
    """
    image = np.asarray(image)
    if mask is not None and np.shape(mask) != image.shape:
        raise ValueError(f"mask shape {np.shape(mask)} differs from image shape {image.shape}")
    region = breast_region(image)
    height, width = image.shape
    if not region.any():
        box = CropBox(0, height, 0, width)
    else:
        rows, cols = np.flatnonzero(region.any(axis=1)), np.flatnonzero(region.any(axis=0))
        pad_y, pad_x = round(margin * height), round(margin * width)
        box = CropBox(max(0, int(rows[0]) - pad_y), min(height, int(rows[-1]) + 1 + pad_y),
                      max(0, int(cols[0]) - pad_x), min(width, int(cols[-1]) + 1 + pad_x))
    return BreastCrop(image[box.slices], None if mask is None else np.asarray(mask)[box.slices], box)


def dice(pred: np.ndarray, target: np.ndarray, empty: float = 1.0) -> float:
    """Dice 2|A∩B| / (|A| + |B|) of two masks (non-zero = foreground); `empty` when both are empty.

    The oulu-mass thesis averages Dice only over images with Dice > 0; that filtering belongs to the
    evaluation, not here.
    """
    a, b = np.asarray(pred) != 0, np.asarray(target) != 0
    if a.shape != b.shape:
        raise ValueError(f"dice: shapes differ, {a.shape} vs {b.shape}")
    total = int(a.sum()) + int(b.sum())
    if total == 0:
        return float(empty)
    return 2.0 * int(np.logical_and(a, b).sum()) / total
