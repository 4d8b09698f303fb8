"""Pieces shared by the synthetic stand-ins of the four non-`kth-seg` datasets (see docs/data-synthetic.md).

Argument checks, per-case random streams, group-wise splits, atomic CSV / RGB PNG writes, DICOM UIDs that
depend only on the seed, and a mammogram renderer whose lesions (masses, calcification clusters) are
placed and sized by the caller. The tissue texture and breast geometry come from the `kth-seg` phantom
(`mammoseg.data.synthetic`) so every mammogram-like dataset looks alike.
"""
from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from pydicom.uid import generate_uid
from scipy import ndimage

from ..errors import ConfigError
from ..io.atomic import atomic_write_bytes
from .synthetic import (MAX_VALUE, _Anatomy, _draw, _ellipse_mask, _noise_field, _polyline_mask, _smoothstep, _soft,
                        _split_counts, _streak_field, _vessel_path)

__all__ = ["MAX_VALUE", "Breast", "add_calcification_cluster", "add_mass", "assign_group_splits", "check_count",
           "check_seed", "check_shape", "finish_mammogram", "render_breast", "reproducible_uid", "stream_rng",
           "write_csv", "write_rgb_png"]


# ---------------------------------------------------------------------------------------------- arguments
def check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def check_count(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_shape(name: str, shape, minimum) -> tuple[int, ...]:
    """A tuple of positive ints with the length of `minimum`, each at least the matching minimum."""
    try:
        values = tuple(int(v) for v in shape)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a tuple of {len(minimum)} integers, got {shape!r}") from None
    if len(values) != len(minimum) or any(v < m for v, m in zip(values, minimum)):
        raise ConfigError(f"{name} must be {len(minimum)} integers of at least {tuple(minimum)}, got {shape!r}")
    return values


# ---------------------------------------------------------------------------------------------- randomness
def stream_rng(seed: int, *key: int) -> np.random.Generator:
    """An independent generator per (seed, key): a case never depends on how many other cases are drawn."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=tuple(int(k) for k in key)))


def assign_group_splits(n_groups: int, fractions: dict[str, float], rng: np.random.Generator) -> list[str]:
    """Split name per group (patient, scan ...): a random permutation cut by largest-remainder counts.

    Every split with a positive fraction gets a group when there are enough groups.
    """
    names = list(fractions)
    slots = np.repeat(np.arange(len(names)), _split_counts(n_groups, [fractions[n] for n in names]))
    position = np.argsort(rng.permutation(n_groups))  # where group g lands in the shuffled order
    return [names[slots[position[g]]] for g in range(n_groups)]


# ---------------------------------------------------------------------------------------------- files
def write_csv(path: str | Path, header, rows) -> Path:
    """A small CSV written atomically, "\\n" line ends on every platform (byte-identical across runs)."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return atomic_write_bytes(path, text.getvalue().encode("utf-8"))


def write_rgb_png(path: str | Path, rgb: np.ndarray) -> Path:
    """(H, W, 3) uint8 RGB as an 8-bit colour PNG, written atomically (raster.write_image is grayscale only)."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"write_rgb_png needs an (H, W, 3) uint8 array, got {rgb.dtype} {rgb.shape}")
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise RuntimeError(f"OpenCV failed to encode {path}")
    return atomic_write_bytes(path, encoded.tobytes())


def reproducible_uid(*parts) -> str:
    """A DICOM UID derived from `parts` (pydicom hashes them under its own root), so reruns repeat it."""
    return generate_uid(entropy_srcs=["mammoseg-synthetic", *(str(p) for p in parts)])


# ---------------------------------------------------------------------------------------------- mammograms
@dataclass
class Breast:
    """A mammogram being drawn: float image (12-bit scale) of a left breast, chest wall on the left edge."""

    image: np.ndarray
    anatomy: _Anatomy
    size_unit: float  # pixels per unit length: min(H, W) / 256, so lesion sizes follow the image size

    def interior(self, margin: float) -> np.ndarray:
        return self.anatomy.interior(margin)

    def lesion_free(self, taken: np.ndarray, margin: float) -> np.ndarray:
        """Interior at least `margin` px inside the skin and `margin` px away from the `taken` pixels."""
        free = self.interior(margin)
        if taken.any():
            free &= ndimage.distance_transform_edt(~taken) > margin
        return free


def render_breast(rng: np.random.Generator, shape, view: str = "MLO") -> Breast:
    """Fat + fibroglandular texture, skin, (MLO) pectoral muscle, vessels and (MLO) lymph nodes; no lesion.

    Dense tissue, muscle and lymph nodes reach the brightness of masses, so a mass is found by its shape and
    its contrast to the surroundings, not by its grey level.
    """
    H, W = shape
    a = _Anatomy(rng, (H, W))
    s = a.scale
    depth = _smoothstep(a.dist_to_air / (rng.uniform(25, 45) * s))
    chest_bias = 1 - 0.6 * np.clip(a.xx / a.x_max, 0, 1)
    cloud = 0.6 * _noise_field(rng, (H, W), 8 * s) + 0.4 * _noise_field(rng, (H, W), 2.5 * s)
    density = _smoothstep((cloud + 1.5 * chest_bias * depth - rng.uniform(0.5, 1.2)) / 2.4 + 0.5)
    fat, dense = rng.uniform(1000, 1300), rng.uniform(900, 1500)
    shading = 1 + 0.1 * _noise_field(rng, (H, W), 60 * s)
    tissue = (fat + dense * density + 60 * _noise_field(rng, (H, W), 1.5 * s)) * (0.5 + 0.5 * depth) * shading
    image = np.full((H, W), rng.uniform(120, 320), np.float32)
    image[a.body] = tissue[a.body]

    if view == "MLO":
        muscle = rng.uniform(1900, 2500) * (1.05 - 0.2 * a.yy / a.pect_h) * shading
        muscle += 110 * _streak_field(rng, (H, W), math.atan2(a.pect_h, -a.pect_w), int(25 * s) | 1)
        alpha = _soft(a.pectoral, 1.2)
        image = image * (1 - alpha) + muscle * alpha
    image += a.body * np.exp(-((a.dist_to_air - a.skin_width / 2) / (0.6 * a.skin_width)) ** 2) * rng.uniform(400, 800)

    allowed = a.interior(2 * s)
    for _ in range(int(rng.integers(1, 4))):
        path = _vessel_path(rng, a, allowed, 50 * s)
        if path is not None:
            tube = _polyline_mask((H, W), path, max(2, int(round(rng.uniform(2, 4) * s)))) & allowed
            image += _soft(tube, 1.0) * rng.uniform(300, 550)

    breast = Breast(image, a, min(H, W) / 256.0)
    if view == "MLO" and rng.random() < 0.6:  # axillary lymph nodes: bright ovals, mass look-alikes
        near_muscle = a.interior(4 * s) & (ndimage.distance_transform_edt(~a.pectoral) < 20 * s)
        for _ in range(int(rng.integers(1, 3))):
            centre = a.random_point(rng, near_muscle)
            if centre is not None:
                _paint_lymph_node(rng, breast, centre)
    return breast


def _paint_lymph_node(rng, breast: Breast, centre) -> None:
    s = breast.anatomy.scale
    axes = (rng.uniform(6, 10) * s, rng.uniform(4, 6.5) * s)
    angle = rng.uniform(0, 180)
    oval = _ellipse_mask(breast.image.shape, centre, axes, angle)
    hilum = _ellipse_mask(breast.image.shape, centre, (0.4 * axes[0], 0.35 * axes[1]), angle) & oval
    level = rng.uniform(2000, 2700)
    soft = _soft(oval, 0.8)
    breast.image = breast.image * (1 - soft) + level * soft - _soft(hilum, 0.8) * 0.4 * level


def _outline(rng, centre, radius: float, roughness: float, n_spikes: int, aspect: float) -> np.ndarray:
    """Closed polygon: an ellipse bent by random low harmonics (`roughness`) and `n_spikes` narrow spikes."""
    theta = np.linspace(0, 2 * np.pi, 120, endpoint=False)
    r = np.ones_like(theta)
    for k in range(2, 7):
        r += rng.normal(0, roughness / k ** 0.5) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    for angle in rng.uniform(0, 2 * np.pi, size=n_spikes):
        gap = np.abs(np.angle(np.exp(1j * (theta - angle))))
        r += rng.uniform(0.6, 1.3) * np.clip(1 - gap / rng.uniform(0.06, 0.12), 0, None)
    r = np.clip(r, 0.5, None) * radius
    tilt = rng.uniform(0, np.pi)
    x, y = r * np.cos(theta) * aspect, r * np.sin(theta) / aspect
    return np.stack([centre[0] + x * np.cos(tilt) - y * np.sin(tilt),
                     centre[1] + x * np.sin(tilt) + y * np.cos(tilt)], axis=1)


MASS_MARGINS = ("circumscribed", "lobulated", "spiculated")


def add_mass(rng, breast: Breast, radius: float, margin: str, taken: np.ndarray | None = None):
    """Draw one mass of about `radius` px; returns its bool mask, or None when no place in the breast fits it.

    circumscribed: smooth oval with a thin dark fat halo (benign look); lobulated: bumpy outline; spiculated:
    irregular dense core with spikes in the outline and faint straight strands radiating beyond it (malignant).
    """
    if margin not in MASS_MARGINS:
        raise ConfigError(f"mass margin must be one of {MASS_MARGINS}, got {margin!r}")
    shape = breast.image.shape
    taken = np.zeros(shape, bool) if taken is None else taken
    centre = breast.anatomy.random_point(rng, breast.lesion_free(taken, radius + 3))
    if centre is None:
        return None
    roughness, spikes = {"circumscribed": (0.03, 0), "lobulated": (0.12, 0),
                         "spiculated": (0.1, int(rng.integers(6, 12)))}[margin]
    polygon = _outline(rng, centre, radius, roughness, spikes, aspect=rng.uniform(0.8, 1.25))
    points = np.round(polygon).astype(np.int32)
    mask = _draw(shape, lambda c: cv2.fillPoly(c, [points], 1)) & breast.anatomy.breast
    if not mask.any():
        return None
    core = _smoothstep(ndimage.distance_transform_edt(mask) / max(1.0, 0.7 * radius))
    contrast = rng.uniform(500, 850)
    if margin == "circumscribed":
        halo = ndimage.binary_dilation(mask, iterations=max(1, round(0.12 * radius))) & ~mask
        breast.image *= 1 - 0.15 * _soft(halo, 0.8)
        breast.image += _soft(mask, 0.7) * contrast + core * 0.3 * contrast
    else:
        breast.image += _soft(mask, 0.7 if margin == "lobulated" else 0.5) * contrast + core * 0.7 * contrast
    if margin == "spiculated":  # strands beyond the outline: part of the look, not of the annotation
        strands = np.zeros(shape, bool)
        for angle in rng.uniform(0, 2 * np.pi, size=int(rng.integers(5, 10))):
            length = radius * rng.uniform(1.6, 2.6)
            end = (centre[0] + length * math.cos(angle), centre[1] + length * math.sin(angle))
            strands |= _polyline_mask(shape, np.array([centre, end], np.float32), 1)
        breast.image += _soft(strands & breast.anatomy.breast & ~mask, 0.7) * 0.35 * contrast
    return mask


def add_calcification_cluster(rng, breast: Breast, spread: float, taken: np.ndarray | None = None):
    """A cluster of small round bright specks; returns the region a reader outlines around it, or None.

    The region (the annotation DDSM gives calcification clusters) is the specks' convex hull grown by ~2 px.
    """
    shape = breast.image.shape
    taken = np.zeros(shape, bool) if taken is None else taken
    centre = breast.anatomy.random_point(rng, breast.lesion_free(taken, spread + 3))
    if centre is None:
        return None
    u = breast.size_unit
    specks = np.zeros(shape, bool)
    for _ in range(int(rng.integers(6, 16))):
        x, y = np.add(centre, np.clip(rng.normal(0, spread / 2, 2), -spread, spread))
        r = rng.uniform(1.0, 1.8) * max(u, 0.75)
        specks |= (breast.anatomy.xx - x) ** 2 + (breast.anatomy.yy - y) ** 2 <= r * r
    specks &= breast.anatomy.breast
    if not specks.any():
        return None
    breast.image += _soft(specks, 0.5) * rng.uniform(900, 1500)
    hull = cv2.convexHull(np.argwhere(specks)[:, ::-1].astype(np.int32))
    region = _draw(shape, lambda c: cv2.fillPoly(c, [hull], 1))
    return ndimage.binary_dilation(region, iterations=max(1, round(2 * u))) & breast.anatomy.breast


def finish_mammogram(rng, breast: Breast) -> np.ndarray:
    """Detector noise and a per-image gain, rounded to 12-bit values in uint16 (still a left breast)."""
    image = breast.image + 30 * _noise_field(rng, breast.image.shape, 1.2)
    image += rng.normal(0, rng.uniform(20, 40), image.shape).astype(np.float32)
    image = image * rng.uniform(0.85, 1.15) + rng.uniform(-80, 80)
    return np.clip(np.round(image), 0, MAX_VALUE).astype(np.uint16)
