"""A researcher's own labelled images -> the nnU-Net v2 raw layout, the package's general dataset format.

Two sources are understood:
- an images folder and a masks folder, paired by file stem (`<images>/<stem>.<ext>`, `<masks>/<stem><suffix>.png`),
  each mask value mapped to a class by a value -> class table (`{"background": 0, "mass": 255}`);
- per-class binary masks in the kth-seg layout (`<root>/<case>/image.<ext>`, `<root>/<case>/masks/<class>.png`),
  merged into one label map by a priority order (the class ranked first is painted on top).

Written (one folder, which appears whole or not at all):

    <out>/dataset.json            channel_names, labels {name: id}, numTraining, file_ending ".png", name, ...
    <out>/imagesTr/<case>_0000.png   train + val cases; imagesTs/ for test cases
    <out>/labelsTr/<case>.png        uint8 class ids; labelsTs/ for test cases
    <out>/splits_final.json       [{"train": [...], "val": [...]}] when some cases are marked val
    <out>/mammoseg-import.csv     one row per case: split, sources, shape, dtype, label values
    <out>/mammoseg-import.json    what was imported, from where, with which mapping, what was skipped

Images stay 2-D grayscale at their stored bit depth (8-bit PNG stays 8-bit, 16-bit stays 16-bit); DICOM is
decoded as displayed (`mammoseg.io.dicom.read_dicom`: modality LUT, VOI LUT / window, MONOCHROME1 inverted, no
flip) and written as a 16-bit PNG. Case names are the file stems (kth-seg: the case folders) with every character
nnU-Net does not allow replaced by "_"; two sources that end up with one name are an error, not an overwrite.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..errors import ConfigError, DataError
from ..io.annotations import (IMAGE_STEM, MASKS_DIR, SPLITS, SPLITS_FILE, list_mask_files, merge_masks,
                              read_splits)
from ..io.atomic import atomic_folder, atomic_write_bytes
from ..io.raster import RASTER_SUFFIXES, read_image, read_mask, write_image
from ..labels import LabelSet

DICOM_SUFFIXES = (".dcm", ".dicom")
IMAGE_SUFFIXES = RASTER_SUFFIXES + DICOM_SUFFIXES
CASE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")  # nnU-Net identifiers: letters, digits, '_' and '-'
CHANNEL_SUFFIX = "_0000"
FILE_ENDING = ".png"
READER_WRITER = "NaturalImage2DIO"
BACKGROUND = "background"  # nnU-Net requires the class with id 0 to carry this name
IMPORT_CSV = "mammoseg-import.csv"
IMPORT_JSON = "mammoseg-import.json"


@dataclass(frozen=True)
class SourceCase:
    """One case to import: its image and either one value-coded mask or per-class binary masks (or none)."""

    case: str
    split: str  # train | val | test
    image: Path
    mask: Path | None = None  # value-coded label mask (images + masks folders)
    class_masks: dict = field(default_factory=dict)  # class name -> binary mask file (kth-seg layout)

    @property
    def labelled(self) -> bool:
        return self.mask is not None or bool(self.class_masks)


@dataclass
class ImportReport:
    path: Path
    counts: dict  # split -> cases written
    skipped: list  # source images left out (no mask), with --skip-unlabelled
    dicom: int  # DICOM images written as 16-bit PNG


# ------------------------------------------------------------------------------------------------- names
def case_name(stem: str) -> str:
    """`stem` made a valid nnU-Net case identifier: runs of other characters become one '_'."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", stem)
    name = re.sub(r"^[_-]+|_+$", "", name)
    if not CASE_PATTERN.fullmatch(name):
        raise DataError(None, f"cannot make a case name from {stem!r} (needs a letter or digit)")
    return name


def check_unique_cases(cases: list[SourceCase]) -> None:
    """Two sources with one case name (also when they differ only in letter case) would overwrite each other."""
    seen: dict[str, SourceCase] = {}
    clashes = []
    for c in cases:
        key = c.case.lower()
        if key in seen:
            clashes.append(f"{seen[key].image.name} and {c.image.name} -> {c.case!r}")
        else:
            seen[key] = c
    if clashes:
        raise DataError(cases[0].image.parent, "case names collide after making them nnU-Net identifiers: "
                                               + "; ".join(clashes) + " (rename the files)")


