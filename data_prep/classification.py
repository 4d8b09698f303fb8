"""Build the `kth-cls` classification set (seed 004 §4.1, L1377-1413) from a DDSM-like folder.

Input layout:
    <root>/images/<id>.{png,pgm,tif,tiff,dcm}   one mammogram per id
    <root>/labels.csv                           columns id, class (normal | benign | cancer; "malignant" = cancer),
                                                optional split (train | val | test)
    <root>/rois/<id>.png                        optional binary ROI mask of a benign / cancer image
(the layout `mammoseg.data.synthetic_ddsm.make_ddsm_like` writes; other labels.csv columns are ignored)

Every image goes through `kth_cls_preprocess` (square crop -> bilinear 1024² -> [0, 1] -> CLAHE 8x8 / 0.02 ->
128²). As in the thesis, an abnormal image whose ROI the square crop cut away is dropped (L1384-1389), and without a
split column the kept images are split 80/20 per class (the thesis' test shares are 0.1997-0.1999 for every class).

Output: one HDF5 file, format "mammoseg-class-store" v1:
    /images    (N, s, s) float32 in [0, 1]
    /masks     (N, s, s) uint8 ROI masks (0/1; all 0 for normal images and images without a mask file)
    /manifest  id, split, class_name, class_id (DDSM3: normal 0, benign 1, cancer 2), source, mask_source,
               top, left, side (the square crop in the source image), roi_pixels_work (at the work size),
               roi_pixels (at s)
    attributes format, format_version, generator_version, label_set, class_names, config (JSON), split_source,
               n_images, dropped (JSON list of {id, class_name, reason})
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from mammoseg.data.preprocess import KthClsParams, kth_cls_preprocess
from mammoseg.errors import ConfigError, DataError
from mammoseg.io.dicom import read_dicom
from mammoseg.io.inbreast import find_image, read_csv_records
from mammoseg.io.raster import read_image, read_mask
from mammoseg.labels import DDSM3

from .outputs import (append, atomic_h5, generator_version, growing_dataset, open_store, progress, read_attrs,
                      read_manifest, write_attrs, write_manifest)

FORMAT_NAME = "mammoseg-class-store"
FORMAT_VERSION = 1
LABELS_FILE = "labels.csv"
ROI_DIR = "rois"
CLASS_ALIASES = {"malignant": "cancer"}
CLASS_SPLITS = ("train", "val", "test")
DEFAULT_TEST_FRACTION = 0.2  # seed 004 L1394-1395: "80% ... training set and the rest ... test set"


@dataclass(frozen=True)
class ClsRecord:
    id: str
    class_name: str
    split: str | None  # None: not given in labels.csv (assigned by `stratified_split`)
    image_path: Path
    mask_path: Path | None


def read_image_any(path: Path) -> np.ndarray:
    """A 2-D mammogram from a DICOM (display pipeline applied) or a raster file."""
    return read_dicom(path).pixels if path.suffix.lower() == ".dcm" else read_image(path)


def _class_name(labels: Path, line: int, value: str) -> str:
    name = CLASS_ALIASES.get(value.strip().lower(), value.strip().lower())
    if name not in DDSM3.names:
        raise DataError(labels, f"line {line}: class {value!r} is not one of {', '.join(DDSM3.names)} (or malignant)")
    return name


def read_cls_dataset(root: str | Path) -> list[ClsRecord]:
    """Records of labels.csv in file order, with their image (and optional mask) files located."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(root, "dataset folder not found")
    labels = root / LABELS_FILE
    rows = read_csv_records(labels, ("id", "class"), "a kth-cls dataset needs labels.csv with columns id, class",
                            items="images")
    has_split = "split" in rows[0]
    records, seen = [], set()
    for line, row in enumerate(rows, start=2):
        case_id = (row.get("id") or "").strip()
        if not case_id:
            raise DataError(labels, f"line {line}: empty id")
        if case_id in seen:
            raise DataError(labels, f"line {line}: duplicate id {case_id!r}")
        seen.add(case_id)
        split = (row.get("split") or "").strip() if has_split else None
        if has_split and split not in CLASS_SPLITS:
            raise DataError(labels, f"line {line} ({case_id}): split {split!r} is not one of {', '.join(CLASS_SPLITS)}")
        mask = root / ROI_DIR / f"{case_id}.png"
        records.append(ClsRecord(case_id, _class_name(labels, line, row.get("class") or ""), split,
                                 find_image(root, case_id), mask if mask.is_file() else None))
    return records


def stratified_split(ids, classes, test_fraction: float = DEFAULT_TEST_FRACTION, seed: int = 0) -> dict[str, str]:
    """id -> "train" / "test": per class, round(n x test_fraction) ids drawn at random (seeded) go to test."""
    if not 0.0 <= test_fraction < 1.0:
        raise ConfigError(f"test fraction must be in [0, 1), got {test_fraction}")
    ids, classes = list(ids), list(classes)
    split = dict.fromkeys(ids, "train")
    for class_index, name in enumerate(sorted(set(classes))):
        members = sorted(i for i, c in zip(ids, classes) if c == name)
        rng = np.random.default_rng([seed, class_index])
        for i in rng.permutation(len(members))[:round(len(members) * test_fraction)]:
            split[members[i]] = "test"
    return split


