"""Crop-centre samplers for the class-balanced crop datasets (thesis §4.1, L868-877).

The thesis rule, per crop: take the unique labels of the image, drop mammary gland and background ("one of the two
will be always present in any crop"), pick one remaining label uniformly, then one pixel of that label uniformly,
and use it as the crop centre. Images whose only labels are the excluded ones get a uniform centre (thesis silent).

Everything here is offline numpy. A `LabelIndex` sorts the pixels of one label map by label once, so that drawing
many centres from a large mammogram costs O(1) each instead of a full-image scan per draw.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..errors import DataError
from ..labels import MAMMO13, LabelSet

UNIFORM_FALLBACK = -1  # chosen id recorded when no eligible label exists

MAMMO_EXCLUDE_IDS = (MAMMO13.id("background"), MAMMO13.id("mammary_gland"))


def exclude_ids_for(label_set: LabelSet) -> tuple[int, ...]:
    """Ids never chosen as centre class: the thesis' pair for MAMMO13, else background and the ignore id."""
    if label_set.name == MAMMO13.name:
        return MAMMO_EXCLUDE_IDS
    ids = [label_set.id(label_set.background)] if label_set.background else []
    if label_set.ignore_id is not None:
        ids.append(label_set.ignore_id)
    return tuple(ids)


class LabelIndex:
    """Flat pixel indices of every label of one 2-D label map, grouped by label (built once per image)."""

    def __init__(self, label_map: np.ndarray):
        label_map = np.asarray(label_map)
        if label_map.ndim != 2 or not np.issubdtype(label_map.dtype, np.integer):
            raise DataError(None, f"label map must be a 2-D integer array, got {label_map.dtype} {label_map.shape}")
        if label_map.size == 0:
            raise DataError(None, "label map is empty")
        flat = label_map.ravel()
        if flat.min() < 0:
            raise DataError(None, "label map holds negative ids")
        self.shape: tuple[int, int] = label_map.shape
        counts = np.bincount(flat)
        # A stable sort keeps each label's pixels in raster order (identical to np.flatnonzero(flat == id)); for
        # 8/16-bit maps numpy uses a linear-time radix sort.
        self._order = np.argsort(flat, kind="stable")
        self._ends = np.cumsum(counts)
        self.labels: tuple[int, ...] = tuple(int(i) for i in np.flatnonzero(counts))

    def count(self, label_id: int) -> int:
        if not 0 <= label_id < len(self._ends):
            return 0
        start = self._ends[label_id - 1] if label_id > 0 else 0
        return int(self._ends[label_id] - start)

    def pixels(self, label_id: int) -> np.ndarray:
        """Flat (raster-order) indices of the pixels holding `label_id`."""
        if self.count(label_id) == 0:
            return self._order[:0]
        start = self._ends[label_id - 1] if label_id > 0 else 0
        return self._order[start:self._ends[label_id]]

    def eligible(self, exclude_ids: Iterable[int]) -> tuple[int, ...]:
        excluded = set(int(i) for i in exclude_ids)
        return tuple(i for i in self.labels if i not in excluded)


def uniform_centre(shape: tuple[int, int], rng: np.random.Generator) -> tuple[int, int]:
    """A centre drawn uniformly over all pixels of an image of `shape`."""
    flat = int(rng.integers(int(shape[0]) * int(shape[1])))
    cy, cx = divmod(flat, int(shape[1]))
    return cy, cx


def class_balanced_centre(label_map: np.ndarray | LabelIndex, rng: np.random.Generator,
                          exclude_ids: Iterable[int] = MAMMO_EXCLUDE_IDS) -> tuple[int, int, int]:
    """(cy, cx, chosen label id) by the thesis rule; (cy, cx, -1) from a uniform centre when no label is eligible.

    Pass a `LabelIndex` when drawing several centres from the same image.
    """
    index = label_map if isinstance(label_map, LabelIndex) else LabelIndex(label_map)
    candidates = index.eligible(exclude_ids)
    if not candidates:
        return (*uniform_centre(index.shape, rng), UNIFORM_FALLBACK)
    chosen = candidates[int(rng.integers(len(candidates)))]
    pixels = index.pixels(chosen)
    cy, cx = divmod(int(pixels[int(rng.integers(len(pixels)))]), index.shape[1])
    return cy, cx, chosen
