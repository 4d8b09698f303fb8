"""Write a dataset in nnU-Net v2's raw format, with our train / val / test split, so nnU-Net can be run as a baseline
on exactly the images our models see.

    <out>/Dataset<ID>_<Name>/
        dataset.json          channel_names, labels (background 0, consecutive ids), numTraining, file_ending,
                              overwrite_image_reader_writer, name, description
        imagesTr/<case>_0000.<ext>   train + val cases (nnU-Net cross-validates inside imagesTr)
        labelsTr/<case>.<ext>
        imagesTs/<case>_0000.<ext>   test cases;  labelsTs/<case>.<ext> their labels (for nnUNetv2_evaluate_folder)
        splits_final.json     [{"train": [...], "val": [...]}]: our split as nnU-Net's fold 0 (only when the
                              dataset has val cases); copy it to $nnUNet_preprocessed/Dataset<ID>_<Name>/
        mammoseg-export.csv   one row per case: split, files written, sources
        mammoseg-export.json  what was exported, from where, with which label mapping

2-D datasets are written as PNG, read by nnU-Net's NaturalImage2DIO (grey 8/16-bit, or RGB in one `_0000` file
with channel_names R, G, B). `pig-ct` volumes are 3-D: nibabel / SimpleITK (for .nii.gz) are not dependencies, so
they are written as 3-D TIFF for nnU-Net's Tiff3DIO, each with the `<case>.json` spacing file it expects
(`{"spacing": [z, y, x]}`, mm from the DICOM headers, 1 for .npy volumes).
"""
from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import tifffile

from mammoseg.data.importer import CASE_PATTERN, export_label_map, labels_of
from mammoseg.errors import ConfigError, DataError
from mammoseg.io.annotations import dataset_label_set, list_cases
from mammoseg.io.cityscapes import list_cityscapes_pairs, read_cityscapes_pair
from mammoseg.io.inbreast import load_record, read_mass_dataset
from mammoseg.io.raster import write_image
from mammoseg.labels import CITYSCAPES19

from .crops import read_case
from .kinds import EXPORT_KINDS
from .outputs import atomic_dir, progress, write_csv, write_json
from .slices import compact_hu, load_scan, read_ct_dataset

DEFAULT_NAMES = {"kth-seg": "KthSeg", "oulu-mass": "OuluMass", "cityscapes": "Cityscapes", "pig-ct": "PigCT"}
_NAME_PATTERN = re.compile(r"[A-Za-z0-9_-]+")
CITYSCAPES_OFFSET = 1  # nnU-Net needs label 0 = "background"; Cityscapes has none, so train ids move up by one


@dataclass(frozen=True)
class ExportCase:
    case: str
    split: str  # train | val | test
    image_source: Path
    label_source: Path | None
    load: Callable[[], tuple[np.ndarray, np.ndarray, tuple | None]]  # (image, label, spacing) as exported


@dataclass(frozen=True)
class ExportSpec:
    kind: str
    channel_names: dict
    labels: dict
    file_ending: str
    reader_writer: str
    description: str
    cases: list[ExportCase]
    copy_image: bool = False  # the source file already is the exported image (Cityscapes' RGB PNG)


def _check_case(case: str, source: Path) -> str:
    if not CASE_PATTERN.fullmatch(case):
        raise DataError(source, f"case name {case!r} is not usable as an nnU-Net identifier "
                                "(letters, digits, '_' and '-' only)")
    return case


def _checked_png_image(image: np.ndarray, source: Path) -> np.ndarray:
    if image.ndim != 2 or image.dtype not in (np.uint8, np.uint16):
        raise DataError(source, f"nnU-Net PNG export needs a 2-D uint8/uint16 image, got {image.dtype} {image.shape}")
    return image


def _kth_seg_spec(root: Path, label_set=None) -> ExportSpec:
    label_set = dataset_label_set(root, label_set)

    def loader(case):
        def load():
            image, label = read_case(root, case, label_set)
            return _checked_png_image(image, root / case), export_label_map(label, label_set), None
        return load
    cases = [ExportCase(_check_case(c, root / c), s, root / c, root / c / "label.png", loader(c))
             for s in ("train", "val", "test") for c in list_cases(root, s)]
    return ExportSpec("kth-seg", {"0": "mammogram"}, labels_of(label_set), ".png", "NaturalImage2DIO",
                      f"kth-seg mammograms, {label_set.num_classes} classes (label set {label_set.name})", cases)


