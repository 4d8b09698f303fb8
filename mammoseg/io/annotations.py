"""Per-class binary annotation maps -> one label map, and the `kth-seg` case list (splits.csv).

The thesis (§4.1.2, L844-849) merges the 13 QuPath binary maps by a priority ranking: a higher-ranked class
"superposes" a lower one, and all maps except calcifications, text, nipple and axillary lymph nodes are
Gaussian-smoothed at merge time "to avoid sudden transitions". It states neither sigma nor the threshold; we
threshold the smoothed map at 0.5 (the value a straight edge takes, so straight edges stay in place) and default
to sigma = 2 px at native resolution (reasoning in docs/data-kthseg.md).

Layout of one case: `<case>/image.png`, `<case>/masks/<class_name>.png`, merged into `<case>/label.png`.

The dataset declares its label set in `<root>/labels.json` (`LabelSet.to_json`, or any JSON with a "labels"
{name: id} object such as an nnU-Net dataset.json); `dataset_label_set` states which declaration wins.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
from scipy import ndimage

from ..errors import ConfigError, DataError
from ..labels import MAMMO13, LabelSet
from .raster import RASTER_SUFFIXES, read_image, read_mask, write_image

DEFAULT_MERGE_SIGMA = 2.0
SMOOTH_THRESHOLD = 0.5
IMAGE_STEM = "image"
MASKS_DIR = "masks"
LABEL_FILE = "label.png"
SPLITS_FILE = "splits.csv"
SPLITS = ("train", "val", "test")
LABELS_FILE = "labels.json"  # the dataset's label set, next to splits.csv
MERGE_RECORD = "label-merge.json"  # written by `mammoseg-prep merge`: sigma and the label set's name


def dataset_label_set(root: str | Path, override=None, from_masks: bool = False) -> LabelSet:
    """The label set of a kth-seg dataset, first found of:

    1. `override` (`--labels NAME|FILE.json`, or a LabelSet);
    2. `<root>/labels.json`;
    3. the registered set named by `<root>/label-merge.json` (datasets merged before labels.json existed);
    4. with `from_masks` (reading `masks/<class>.png`, whose file names are checked against the set): MAMMO13,
       the thesis' scheme.
    Otherwise a DataError: a label.png whose ids nobody declared is never read as some default set.
    """
    from ..labels import get_label_set, load_label_set

    root = Path(root)
    if override is not None:
        return load_label_set(override)
    if (root / LABELS_FILE).is_file():
        return LabelSet.from_json(root / LABELS_FILE)
    record = root / MERGE_RECORD
    if record.is_file():
        import json

        try:
            name = json.loads(record.read_text(encoding="utf-8")).get("label_set")
        except (OSError, UnicodeDecodeError, ValueError, AttributeError) as exc:
            raise DataError(record, f"cannot read merge record: {exc}") from None
        if name is not None:
            try:
                return get_label_set(str(name))
            except KeyError as exc:
                raise DataError(record, f"{exc.args[0]}; declare the set in {LABELS_FILE}") from None
    if from_masks:
        return MAMMO13
    raise DataError(root / LABELS_FILE, "the dataset declares no label set: write its classes as "
                                        '{"labels": {"background": 0, ...}} to this file or pass --labels '
                                        "NAME|FILE.json (label maps are never read as a default set)")


def _check_mergeable(label_set: LabelSet, sigma: float) -> None:
    if not label_set.priority or label_set.background is None:
        raise ConfigError(f"label set {label_set.name} has no merge priority or background class")
    if label_set.num_classes > 256:
        raise ConfigError(f"label set {label_set.name} has {label_set.num_classes} classes; uint8 maps hold 256")
    if not sigma >= 0:
        raise ConfigError(f"merge sigma must be >= 0, got {sigma}")


def smooth_mask(mask: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian-smooth a binary map and threshold at 0.5: rounds corners, removes specks thinner than ~1.35 sigma."""
    if sigma == 0:
        return np.asarray(mask, bool)
    return ndimage.gaussian_filter(np.asarray(mask, np.float32), sigma=sigma) >= SMOOTH_THRESHOLD


def merge_masks(masks: dict[str, np.ndarray], shape: tuple[int, int], label_set: LabelSet = MAMMO13,
                sigma: float = DEFAULT_MERGE_SIGMA) -> np.ndarray:
    """Paint the per-class maps into one uint8 label map, lowest priority first so higher ranks end on top.

    Pixels no map covers are background. A background map, if given, changes nothing (it is the bottom rank and
    the fill value). sigma = 0 disables smoothing.
    """
    _check_mergeable(label_set, sigma)
    shape = tuple(int(s) for s in shape)
    unknown = sorted(set(masks) - set(label_set.names))
    if unknown:
        raise DataError(None, f"unknown class name(s) {unknown}; {label_set.name} has: {', '.join(label_set.names)}")
    for name, mask in masks.items():
        if np.shape(mask) != shape:
            raise DataError(None, f"mask {name!r} has shape {np.shape(mask)}, expected {shape}")
    label_map = np.full(shape, label_set.id(label_set.background), np.uint8)
    for name in reversed(label_set.priority):
        if name not in masks or name == label_set.background:
            continue
        region = smooth_mask(masks[name], sigma) if name in label_set.smoothed else np.asarray(masks[name], bool)
        label_map[region] = label_set.id(name)
    return label_map