# ------------------------------------------------------------------------------------------------- class tables
def parse_class_spec(spec) -> dict[str, int | None]:
    """Classes in id order from `name=value,...` / `name,...` text, a JSON file {name: value}, or a dict.

    Values are mask values (value-coded masks); names without values are for per-class binary masks, whose file
    names say the class. The first class gets id 0 and must be "background" (nnU-Net's rule).
    """
    source = spec
    if isinstance(spec, (str, Path)) and str(spec).lower().endswith(".json"):
        path = Path(spec)
        try:
            source = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DataError(path, "class table not found") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DataError(path, f"not a readable JSON class table: {exc}") from None
        if not isinstance(source, dict) or not source:
            raise DataError(path, 'expected a JSON object {"background": value, "class": value, ...}')
    if isinstance(source, str):
        items = [item.strip() for item in source.split(",") if item.strip()]
        table = {}
        for item in items:
            name, _, value = item.partition("=")
            if name.strip() in table:
                raise ConfigError(f"class {name.strip()!r} is listed twice in {spec!r}")
            table[name.strip()] = value.strip() if "=" in item else None
        source = table
    classes: dict[str, int | None] = {}
    for name, value in dict(source).items():
        if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_ -]*", str(name)):
            raise ConfigError(f"class name {name!r}: use letters, digits, '_', '-' and spaces")
        if value is not None:
            try:
                value = int(value)
            except (TypeError, ValueError):
                raise ConfigError(f"class {name!r}: mask value {value!r} is not an integer") from None
            if not 0 <= value <= 65535:
                raise ConfigError(f"class {name!r}: mask value {value} is outside 0..65535")
        classes[str(name)] = value
    if not classes:
        raise ConfigError(f"no classes in {spec!r}")
    first = next(iter(classes))
    if first != BACKGROUND:
        raise ConfigError(f"the first class gets id 0 and must be named {BACKGROUND!r} (nnU-Net's rule), got "
                          f"{first!r}: list background first")
    given = [v for v in classes.values() if v is not None]
    if given and len(given) != len(classes):
        raise ConfigError(f"give a mask value for every class or for none: {spec!r}")
    if len(set(given)) != len(given):
        raise ConfigError(f"two classes share one mask value in {spec!r}")
    return classes


def label_set_of(classes, name: str = "custom", priority=()) -> LabelSet:
    """The label set of a class table (ids = order), with an optional merge priority (top first)."""
    labels = {n: i for i, n in enumerate(classes)}
    spec = {"name": name, "labels": labels}
    if priority:
        spec["priority"] = list(priority)
    return LabelSet.from_json(spec)


def with_priority(label_set: LabelSet, priority=()) -> LabelSet:
    """`label_set` with a merge priority: the given names (top first; background goes last if left out), else the
    set's own; none at all is allowed when masks never overlap (checked per case)."""
    if priority:
        order = [p for p in priority]
        unknown = sorted(set(order) - set(label_set.names))
        if unknown:
            raise ConfigError(f"priority names unknown classes {unknown}; classes: {list(label_set.names)}")
        if label_set.background is not None and label_set.background not in order:
            order.append(label_set.background)
        missing = [n for n in label_set.names if n not in order]
        if missing:
            raise ConfigError(f"priority must rank every class; missing {missing}")
        return replace(label_set, priority=tuple(order))
    return label_set


# ------------------------------------------------------------------------------------------------- splits
def read_split_table(path) -> dict[str, str]:
    """stem or case -> split from a CSV with columns `split` and `case` (or `id`); e.g. an oulu-mass meta.csv."""
    from ..io.inbreast import read_csv_records

    path = Path(path)
    rows = read_csv_records(path, ("split",), "import --splits: columns case (or id) and split")
    key = "case" if "case" in rows[0] else "id" if "id" in rows[0] else None
    if key is None:
        raise DataError(path, "needs a column 'case' (or 'id') naming each image by its file stem")
    table: dict[str, str] = {}
    for line, row in enumerate(rows, start=2):
        name, split = (row.get(key) or "").strip(), (row.get("split") or "").strip()
        if split not in SPLITS:
            raise DataError(path, f"line {line} ({name}): split {split!r} is not one of {', '.join(SPLITS)}")
        if name in table:
            raise DataError(path, f"line {line}: {name!r} listed twice")
        table[name] = split
    return table


