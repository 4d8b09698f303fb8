"""Class statistics in the layout of `kth-seg` Tables 4.1-4.3: one row per class (% of pixels), one column per
crop store (Table 4.2) or per split of a full-image dataset (Tables 4.1 Cityscapes and 4.3 test set).

Ignore pixels (Cityscapes void) are left out of the denominator. (The thesis' Table 4.1 seems to count void inside
"bicycle": its columns sum to 100.01 % with bicycle at 11.84 %.)
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mammoseg.errors import ConfigError
from mammoseg.io.annotations import LABEL_FILE, SPLITS, dataset_label_set, list_cases
from mammoseg.io.cityscapes import list_cityscapes_pairs, read_cityscapes_label
from mammoseg.io.inbreast import load_record, read_mass_dataset
from mammoseg.io.raster import read_image
from mammoseg.io.volume import read_label_volume
from mammoseg.labels import BINARY, CITYSCAPES19, LabelSet

from .crops import class_pixel_percentages
from .kinds import TABLE_KINDS
from .outputs import progress
from .slices import read_ct_dataset

COUNT_LABELS = {"kth-seg": "# Images", "cityscapes": "# Images", "oulu-mass": "# Images", "pig-ct": "# Scans"}
CITYSCAPES_SPLITS = ("train", "val")


def _kth_seg_maps(root: Path, split: str, label_set: LabelSet):
    cases = list_cases(root, split)
    def maps():
        for case in cases:
            label = read_image(root / case / LABEL_FILE)
            label_set.check_ids(label, root / case / LABEL_FILE)
            yield label
    return len(cases), maps()


def _cityscapes_maps(root: Path, split: str, label_set: LabelSet):
    pairs = list_cityscapes_pairs(root, split) if (root / "leftImg8bit" / split).is_dir() else []
    return len(pairs), (read_cityscapes_label(p.label_path) for p in pairs)


def _mass_maps(root: Path, split: str, label_set: LabelSet):
    records = [r for r in read_mass_dataset(root) if r.split == split]
    return len(records), (load_record(r)[1].astype(np.uint8) for r in records)


def _pig_ct_maps(root: Path, split: str, label_set: LabelSet):
    scans = [s for s in read_ct_dataset(root) if s.split == split]
    return len(scans), (read_label_volume(s.label_path).astype(np.uint8) for s in scans)


_MAPS = {"kth-seg": (_kth_seg_maps, None, SPLITS),  # None: the dataset's own (`dataset_label_set`)
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
        raise ConfigError(f"{kind} has a fixed label set ({fixed.name}); --labels applies to kth-seg datasets")
    label_set = fixed or dataset_label_set(root, label_set)
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