def _mass_spec(root: Path) -> ExportSpec:
    def loader(record):
        def load():
            image, mask = load_record(record)
            return _checked_png_image(image, record.image_path), mask.astype(np.uint8), None
        return load
    cases = [ExportCase(_check_case(r.id, r.image_path), r.split, r.image_path, r.mask_path, loader(r))
             for r in read_mass_dataset(root)]
    return ExportSpec("oulu-mass", {"0": "mammogram"}, {"background": 0, "mass": 1}, ".png", "NaturalImage2DIO",
                      "oulu-mass / INbreast-like binary mass segmentation", cases)


def cityscapes_export_labels(train_ids: np.ndarray) -> np.ndarray:
    """Train ids 0..18 -> 1..19, ignore 255 -> 20 (nnU-Net's ignore label must be the highest id)."""
    out = np.asarray(train_ids, np.uint8) + np.uint8(CITYSCAPES_OFFSET)
    out[np.asarray(train_ids) == CITYSCAPES19.ignore_id] = CITYSCAPES19.num_classes + CITYSCAPES_OFFSET
    return out


def _cityscapes_spec(root: Path) -> ExportSpec:
    def loader(pair):
        def load():
            image, train_ids = read_cityscapes_pair(pair)
            return image, cityscapes_export_labels(train_ids), None
        return load
    labels = {"background": 0, **{n: i + CITYSCAPES_OFFSET for i, n in enumerate(CITYSCAPES19.names)},
              "ignore": CITYSCAPES19.num_classes + CITYSCAPES_OFFSET}
    cases = [ExportCase(_check_case(p.name, p.image_path), split, p.image_path, p.label_path, loader(p))
             for split in ("train", "val") for p in list_cityscapes_pairs(root, split)]
    return ExportSpec("cityscapes", {"0": "R", "1": "G", "2": "B"}, labels, ".png", "NaturalImage2DIO",
                      "Cityscapes fine, 19 classes as train id + 1 (0 unused background, 20 ignore)", cases,
                      copy_image=True)


def _pig_ct_spec(root: Path) -> ExportSpec:
    def loader(scan):
        def load():
            hu, labels, spacing = load_scan(scan)
            return compact_hu(hu), labels.astype(np.uint8), spacing
        return load
    cases = [ExportCase(_check_case(s.scan, s.volume_path), s.split, s.volume_path, s.label_path, loader(s))
             for s in read_ct_dataset(root)]
    return ExportSpec("pig-ct", {"0": "CT"}, {"background": 0, "edible": 1}, ".tif", "Tiff3DIO",
                      "pig CT, edible vs background, HU volumes (z, y, x)", cases)


_SPECS = {"kth-seg": _kth_seg_spec, "oulu-mass": _mass_spec, "cityscapes": _cityscapes_spec,
          "pig-ct": _pig_ct_spec}


def export_spec(kind: str, root: str | Path, label_set=None) -> ExportSpec:
    """What to export; `label_set` (a name, JSON file or LabelSet) replaces a kth-seg dataset's own labels, the
    other layouts have fixed ones."""
    if kind == "kth-cls":
        raise ConfigError("kth-cls is an image classification dataset; nnU-Net trains segmentation models, so there "
                          "is nothing to export")
    if kind not in _SPECS:
        raise ConfigError(f"unknown dataset kind {kind!r}; export-nnunet supports {', '.join(EXPORT_KINDS)}")
    root = Path(root)
    if not root.is_dir():
        raise DataError(root, "dataset root not found")
    if label_set is not None and kind != "kth-seg":
        raise ConfigError(f"{kind} has a fixed label set; --labels applies to kth-seg datasets")
    return _kth_seg_spec(root, label_set) if kind == "kth-seg" else _SPECS[kind](root)


def dataset_folder_name(dataset_id: int, name: str) -> str:
    if not 1 <= int(dataset_id) <= 999:
        raise ConfigError(f"nnU-Net dataset ids are 1..999, got {dataset_id}")
    if not _NAME_PATTERN.fullmatch(name):
        raise ConfigError(f"dataset name {name!r} may hold only letters, digits, '_' and '-'")
    return f"Dataset{int(dataset_id):03d}_{name}"