def _assign_splits(found: list[tuple[str, str]], splits: dict | None, where: Path) -> dict[str, str]:
    """(stem, case) pairs -> case -> split; a split table must name every case (by stem or case name) and nothing
    else."""
    if splits is None:
        return {case: "train" for _, case in found}
    out, unlisted = {}, []
    for stem, case in found:
        split = splits.get(stem, splits.get(case))
        if split is None:
            unlisted.append(stem)
        out[case] = split
    if unlisted:
        raise DataError(where, f"{len(unlisted)} case(s) missing from the split table: {_listing(unlisted)}")
    known = {s for s, _ in found} | {c for _, c in found}
    extra = sorted(set(splits) - known)
    if extra:
        raise DataError(where, f"the split table lists {len(extra)} case(s) with no image: {_listing(extra)}")
    return out


def _listing(names, limit: int = 10) -> str:
    names = list(names)
    return ", ".join(names[:limit]) + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")


# ------------------------------------------------------------------------------------------------- sources
def _files_by_stem(folder: Path, suffixes, what: str) -> dict[str, Path]:
    """stem -> file for the files of `folder` with one of `suffixes` (hidden files and others ignored)."""
    if not folder.is_dir():
        raise DataError(folder, f"{what} folder not found")
    files: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not path.is_file() or path.suffix.lower() not in suffixes:
            continue
        if path.stem in files:
            raise DataError(path, f"two {what} files with stem {path.stem!r}: {files[path.stem].name}, {path.name}")
        files[path.stem] = path
    if not files:
        raise DataError(folder, f"no {what} files ({', '.join(suffixes)})")
    return files


def pair_folders(images_dir, masks_dir, mask_suffix: str = "", splits: dict | None = None,
                 skip_unlabelled: bool = False) -> tuple[list[SourceCase], list[Path]]:
    """(cases, skipped images): every image paired with the mask `<stem><mask_suffix>` of the masks folder.

    A mask without an image is always an error; an image without a mask is one too unless `skip_unlabelled`.
    """
    images_dir, masks_dir = Path(images_dir), Path(masks_dir)
    images = _files_by_stem(images_dir, IMAGE_SUFFIXES, "image")
    masks = _files_by_stem(masks_dir, RASTER_SUFFIXES, "mask")
    if images_dir.resolve() == masks_dir.resolve():  # one folder: `<stem>.png` next to `<stem><suffix>.png`
        if not mask_suffix:
            raise ConfigError("images and masks in one folder need a --mask-suffix (e.g. _mask) to tell them apart")
        masks = {s: p for s, p in masks.items() if s.endswith(mask_suffix)}
        images = {s: p for s, p in images.items() if s not in masks}
    mask_of = {}
    orphans = []
    for stem, path in masks.items():
        if mask_suffix and not stem.endswith(mask_suffix) or stem[: len(stem) - len(mask_suffix)] not in images:
            orphans.append(path.name)
        else:
            mask_of[stem[: len(stem) - len(mask_suffix)]] = path
    if orphans:
        raise DataError(masks_dir, f"{len(orphans)} mask(s) without an image <stem>{{{','.join(IMAGE_SUFFIXES)}}} "
                                   f"in {images_dir} (mask suffix {mask_suffix!r}): {_listing(orphans)}")
    unlabelled = [stem for stem in images if stem not in mask_of]
    if unlabelled and not skip_unlabelled:
        raise DataError(images_dir, f"{len(unlabelled)} image(s) without a mask <stem>{mask_suffix}.png in "
                                    f"{masks_dir}: {_listing(unlabelled)} (pass --skip-unlabelled to leave them out)")
    kept = [stem for stem in images if stem in mask_of]
    if not kept:
        raise DataError(masks_dir, "no image has a mask")
    found = [(stem, case_name(stem)) for stem in kept]
    if splits is not None:  # a split table may also list the unlabelled images that are being skipped
        splits = {k: v for k, v in splits.items() if k not in unlabelled}
    split_of = _assign_splits(found, splits, images_dir)
    cases = [SourceCase(case, split_of[case], images[stem], mask=mask_of[stem]) for stem, case in found]
    check_unique_cases(cases)
    return cases, [images[stem] for stem in unlabelled]


def _case_image(case_dir: Path) -> Path:
    found = [case_dir / f"{IMAGE_STEM}{s}" for s in IMAGE_SUFFIXES if (case_dir / f"{IMAGE_STEM}{s}").is_file()]
    if not found:
        raise DataError(case_dir, f"no {IMAGE_STEM}{{{','.join(IMAGE_SUFFIXES)}}} in the case folder")
    if len(found) > 1:
        raise DataError(case_dir, f"several images: {', '.join(p.name for p in found)}; keep one")
    return found[0]


