"""Class statistics in the layout of `kth-seg` Tables 4.1-4.3: one row per class (% of pixels), one column per
crop store (Table 4.2) or per split of a full-image dataset (Tables 4.1 Cityscapes and 4.3 test set).

Ignore pixels (Cityscapes void) are left out of the denominator. (The thesis' Table 4.1 seems to count void inside
"bicycle": its columns sum to 100.01 % with bicycle at 11.84 %.)
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from mammoseg.errors import ConfigError, DataError
from mammoseg.io.annotations import LABEL_FILE, SPLITS, dataset_label_set, list_cases
from mammoseg.io.cityscapes import list_cityscapes_pairs, read_cityscapes_label
from mammoseg.io.inbreast import load_record, read_mass_dataset
from mammoseg.io.raster import read_image
from mammoseg.io.volume import read_label_volume
from mammoseg.labels import BINARY, CITYSCAPES19, LabelSet, load_label_set

from .crops import class_pixel_percentages
from .kinds import TABLE_KINDS
from .outputs import progress
from .slices import read_ct_dataset

COUNT_LABELS = {"kth-seg": "# Images", "cityscapes": "# Images", "oulu-mass": "# Images", "pig-ct": "# Scans",
                "nnunet": "# Images"}
CITYSCAPES_SPLITS = ("train", "val")


def _checked_maps(paths: list[Path], label_set: LabelSet):
    """(count, label maps read one at a time, each checked against the label set)."""
    def maps():
        for path in paths:
            label = read_image(path)
            label_set.check_ids(label, path)
            yield label
    return len(paths), maps()


def _kth_seg_maps(root: Path, split: str, label_set: LabelSet):
    return _checked_maps([root / case / LABEL_FILE for case in list_cases(root, split)], label_set)


def _cityscapes_maps(root: Path, split: str, label_set: LabelSet):
    pairs = list_cityscapes_pairs(root, split) if (root / "leftImg8bit" / split).is_dir() else []
    return len(pairs), (read_cityscapes_label(p.label_path) for p in pairs)


def _mass_maps(root: Path, split: str, label_set: LabelSet):
    records = [r for r in read_mass_dataset(root) if r.split == split]
    return len(records), (load_record(r)[1].astype(np.uint8) for r in records)


def _pig_ct_maps(root: Path, split: str, label_set: LabelSet):
    scans = [s for s in read_ct_dataset(root) if s.split == split]
    return len(scans), (read_label_volume(s.label_path).astype(np.uint8) for s in scans)


def nnunet_label_set(root: Path, override=None) -> LabelSet:
    """An nnU-Net raw dataset's label set: `override`, else its dataset.json "labels"."""
    return load_label_set(override) if override is not None else LabelSet.from_json(Path(root) / "dataset.json")


def _nnunet_label_files(root: Path, split: str) -> list[Path]:
    """Label files of a split of an nnU-Net raw dataset: test = labelsTs; train / val = the imagesTr cases, val
    being fold 0's of splits_final.json (none without it)."""
    dataset = root / "dataset.json"
    try:
        ending = json.loads(dataset.read_text(encoding="utf-8"))["file_ending"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(dataset, f"cannot read file_ending: {exc}") from None
    if split == "test":
        return sorted((root / "labelsTs").glob(f"*{ending}"))
    cases = [p.name[: -len(f"_0000{ending}")] for p in sorted((root / "imagesTr").glob(f"*_0000{ending}"))]
    val = set()
    if (root / "splits_final.json").is_file():
        try:
            val = set(json.loads((root / "splits_final.json").read_text(encoding="utf-8"))[0]["val"])
        except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
            raise DataError(root / "splits_final.json", f"cannot read fold 0: {exc}") from None
    return [root / "labelsTr" / f"{c}{ending}" for c in cases if (c in val) == (split == "val")]


def _nnunet_maps(root: Path, split: str, label_set: LabelSet):
    return _checked_maps(_nnunet_label_files(root, split), label_set)


_OWN_LABELS = {"kth-seg": dataset_label_set, "nnunet": nnunet_label_set}  # kinds whose data declares its labels
_MAPS = {"kth-seg": (_kth_seg_maps, None, SPLITS),  # None: the dataset's own (_OWN_LABELS)
         "nnunet": (_nnunet_maps, None, SPLITS),
         "cityscapes": (_cityscapes_maps, CITYSCAPES19, CITYSCAPES_SPLITS),
         "oulu-mass": (_mass_maps, BINARY, SPLITS), "pig-ct": (_pig_ct_maps, BINARY, SPLITS)}


def dataset_percentages(kind: str, root: str | Path, progress_bar: bool = False,
                        label_set=None) -> dict[str, tuple[int, pd.Series]]:
    """split -> (number of images or scans, % of pixels per class over their full label maps); empty splits are
    left out. Mass images without a mask file count as all background. `label_set` (name, JSON file or LabelSet)
    replaces a kth-seg dataset's own labels; the other layouts have fixed ones."""
    if kind not in _MAPS:
        raise ConfigError(f"unknown dataset kind {kind!r}; expected one of {', '.join(TABLE_KINDS)}")
    maps_of, fixed, splits = _MAPS[kind]
    if fixed is not None and label_set is not None:
        raise ConfigError(f"{kind} has a fixed label set ({fixed.name}); --labels applies to kth-seg and nnunet "
                          "datasets")
    label_set = fixed or _OWN_LABELS[kind](root, label_set)
    columns = {}
    for split in splits:
        count, maps = maps_of(Path(root), split, label_set)
        if count:
            maps = progress(maps, desc=f"{kind} {split}", unit="image", enabled=progress_bar, total=count)
            columns[split] = (count, class_pixel_percentages(maps, label_set))
    return columns


def _percent(value: float) -> str:
    if np.isnan(value):
        return "-"
    return f"{value:.3f}%" if 0 < value < 0.01 else f"{value:.2f}%"


def format_percentage_table(columns: dict[str, tuple[int, pd.Series]], count_label: str,
                            label_set: LabelSet | None = None) -> str:
    """Rows: the count, then every class (thesis order: merge priority, background last); one column each."""
    if not columns:
        return "(no data)"
    first = next(iter(columns.values()))[1]
    names = list(first.index)
    if label_set is not None:
        names = list(label_set.priority or label_set.names)
    row_names = [count_label] + [name.replace("_", " ") for name in names]
    width = max(len(n) for n in row_names)
    cells = {title: [str(count)] + [_percent(series.get(name, np.nan)) for name in names]
             for title, (count, series) in columns.items()}
    col_width = {title: max(len(title), *(len(c) for c in values)) for title, values in cells.items()}
    lines = [f"{'class':<{width}}" + "".join(f"  {title:>{col_width[title]}}" for title in cells)]
    for i, row_name in enumerate(row_names):
        lines.append(f"{row_name:<{width}}" + "".join(f"  {cells[t][i]:>{col_width[t]}}" for t in cells))
    return "\n".join(lines)