def _write_volume(path: Path, array: np.ndarray, spacing) -> None:
    """A 3-D TIFF (zlib, lossless) plus the spacing file Tiff3DIO reads (the whole export folder is atomic)."""
    tifffile.imwrite(path, array, compression="zlib")
    case = path.name[: -len(".tif")]
    if case.endswith("_0000"):
        case = case[: -len("_0000")]
    write_json(path.with_name(f"{case}.json"), {"spacing": [float(s) for s in (spacing or (1.0, 1.0, 1.0))]})


def _export_case(spec: ExportSpec, case: ExportCase, folder: Path) -> dict:
    training = case.split in ("train", "val")
    image_path = folder / ("imagesTr" if training else "imagesTs") / f"{case.case}_0000{spec.file_ending}"
    label_path = folder / ("labelsTr" if training else "labelsTs") / f"{case.case}{spec.file_ending}"
    image, label, spacing = case.load()
    label_path.parent.mkdir(parents=True, exist_ok=True)
    image_path.parent.mkdir(parents=True, exist_ok=True)
    if spec.file_ending == ".tif":
        _write_volume(image_path, image, spacing)
        _write_volume(label_path, label, spacing)
    else:
        if spec.copy_image:
            shutil.copyfile(case.image_source, image_path)
        else:
            write_image(image_path, image)
        write_image(label_path, label)
    return {"case": case.case, "split": case.split, "image": str(image_path.relative_to(folder)),
            "label": str(label_path.relative_to(folder)), "image_source": str(case.image_source),
            "label_source": "" if case.label_source is None else str(case.label_source),
            "shape": "x".join(str(s) for s in label.shape),
            "label_values": " ".join(str(v) for v in np.unique(label).tolist())}


def nnunet_splits(cases: list[ExportCase]) -> list[dict] | None:
    """Our train / val split as nnU-Net's fold 0, or None when there is no val case to validate on."""
    val = [c.case for c in cases if c.split == "val"]
    if not val:
        return None
    return [{"train": [c.case for c in cases if c.split == "train"], "val": val}]


def export_nnunet(kind: str, root: str | Path, out_root: str | Path, dataset_id: int, name: str | None = None,
                  overwrite: bool = False, progress_bar: bool = True, label_set=None) -> Path:
    """Export the dataset at `root` to `<out_root>/Dataset<ID>_<Name>` (see the module docstring)."""
    folder_name = dataset_folder_name(dataset_id, name or DEFAULT_NAMES.get(kind, kind))
    spec = export_spec(kind, root, label_set)
    if not spec.cases:
        raise DataError(root, "no cases to export")
    if not any(c.split in ("train", "val") for c in spec.cases):
        raise DataError(root, "no train or val cases: nnU-Net needs training cases")
    target = Path(out_root) / folder_name
    with atomic_dir(target, overwrite) as folder:
        rows = [_export_case(spec, case, folder)
                for case in progress(spec.cases, desc=f"nnU-Net {folder_name}", unit="case", enabled=progress_bar)]
        _check_label_values(rows, spec.labels, folder)
        n_training = sum(1 for c in spec.cases if c.split in ("train", "val"))
        write_json(folder / "dataset.json", {
            "channel_names": spec.channel_names, "labels": spec.labels, "numTraining": n_training,
            "file_ending": spec.file_ending, "overwrite_image_reader_writer": spec.reader_writer,
            "name": folder_name, "description": spec.description})
        splits = nnunet_splits(spec.cases)
        if splits is not None:
            write_json(folder / "splits_final.json", splits)
        write_csv(folder / "mammoseg-export.csv", pd.DataFrame(rows))
        write_json(folder / "mammoseg-export.json", {
            "kind": kind, "root": str(root), "dataset": folder_name, "labels": spec.labels,
            "label_offset": CITYSCAPES_OFFSET if kind == "cityscapes" else 0,
            "splits_final": "fold 0 = our train/val split" if splits else "none (no val cases)",
            "counts": pd.DataFrame(rows)["split"].value_counts().to_dict()})
    return target


def _check_label_values(rows: list[dict], labels: dict, folder: Path) -> None:
    """Every exported label value must be declared in dataset.json (nnU-Net's verify_dataset_integrity)."""
    declared = set(labels.values())
    for row in rows:
        found = {int(v) for v in row["label_values"].split()}
        if not found <= declared:
            raise DataError(row["label_source"] or folder, f"label values {sorted(found - declared)} are not in "
                                                           f"the label set {sorted(declared)}")