def kthseg_cases(root, label_set: LabelSet, splits: dict | None = None,
                 skip_unlabelled: bool = False) -> tuple[list[SourceCase], list[Path]]:
    """(cases, skipped images) of a kth-seg layout root: the cases of its splits.csv (else every sub-folder holding
    an image, all train), each with its `masks/<class>.png` files."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(root, "dataset root not found")
    if splits is None and (root / SPLITS_FILE).is_file():
        splits = read_splits(root)
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")
                     and any((p / f"{IMAGE_STEM}{s}").is_file() for s in IMAGE_SUFFIXES))
    if splits is not None:
        folders = [root / name for name in splits]
    if not folders:
        raise DataError(root, f"no case folders <case>/{IMAGE_STEM}.<ext>")
    cases, skipped = [], []
    unlabelled = []
    for folder in folders:
        image = _case_image(folder)
        if not (folder / MASKS_DIR).is_dir():
            unlabelled.append(folder.name)
            skipped.append(image)
            continue
        split = "train" if splits is None else splits.get(folder.name)
        if split is None:
            raise DataError(folder, "case missing from the split table")
        cases.append(SourceCase(case_name(folder.name), split, image,
                                class_masks=list_mask_files(folder, label_set)))
    if unlabelled and not skip_unlabelled:
        raise DataError(root, f"{len(unlabelled)} case(s) without a {MASKS_DIR}/ folder: {_listing(unlabelled)} "
                              "(pass --skip-unlabelled to leave them out)")
    if not cases:
        raise DataError(root, "no case has masks")
    check_unique_cases(cases)
    return cases, skipped


# ------------------------------------------------------------------------------------------------- pixels
def read_source_image(path: Path) -> tuple[np.ndarray, bool]:
    """(2-D uint8 / uint16 image, from DICOM); DICOM is decoded as displayed and always returned as uint16."""
    if path.suffix.lower() in DICOM_SUFFIXES:
        from ..io.dicom import read_dicom

        pixels = read_dicom(path).pixels
        if pixels.dtype.kind == "f":
            raise DataError(path, "DICOM pixels are not integers after the modality / VOI transform; a PNG cannot "
                                  "hold them (export the image as 16-bit PNG first)")
        return pixels.astype(np.uint16), True
    image = read_image(path)
    if image.dtype not in (np.uint8, np.uint16):
        raise DataError(path, f"{image.dtype} image: only 8- and 16-bit integer images are imported (a PNG holds "
                              "nothing else); rescale it to uint16 first")
    return image, False


def value_lookup(classes: dict[str, int]) -> dict[int, int]:
    """mask value -> class id (ids in the order of the class table)."""
    return {int(value): i for i, value in enumerate(classes.values())}


def map_mask_values(mask: np.ndarray, lookup: dict[int, int], path: Path) -> np.ndarray:
    """A value-coded mask -> uint8 class ids; a value the table does not name is a DataError."""
    values = np.unique(mask)
    unknown = [int(v) for v in values if int(v) not in lookup]
    if unknown:
        counts = {v: int(np.count_nonzero(mask == v)) for v in unknown[:6]}
        raise DataError(path, f"mask values {unknown[:20]} are not in the class table (pixels: {counts}); the table "
                              f"maps {sorted(lookup)}")
    lut_values = np.array(sorted(lookup), dtype=np.int64)
    lut_ids = np.array([lookup[v] for v in lut_values], dtype=np.uint8)
    return lut_ids[np.searchsorted(lut_values, mask.astype(np.int64))]


def merge_class_masks(case: SourceCase, shape, label_set: LabelSet, sigma: float = 0.0) -> np.ndarray:
    """The case's binary masks painted into one label map by the set's priority (top class last); with no
    priority, overlapping masks are a DataError (there is no rule to decide the pixel)."""
    masks = {name: read_mask(path, expected_shape=shape) for name, path in case.class_masks.items()}
    if not label_set.priority:
        names = sorted(masks)
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                both = int(np.count_nonzero(masks[a] & masks[b]))
                if both:
                    raise DataError(case.class_masks[a].parent, f"masks {a!r} and {b!r} overlap on {both} pixels "
                                                                "and no priority is given (--priority, top first)")
        background = label_set.background or label_set.names[0]
        label_set = replace(label_set, background=background,
                            priority=tuple(n for n in label_set.names if n != background) + (background,))
    return merge_masks(masks, shape, label_set=label_set, sigma=sigma)


def load_case(case: SourceCase, label_set: LabelSet, lookup: dict[int, int] | None,
              sigma: float = 0.0) -> tuple[np.ndarray, np.ndarray, bool]:
    """(image, uint8 label map, image was DICOM) of one source case, every id checked against the label set."""
    image, from_dicom = read_source_image(case.image)
    if image.ndim != 2:
        raise DataError(case.image, f"expected a 2-D grayscale image, got shape {image.shape}")
    if case.mask is not None:
        mask = read_image(case.mask)
        if mask.shape != image.shape:
            raise DataError(case.mask, f"mask shape {mask.shape} differs from image shape {image.shape} "
                                       f"({case.image.name})")
        if mask.dtype.kind == "f":
            raise DataError(case.mask, f"{mask.dtype} mask: masks hold integer values")
        label = map_mask_values(mask, lookup, case.mask)
        source = case.mask
    else:
        label = merge_class_masks(case, image.shape, label_set, sigma)
        source = case.image.parent / MASKS_DIR
    label_set.check_ids(label, source)
    return image, label, from_dicom


# ------------------------------------------------------------------------------------------------- writing
def _write_json(path: Path, content) -> None:
    atomic_write_bytes(path, (json.dumps(content, indent=2) + "\n").encode("utf-8"))


def labels_of(label_set: LabelSet) -> dict:
    """nnU-Net's label dict (name -> id) in id order; an ignore id becomes "ignore", the id after the last class
    (nnU-Net wants it highest and consecutive; `export_label_map` moves the pixels)."""
    labels = {name: i for i, name in enumerate(label_set.names)}
    if label_set.ignore_id is not None:
        labels["ignore"] = label_set.num_classes
    return labels


def export_label_map(label: np.ndarray, label_set: LabelSet) -> np.ndarray:
    """A label map in `labels_of(label_set)` ids: the ignore id (if any) moved to the id after the last class."""
    if label_set.ignore_id is None or label_set.ignore_id == label_set.num_classes:
        return label
    out = label.copy()
    out[label == label_set.ignore_id] = label_set.num_classes
    return out


def dataset_json(label_set: LabelSet, n_training: int, name: str, channel_name: str, description: str) -> dict:
    """nnU-Net v2's dataset.json for a 2-D grayscale PNG dataset."""
    return {"channel_names": {"0": channel_name}, "labels": labels_of(label_set), "numTraining": int(n_training),
            "file_ending": FILE_ENDING, "overwrite_image_reader_writer": READER_WRITER, "name": name,
            "description": description}