def _load(record: ClsRecord) -> tuple[np.ndarray, np.ndarray | None]:
    image = read_image_any(record.image_path)
    if image.ndim != 2:
        raise DataError(record.image_path, f"expected a 2-D grayscale image, got shape {image.shape}")
    mask = None if record.mask_path is None else read_mask(record.mask_path, expected_shape=image.shape)
    if mask is not None and record.class_name == "normal" and mask.any():
        raise DataError(record.mask_path, f"image {record.id!r} is labelled normal but its ROI mask is not empty")
    return image, mask


@dataclass
class ClsBuildReport:
    path: Path
    counts: dict = field(default_factory=dict)  # (split, class_name) -> kept images
    dropped: list = field(default_factory=list)


def build_classification_set(root: str | Path, out_path: str | Path, params: KthClsParams = KthClsParams(),
                             test_fraction: float = DEFAULT_TEST_FRACTION, seed: int = 0,
                             progress_bar: bool = True) -> ClsBuildReport:
    """Preprocess every image of the dataset into one classification store (see the module docstring)."""
    records = read_cls_dataset(root)
    out_path = Path(out_path)
    size = params.out_size
    rows, dropped = [], []
    with atomic_h5(out_path) as handle:
        images = growing_dataset(handle, "images", (size, size), np.float32)
        masks = growing_dataset(handle, "masks", (size, size), np.uint8)
        for record in progress(records, desc="kth-cls", unit="image", enabled=progress_bar):
            image, mask = _load(record)
            sample = kth_cls_preprocess(image, mask, params)
            if record.class_name != "normal" and mask is not None and sample.roi_pixels_work == 0:
                dropped.append({"id": record.id, "class_name": record.class_name,
                                "reason": "the square crop cut the annotated ROI away"})
                continue
            append(images, sample.image)
            append(masks, np.zeros((size, size), np.uint8) if sample.mask is None else sample.mask.astype(np.uint8))
            rows.append({"id": record.id, "split": record.split or "", "class_name": record.class_name,
                         "class_id": DDSM3.id(record.class_name), "source": str(record.image_path),
                         "mask_source": "" if record.mask_path is None else str(record.mask_path),
                         "top": sample.box.top, "left": sample.box.left, "side": sample.box.bottom - sample.box.top,
                         "roi_pixels_work": sample.roi_pixels_work,
                         "roi_pixels": 0 if sample.mask is None else int(sample.mask.sum())})
        if not rows:
            raise DataError(Path(root) / LABELS_FILE, "every image was dropped; nothing to write")
        frame = pd.DataFrame(rows).astype({"class_id": np.int16, "top": np.int32, "left": np.int32,
                                           "side": np.int32, "roi_pixels_work": np.int64, "roi_pixels": np.int64})
        given = all(r.split is not None for r in records)
        if given:
            split_source = LABELS_FILE
        else:  # the thesis splits after dropping (L1394): only kept images are split
            assigned = stratified_split(frame["id"], frame["class_name"], test_fraction, seed)
            frame["split"] = frame["id"].map(assigned)
            split_source = f"stratified per class, test fraction {test_fraction}, seed {seed}"
        write_manifest(handle, frame)
        write_attrs(handle, {
            "format": FORMAT_NAME, "format_version": FORMAT_VERSION,
            "generator_version": generator_version(FORMAT_NAME, FORMAT_VERSION), "label_set": DDSM3.name,
            "class_names": list(DDSM3.names), "n_images": len(frame), "split_source": split_source,
            "dropped": dropped, "config": {"root": str(root), "test_fraction": test_fraction, "seed": seed,
                                           **asdict(params)}})
    counts = frame.groupby(["split", "class_name"]).size().to_dict()
    return ClsBuildReport(out_path, counts, dropped)


@dataclass
class ClassStore:
    path: Path
    manifest: pd.DataFrame
    attrs: dict
    images: np.ndarray | None = field(default=None, repr=False)
    masks: np.ndarray | None = field(default=None, repr=False)


def read_class_store(path: str | Path, arrays: bool = True) -> ClassStore:
    path = Path(path)
    with open_store(path, FORMAT_NAME, FORMAT_VERSION, ("images", "masks", "manifest")) as handle:
        try:
            manifest = read_manifest(handle)
            images = handle["images"][...] if arrays else None
            masks = handle["masks"][...] if arrays else None
            attrs = read_attrs(handle)
        except (OSError, KeyError, ValueError) as exc:
            raise DataError(path, f"cannot read classification store contents: {exc}") from None
    return ClassStore(path, manifest, attrs, images, masks)