def find_case_image(case_dir: str | Path) -> Path:
    """The case's image file: `image` with one of the raster suffixes."""
    case_dir = Path(case_dir)
    if not case_dir.is_dir():
        raise DataError(case_dir, "case folder not found")
    found = [case_dir / f"{IMAGE_STEM}{s}" for s in RASTER_SUFFIXES if (case_dir / f"{IMAGE_STEM}{s}").is_file()]
    if not found:
        raise DataError(case_dir / f"{IMAGE_STEM}.png",
                        f"image not found (looked for {IMAGE_STEM}{{{','.join(RASTER_SUFFIXES)}}})")
    if len(found) > 1:
        raise DataError(case_dir, f"several images: {', '.join(p.name for p in found)}; keep one")
    return found[0]


def list_mask_files(case_dir: str | Path, label_set: LabelSet = MAMMO13) -> dict[str, Path]:
    """Class name -> mask file. Hidden files and non-raster files are ignored; any other stray file is an error."""
    masks_dir = Path(case_dir) / MASKS_DIR
    if not masks_dir.is_dir():
        raise DataError(masks_dir, "masks folder not found")
    files: dict[str, Path] = {}
    for path in sorted(masks_dir.iterdir()):
        if path.name.startswith(".") or not path.is_file() or path.suffix.lower() not in RASTER_SUFFIXES:
            continue
        if path.stem not in label_set.names:
            raise DataError(path, f"file name {path.stem!r} is not a class of {label_set.name}; "
                                  f"expected one of: {', '.join(label_set.names)}")
        if path.stem in files:
            raise DataError(path, f"class {path.stem!r} has two mask files ({files[path.stem].name}, {path.name})")
        files[path.stem] = path
    if not files:
        raise DataError(masks_dir, "masks folder holds no mask files")
    return files


def merge_case(case_dir: str | Path, label_set: LabelSet = MAMMO13, sigma: float = DEFAULT_MERGE_SIGMA,
               write: bool = True) -> np.ndarray:
    """Merge one case's masks into its label map (and store it as `label.png`, atomically, when `write`)."""
    case_dir = Path(case_dir)
    _check_mergeable(label_set, sigma)
    shape = read_image(find_case_image(case_dir)).shape
    masks = {name: read_mask(path, expected_shape=shape) for name, path in list_mask_files(case_dir, label_set).items()}
    label_map = merge_masks(masks, shape, label_set=label_set, sigma=sigma)
    if write:
        write_image(case_dir / LABEL_FILE, label_map)
    return label_map


def format_splits(splits: dict[str, str]) -> bytes:
    """splits.csv content for case -> split (in the given order)."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["case", "split"])
    writer.writerows(splits.items())
    return text.getvalue().encode("utf-8")


def read_splits(root: str | Path) -> dict[str, str]:
    """case -> split from `<root>/splits.csv`; every listed case must have a folder under root."""
    path = Path(root) / SPLITS_FILE
    if not path.is_file():
        raise DataError(path, "splits file not found")
    try:
        rows = list(csv.reader(path.read_text(encoding="utf-8").splitlines()))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(path, f"cannot parse CSV: {exc}") from None
    if not rows:
        raise DataError(path, "file is empty; expected a header 'case,split'")
    header = [cell.strip() for cell in rows[0]]
    if "case" not in header or "split" not in header:
        raise DataError(path, f"header {rows[0]} lacks the columns 'case' and 'split'")
    case_col, split_col = header.index("case"), header.index("split")
    splits: dict[str, str] = {}
    for line_no, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < len(header):
            raise DataError(path, f"line {line_no}: expected {len(header)} columns, got {len(row)}")
        case, split = row[case_col].strip(), row[split_col].strip()
        if not case:
            raise DataError(path, f"line {line_no}: empty case name")
        if split not in SPLITS:
            raise DataError(path, f"line {line_no}: split {split!r} for case {case!r} is not one of {SPLITS}")
        if case in splits:
            raise DataError(path, f"line {line_no}: case {case!r} listed twice")
        if not (Path(root) / case).is_dir():
            raise DataError(Path(root) / case, f"case listed in {SPLITS_FILE} (line {line_no}) has no folder")
        splits[case] = split
    if not splits:
        raise DataError(path, "no cases listed")
    return splits


def list_cases(root: str | Path, split: str | None = None) -> list[str]:
    """Case names (sorted) of one split, or of all splits when `split` is None."""
    if split is not None and split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; expected one of {SPLITS}")
    return sorted(case for case, s in read_splits(root).items() if split is None or s == split)