def import_cases(cases: list[SourceCase], out, label_set: LabelSet, *, classes: dict | None = None,
                 sigma: float = 0.0, channel_name: str = "mammogram", skipped=(), source: dict | None = None,
                 overwrite: bool = False, progress: bool = True) -> ImportReport:
    """Write `cases` in the nnU-Net v2 raw layout at `out` (see the module docstring), atomically.

    `classes` (name -> mask value) decodes value-coded masks; per-class masks are merged by `label_set`'s priority
    with Gaussian smoothing `sigma` of its smoothed classes (0: exactly as drawn).
    """
    out = Path(out)
    if out.exists() and not overwrite:
        raise ConfigError(f"{out} already exists; pass --overwrite to replace it")
    if not cases:
        raise DataError(out, "no cases to import")
    if not any(c.split in ("train", "val") for c in cases):
        raise DataError(out, "no train or val cases: a dataset needs training cases")
    lookup = value_lookup(classes) if classes else None
    if lookup is None and any(c.mask is not None for c in cases):
        raise ConfigError("value-coded masks need a class table (--classes background=0,mass=255 or a JSON file)")
    rows, n_dicom = [], 0
    with atomic_folder(out) as folder:
        for case in tqdm(cases, desc=f"import {out.name}", unit="case", disable=not progress):
            image, label, from_dicom = load_case(case, label_set, lookup, sigma)
            n_dicom += from_dicom
            part = "Tr" if case.split in ("train", "val") else "Ts"
            image_path = folder / f"images{part}" / f"{case.case}{CHANNEL_SUFFIX}{FILE_ENDING}"
            label_path = folder / f"labels{part}" / f"{case.case}{FILE_ENDING}"
            image_path.parent.mkdir(exist_ok=True)
            label_path.parent.mkdir(exist_ok=True)
            write_image(image_path, image)
            write_image(label_path, export_label_map(label, label_set))
            rows.append({"case": case.case, "split": case.split, "image": str(image_path.relative_to(folder)),
                         "label": str(label_path.relative_to(folder)), "image_source": str(case.image),
                         "mask_source": str(case.mask) if case.mask is not None
                         else " ".join(str(p) for p in case.class_masks.values()),
                         "shape": "x".join(str(s) for s in image.shape), "dtype": str(image.dtype),
                         "dicom": int(from_dicom), "label_values": " ".join(str(v) for v in np.unique(label))})
        n_training = sum(1 for c in cases if c.split in ("train", "val"))
        description = (source or {}).get("description", "imported with mammoseg-prep import")
        _write_json(folder / "dataset.json", dataset_json(label_set, n_training, out.name, channel_name,
                                                          description))
        val = [c.case for c in cases if c.split == "val"]
        if val:
            _write_json(folder / "splits_final.json",
                        [{"train": [c.case for c in cases if c.split == "train"], "val": val}])
        import pandas as pd

        atomic_write_bytes(folder / IMPORT_CSV, pd.DataFrame(rows).to_csv(index=False, lineterminator="\n")
                           .encode("utf-8"))
        counts = {s: sum(1 for c in cases if c.split == s) for s in SPLITS}
        _write_json(folder / IMPORT_JSON, {
            **(source or {}), "label_set": label_set.to_json(),
            "mask_values": None if not classes else {n: int(v) for n, v in classes.items()},
            "merge_sigma": float(sigma), "counts": counts, "skipped_unlabelled": [str(p) for p in skipped],
            "dicom_images": n_dicom, "dicom_note": "DICOM decoded as displayed (VOI LUT, MONOCHROME1 inverted), "
                                                   "written as 16-bit PNG" if n_dicom else None})
    return ImportReport(out, counts, list(skipped), n_dicom)


