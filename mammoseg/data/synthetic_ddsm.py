"""DDSM-like three-class mammograms (the `kth-cls` layout): normal, benign and cancer images with ROI masks.

`<root>/images/<id>.png` (uint16, 12-bit values), `<root>/labels.csv` (id, class, split, laterality, view,
abnormality) and `<root>/rois/<id>.png` (binary, 0/255) for every benign and cancer image; normal images have no
ROI file. Benign: a circumscribed or lobulated mass, or a calcification cluster; cancer: a spiculated mass. Lesion
sizes spread over a ~1:40 area range inside every class, so benign and cancer cases both spread over the five
annotation-size groups P0..P4 of seed 004 (L1613-1626). Split: 80 / 20 train / test per class (seed 004 L1394-1395).
Details and limits: docs/data-synthetic.md.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..io.raster import write_image, write_mask
from ..labels import DDSM3
from .phantom import (MAX_VALUE, add_calcification_cluster, add_mass, assign_group_splits, check_count, check_seed,
                      check_shape, finish_mammogram, render_breast, stream_rng, write_csv)

LABELS_FILE = "labels.csv"
LABEL_COLUMNS = ("id", "class", "split", "laterality", "view", "abnormality")
DDSM_SPLIT_FRACTIONS = {"train": 0.8, "test": 0.2}
MASS_RADIUS_RANGE = (3.0, 24.0)  # px at 256 px; scaled with min(H, W) / 256
CLUSTER_SPREAD_RANGE = (4.0, 16.0)
_IMAGE_STREAM, _SPLIT_STREAM = 0, 1


def _van_der_corput(k: int) -> float:
    """k-th point of the base-2 van der Corput sequence: any prefix of it covers [0, 1) evenly."""
    q, denominator = 0.0, 1
    while k:
        k, bit = divmod(k, 2)
        denominator *= 2
        q += bit / denominator
    return q


def _log_between(q: float, low: float, high: float) -> float:
    return math.exp(math.log(low) + q * (math.log(high) - math.log(low)))


def render_ddsm_case(rng: np.random.Generator, label: str, size=(256, 256), size_quantile: float = 0.5):
    """(uint16 image of a left breast, bool ROI or None for normal, abnormality name).

    `size_quantile` in [0, 1) places the lesion on a log scale between the smallest and largest size.
    """
    view = ("CC", "MLO")[int(rng.integers(2))]
    breast = render_breast(rng, size, view)
    u = breast.size_unit
    roi, abnormality = None, "none"
    if label == "benign" and rng.random() < 0.4:
        abnormality = "calcification"
        spread = _log_between(size_quantile, *CLUSTER_SPREAD_RANGE) * u
        while roi is None:
            roi = add_calcification_cluster(rng, breast, spread)
            spread *= 0.8  # shrink until the cluster fits the breast
    elif label in ("benign", "cancer"):
        abnormality = "mass"
        margin = "spiculated" if label == "cancer" else ("circumscribed", "lobulated")[int(rng.integers(2))]
        radius = _log_between(size_quantile, *MASS_RADIUS_RANGE) * u
        while roi is None:
            roi = add_mass(rng, breast, radius, margin)
            radius *= 0.8
    if rng.random() < 0.5:
        _add_film_label(rng, breast)
    return finish_mammogram(rng, breast), roi, abnormality, view


def _add_film_label(rng, breast) -> None:
    """A bright paper label on the film, in a top or bottom corner away from the breast (digitised films have one)."""
    H, W = breast.image.shape
    h, w = int(rng.uniform(0.06, 0.1) * H), int(rng.uniform(0.15, 0.25) * W)
    top = 2 if rng.random() < 0.5 else H - h - 2
    left = W - w - 2
    if breast.anatomy.body[max(0, top - 2):top + h + 2, left - 2:].any():
        return
    breast.image[top:top + h, left:left + w] = rng.uniform(0.75, 0.95) * MAX_VALUE


def make_ddsm_like(root: str | Path, n_per_class: int = 8, size=(256, 256), seed: int = 0) -> Path:
    """Write a DDSM-like dataset under `root` (same arguments -> byte-identical files) and return root.

    Ids interleave the classes (img_0000 normal, img_0001 benign, img_0002 cancer, ...): names carry no label.
    """
    n_per_class = check_count("n_per_class", n_per_class)
    seed = check_seed(seed)
    size = check_shape("size", size, (64, 64))
    root = Path(root)
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "rois").mkdir(parents=True, exist_ok=True)
    classes = DDSM3.names
    splits = {label: assign_group_splits(n_per_class, DDSM_SPLIT_FRACTIONS, stream_rng(seed, _SPLIT_STREAM, c))
              for c, label in enumerate(classes)}
    rows = []
    for k in range(n_per_class):
        for c, label in enumerate(classes):
            index = k * len(classes) + c
            rng = stream_rng(seed, _IMAGE_STREAM, index)
            quantile = (_van_der_corput(k) + rng.uniform(0, 0.125)) % 1.0
            image, roi, abnormality, view = render_ddsm_case(rng, label, size, quantile)
            laterality = "LR"[int(rng.integers(2))]
            if laterality == "R":
                image = np.ascontiguousarray(image[:, ::-1])
                roi = None if roi is None else np.ascontiguousarray(roi[:, ::-1])
            image_id = f"img_{index:04d}"
            write_image(root / "images" / f"{image_id}.png", image)
            if roi is None:
                (root / "rois" / f"{image_id}.png").unlink(missing_ok=True)
            else:
                write_mask(root / "rois" / f"{image_id}.png", roi)
            rows.append((image_id, label, splits[label][k], laterality, view, abnormality))
    write_csv(root / LABELS_FILE, LABEL_COLUMNS, rows)
    return root
