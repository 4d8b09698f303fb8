"""pig-ct evaluation: fusing the three plane networks' predictions and the per-scan IoU (seed 003 §4.5).

The thesis averages "the 3D volumes of predictions" of two or three plane networks (L1599-1603) without saying
whether the averaged values are probabilities or masks. Default (`rule="mean"`): average the sigmoid
probabilities and threshold the mean (> 0.5). `rule="vote"`: threshold each plane first and average the masks;
a tie (two planes that disagree) goes to the mean probability. Both give majority voting for confident networks.

IoU is the thesis' function (L1558-1568) on boolean volumes: (|A ∩ B| + 1e-6) / (|A ∪ B| + 1e-6), so an empty
mask with an empty prediction scores 1. The thesis code used `*` and `+`, which are AND / OR only on booleans;
on 0/1 integers its union would be |A| + |B| (Dice / 2), which cannot give the reported 0.96.
"""
from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from ..data.preprocess import PLANES

# Columns of thesis Tables 5.1 / 5.2 (L1608-1692), in order, with the planes each one fuses.
PLANE_COMBINATIONS = {
    "transverse": ("transverse",),
    "sagittal": ("sagittal",),
    "coronal": ("coronal",),
    "transverse+sagittal": ("transverse", "sagittal"),
    "transverse+coronal": ("transverse", "coronal"),
    "sagittal+coronal": ("sagittal", "coronal"),
    "combined": ("transverse", "sagittal", "coronal"),
}
THESIS_IOU_EPS = 1e-6  # L1567-1568
FUSION_RULES = ("mean", "vote")


def _same_shapes(arrays) -> None:
    shapes = {np.shape(a) for a in arrays}
    if len(shapes) != 1:
        raise ConfigError(f"predictions to fuse have different shapes: {sorted(shapes)}")


def mean_probability(probabilities) -> np.ndarray:
    """Voxel-wise mean of probability volumes, accumulated in place (one float32 volume of extra memory)."""
    probabilities = list(probabilities)
    if not probabilities:
        raise ConfigError("nothing to average")
    _same_shapes(probabilities)
    total = np.array(probabilities[0], np.float32)
    for p in probabilities[1:]:
        total += np.asarray(p, np.float32)
    total /= np.float32(len(probabilities))
    return total


def fuse_planes(probabilities, threshold: float = 0.5, rule: str = "mean") -> np.ndarray:
    """Boolean prediction of several planes' probability volumes of one scan (same (z, y, x) orientation)."""
    if rule not in FUSION_RULES:
        raise ConfigError(f"fusion rule must be one of {FUSION_RULES}, got {rule!r}")
    probabilities = list(probabilities)
    mean = mean_probability(probabilities)
    if rule == "mean":
        return mean > threshold
    votes = np.zeros(mean.shape, np.uint8)
    for p in probabilities:
        votes += np.asarray(p) > threshold
    half = len(probabilities) / 2
    return (votes > half) | ((votes == half) & (mean > threshold))


def volume_iou(mask, prediction, eps: float = THESIS_IOU_EPS) -> float:
    """Thesis IoU of two boolean volumes (non-zero = edible): (|A ∩ B| + eps) / (|A ∪ B| + eps)."""
    a, b = np.asarray(mask) != 0, np.asarray(prediction) != 0
    if a.shape != b.shape:
        raise ConfigError(f"mask and prediction differ in shape: {a.shape} vs {b.shape}")
    return float((np.logical_and(a, b).sum() + eps) / (np.logical_or(a, b).sum() + eps))


def scan_ious(mask, plane_probabilities: dict, block_probabilities=None, threshold: float = 0.5,
              rule: str = "mean", columns=None) -> dict:
    """IoU of every thesis column (Table 5.1) for one scan: each plane, each fusion, and '3D' when given.

    `plane_probabilities` maps plane names to (z, y, x) probability volumes; columns whose planes are missing are
    skipped.
    """
    unknown = set(plane_probabilities) - set(PLANES)
    if unknown:
        raise ConfigError(f"unknown planes {sorted(unknown)}; expected some of {PLANES}")
    out = {}
    for column, planes in (columns or PLANE_COMBINATIONS).items():
        if all(p in plane_probabilities for p in planes):
            prediction = fuse_planes([plane_probabilities[p] for p in planes], threshold, rule)
            out[column] = volume_iou(mask, prediction)
    if block_probabilities is not None:
        out["3D"] = volume_iou(mask, np.asarray(block_probabilities) > threshold)
    return out


def iou_table_rows(per_scan: dict) -> tuple[list[str], list[list]]:
    """(header, rows) of thesis Table 5.1: one row per scan, then the mean over scans of every column."""
    columns = [c for c in (*PLANE_COMBINATIONS, "3D") if any(c in v for v in per_scan.values())]
    header = ["Scan", *columns]
    rows = [[scan, *[values.get(c, float("nan")) for c in columns]] for scan, values in per_scan.items()]
    means = [float(np.nanmean([values.get(c, np.nan) for values in per_scan.values()])) for c in columns]
    return header, rows + [["mean", *means]]