def import_folders(images_dir, masks_dir, out, classes, *, mask_suffix: str = "", splits=None,
                   skip_unlabelled: bool = False, channel_name: str = "mammogram", overwrite: bool = False,
                   progress: bool = True) -> ImportReport:
    """Images folder + value-coded masks folder -> nnU-Net raw layout. `classes`: a class table (see
    `parse_class_spec`) with a mask value per class; `splits`: a CSV path or a {stem: split} dict."""
    classes = parse_class_spec(classes)
    if any(v is None for v in classes.values()):
        raise ConfigError("value-coded masks need a mask value per class: --classes background=0,mass=255")
    table = read_split_table(splits) if isinstance(splits, (str, Path)) else splits
    cases, skipped = pair_folders(images_dir, masks_dir, mask_suffix, table, skip_unlabelled)
    label_set = label_set_of(classes, name=Path(out).name)
    source = {"source": "images+masks", "images": str(images_dir), "masks": str(masks_dir),
              "mask_suffix": mask_suffix, "splits": None if splits is None else str(splits),
              "description": f"imported from {Path(images_dir).name}/ + {Path(masks_dir).name}/"}
    return import_cases(cases, out, label_set, classes=classes, channel_name=channel_name, skipped=skipped,
                        source=source, overwrite=overwrite, progress=progress)


def import_class_masks(root, out, label_set: LabelSet, *, sigma: float = 0.0, splits=None,
                       skip_unlabelled: bool = False, channel_name: str = "mammogram", overwrite: bool = False,
                       progress: bool = True) -> ImportReport:
    """kth-seg layout with per-class binary masks -> nnU-Net raw layout, merged by `label_set`'s priority."""
    table = read_split_table(splits) if isinstance(splits, (str, Path)) else splits
    cases, skipped = kthseg_cases(root, label_set, table, skip_unlabelled)
    source = {"source": "per-class masks", "root": str(root), "splits": None if splits is None else str(splits),
              "priority": list(label_set.priority), "description": f"imported from per-class masks in "
                                                                   f"{Path(root).name}/"}
    return import_cases(cases, out, label_set, sigma=sigma, channel_name=channel_name, skipped=skipped,
                        source=source, overwrite=overwrite, progress=progress)
