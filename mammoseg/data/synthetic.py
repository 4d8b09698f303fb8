"""Synthetic mammogram phantoms in the `kth-seg` layout, so every recipe runs end to end without the real data.

Each case is an MLO-like 12-bit mammogram (stored as uint16) with all 13 MAMMO13 structures drawn from explicit
geometry; the binary masks are written from the very same geometry, so the labels are exact. Classes are meant to
be told apart by local appearance and context (texture, shape, neighbours), not by intensity alone: tissue
intensities overlap between classes and across cases (random gain, smooth gradients, noise).
See docs/data-kthseg.md for what each class looks like and the phantom's limits.
"""
from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
from scipy import ndimage

from ..errors import ConfigError
from ..io.annotations import (IMAGE_STEM, LABELS_FILE, MASKS_DIR, SPLITS, SPLITS_FILE, format_splits,
                              merge_case)
from ..io.atomic import atomic_write_bytes
from ..io.raster import write_image, write_mask
from ..labels import MAMMO13

MAX_VALUE = 4095  # 12-bit detector range, stored in uint16 like most mammography exports
# The phantom is drawn at roughly 1/8 of a native mammogram's resolution, so the native default (2 px) shrinks
# accordingly; 1 px keeps 3-px-wide vessels and skin intact while still rounding jagged corners.
SYNTHETIC_MERGE_SIGMA = 1.0
_SPLIT_STREAM = 0x53504C54  # spawn key of the split permutation; far above any case index
_REFERENCE_SIZE = 320.0  # sizes below are in pixels at a 320-px-wide image and scale with the image


# ---------------------------------------------------------------------------------------------- random fields
def _noise_field(rng: np.random.Generator, shape, sigma: float) -> np.ndarray:
    """Gaussian-blurred white noise rescaled to zero mean and unit std: a texture of grain size ~sigma."""
    field = cv2.GaussianBlur(rng.standard_normal(shape).astype(np.float32), (0, 0), sigma)
    return (field - field.mean()) / (field.std() + 1e-6)


def _streak_field(rng: np.random.Generator, shape, angle: float, length: int) -> np.ndarray:
    """Noise smeared along `angle` (radians): the fibre striation of muscle and skin folds."""
    size = 2 * (length // 2) + 1
    kernel = np.zeros((size, size), np.float32)
    c = size // 2
    dx, dy = math.cos(angle) * c, math.sin(angle) * c
    cv2.line(kernel, (round(c - dx), round(c - dy)), (round(c + dx), round(c + dy)), 1.0, 1)
    kernel /= kernel.sum()
    field = cv2.filter2D(rng.standard_normal(shape).astype(np.float32), -1, kernel, borderType=cv2.BORDER_REFLECT)
    field = cv2.GaussianBlur(field, (0, 0), 0.8)
    return (field - field.mean()) / (field.std() + 1e-6)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _draw(shape, painter) -> np.ndarray:
    """Run a cv2 drawing call on a blank uint8 canvas and return the painted pixels as a bool mask."""
    canvas = np.zeros(shape, np.uint8)
    painter(canvas)
    return canvas > 0


def _ellipse_mask(shape, centre, axes, angle_deg: float) -> np.ndarray:
    centre_px, axes_px = (round(centre[0]), round(centre[1])), (round(axes[0]), round(axes[1]))
    return _draw(shape, lambda c: cv2.ellipse(c, centre_px, axes_px, angle_deg, 0, 360, 1, -1))


def _soft(mask: np.ndarray, sigma: float = 0.8) -> np.ndarray:
    """Anti-aliased float version of a mask for drawing (the label stays the hard mask)."""
    return cv2.GaussianBlur(mask.astype(np.float32), (0, 0), sigma)


# ---------------------------------------------------------------------------------------------- geometry
class _Anatomy:
    """Breast outline, body regions and distance-to-air of one case, in canonical orientation (chest wall left)."""

    def __init__(self, rng: np.random.Generator, shape):
        self.shape = H, W = shape
        self.scale = W / _REFERENCE_SIZE
        ys = np.arange(H, dtype=np.float32)
        self.y_centre = rng.uniform(0.48, 0.6) * H
        self.y_fold = rng.uniform(0.84, 0.93) * H
        self.x_max = rng.uniform(0.66, 0.8) * W
        top_width = rng.uniform(0.32, 0.46) * W
        upper = np.clip((self.y_centre - ys) / self.y_centre, 0, 1)
        lower = np.clip((ys - self.y_centre) / (self.y_fold - self.y_centre), 0, 1)
        edge = np.where(ys < self.y_centre, top_width + (self.x_max - top_width) * np.sqrt(1 - upper ** 2),
                        self.x_max * np.sqrt(np.clip(1 - lower ** 2, 0, 1)))
        wobble = 1 + 0.025 * np.sin(ys / H * rng.uniform(4, 9) + rng.uniform(0, 2 * np.pi))
        self.edge = (edge * wobble).astype(np.float32)  # x of the breast outline per row
        yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
        self.yy, self.xx = yy, xx
        breast = xx < self.edge[:, None]

        # nipple: a disk half outside the outline at the breast's tip
        self.nipple_radius = rng.uniform(9.0, 12.5) * self.scale
        ny = int(np.clip(self.y_centre + rng.uniform(-0.04, 0.04) * H, 0, H - 1))
        self.nipple_centre = (float(self.edge[ny]) + 0.1 * self.nipple_radius, float(ny))
        nipple = (xx - self.nipple_centre[0]) ** 2 + (yy - self.nipple_centre[1]) ** 2 <= self.nipple_radius ** 2
        self.breast = breast | nipple
        self.nipple = nipple

        # submammary tissue: the abdominal fold below the breast, in the lower chest-wall corner
        sub_w = rng.uniform(0.28, 0.45) * W
        sub_h = (H - self.y_fold) + rng.uniform(0.07, 0.13) * H
        sub = (xx / sub_w) ** 2 + ((yy - H) / sub_h) ** 2 < 1
        self.submammary = sub & ~self.breast
        self.body = self.breast | self.submammary
        self.dist_to_air = ndimage.distance_transform_edt(self.body).astype(np.float32)

        # pectoral muscle: a slightly convex triangle in the upper chest-wall corner
        self.pect_w = rng.uniform(0.24, 0.42) * W
        self.pect_h = rng.uniform(0.38, 0.62) * H
        curvature = rng.uniform(1.0, 1.35)
        self.pectoral = ((xx / self.pect_w) ** curvature + (yy / self.pect_h) ** curvature < 1) & self.body
        self.skin_width = rng.uniform(2.6, 4.2) * self.scale
        self.skin = self.body & (self.dist_to_air <= self.skin_width)

    def interior(self, margin: float) -> np.ndarray:
        """Breast tissue at least `margin` px inside the skin, outside muscle and nipple."""
        return self.breast & ~self.pectoral & ~self.nipple & (self.dist_to_air > self.skin_width + margin)

    def random_point(self, rng: np.random.Generator, region: np.ndarray):
        ys, xs = np.nonzero(region)
        if ys.size == 0:
            return None
        k = rng.integers(ys.size)
        return float(xs[k]), float(ys[k])


def _wander(rng: np.random.Generator, start, heading: float, allowed: np.ndarray, max_len: float, step: float):
    """A smooth random curve (heading drifts, turn rate decays) that stops when it leaves `allowed`."""
    H, W = allowed.shape
    x, y = start
    points, turn = [(x, y)], 0.0
    for _ in range(int(max_len / step)):
        turn = 0.85 * turn + rng.normal(0, 0.06)
        heading += turn
        x, y = x + step * math.cos(heading), y + step * math.sin(heading)
        if not (0 <= x < W and 0 <= y < H) or not allowed[int(y), int(x)]:
            break
        points.append((x, y))
    return np.asarray(points, np.float32)


def _vessel_path(rng, anatomy: _Anatomy, allowed: np.ndarray, min_len: float):
    """A vessel from near the chest wall towards the nipple; None if no long enough path fits."""
    s = anatomy.scale
    near_wall = allowed & (anatomy.xx < 0.35 * anatomy.shape[1])
    for _ in range(8):
        start = anatomy.random_point(rng, near_wall)
        if start is None:
            return None
        aim = math.atan2(anatomy.nipple_centre[1] - start[1], anatomy.nipple_centre[0] - start[0])
        path = _wander(rng, start, aim + rng.normal(0, 0.35), allowed, rng.uniform(90, 220) * s, 3.0 * s)
        if len(path) * 3.0 * s >= min_len:
            return path
    return None


def _polyline_mask(shape, path: np.ndarray, width: int) -> np.ndarray:
    pts = np.round(path).astype(np.int32).reshape(-1, 1, 2)
    return _draw(shape, lambda c: cv2.polylines(c, [pts], False, 1, thickness=width, lineType=cv2.LINE_8))


def _tram_dashes(shape, path: np.ndarray, offset: float, rng) -> np.ndarray:
    """Dashed bright rails on both walls of a vessel: the look of arterial (calcified vessel) calcification."""
    tangent = np.gradient(path, axis=0)
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True) + 1e-6
    normal = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)
    canvas = np.zeros(shape, np.uint8)
    i = 0
    while i < len(path) - 1:
        dash = int(rng.integers(2, 5))
        for side in (-1, 1):
            rail = path[i:i + dash + 1] + side * offset * normal[i:i + dash + 1]
            cv2.polylines(canvas, [np.round(rail).astype(np.int32).reshape(-1, 1, 2)], False, 1, 2, cv2.LINE_8)
        i += dash + int(rng.integers(1, 3))
    return canvas > 0


def _blob_polygon(rng, centre, radius: float, spiculated: bool) -> np.ndarray:
    """Irregular closed outline: random low harmonics, plus narrow spikes for a spiculated mass."""
    theta = np.linspace(0, 2 * np.pi, 96, endpoint=False)
    r = np.ones_like(theta)
    for k in range(2, 6):
        r += rng.normal(0, 0.07) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    if spiculated:
        for angle in rng.uniform(0, 2 * np.pi, size=rng.integers(6, 12)):
            gap = np.angle(np.exp(1j * (theta - angle)))
            r += rng.uniform(0.5, 1.0) * np.clip(1 - np.abs(gap) / 0.12, 0, None)
    r = np.clip(r, 0.55, None) * radius
    return np.stack([centre[0] + r * np.cos(theta), centre[1] + r * np.sin(theta)], axis=1)


# ---------------------------------------------------------------------------------------------- rendering
class _Phantom:
    """Paints one case structure by structure; each step draws into `image` and records the exact mask."""

    def __init__(self, rng: np.random.Generator, shape):
        self.rng, self.shape = rng, shape
        self.a = _Anatomy(rng, shape)
        self.s = self.a.scale
        self.masks: dict[str, np.ndarray] = {}

    def _keep(self, name: str, mask: np.ndarray) -> None:
        if mask.any():
            self.masks[name] = mask

    def tissue(self) -> None:
        """Breast (fat + fibroglandular clouds), submammary fold, pectoral muscle and skin line."""
        rng, a, s, shape = self.rng, self.a, self.s, self.shape
        # darker towards the skin where the compressed breast is thinner; denser towards the chest wall
        depth = _smoothstep(a.dist_to_air / (rng.uniform(28, 45) * s))
        thickness = 0.5 + 0.5 * depth
        chest_bias = 1 - 0.6 * np.clip(a.xx / a.x_max, 0, 1)
        cloud = 0.65 * _noise_field(rng, shape, 9 * s) + 0.35 * _noise_field(rng, shape, 3 * s)
        density = _smoothstep((cloud + 1.6 * chest_bias * depth - rng.uniform(0.6, 1.1)) / 2.4 + 0.5)
        self.fat, dense = rng.uniform(1000, 1300), rng.uniform(1000, 1500)
        gradient = 1 + 0.12 * _noise_field(rng, shape, 70 * s) + rng.uniform(-0.12, 0.12) * (a.yy / shape[0] - 0.5)
        tissue = (self.fat + dense * density + 70 * _noise_field(rng, shape, 1.5 * s)) * thickness * gradient
        img = np.full(shape, rng.uniform(120, 320), np.float32)
        img[a.breast] = tissue[a.breast]
        self._keep("mammary_gland", a.breast.copy())

        # submammary fold: smooth tissue with horizontal striation, separated from the breast by a dark fat line
        fold = _streak_field(rng, shape, rng.uniform(-0.2, 0.2), int(21 * s))
        sub_level = rng.uniform(1400, 1900) * (0.75 + 0.25 * depth) * gradient + 90 * fold
        img[a.submammary] = sub_level[a.submammary]
        img[a.submammary & (ndimage.distance_transform_edt(~a.breast) <= 2.5 * s)] *= 0.8
        self._keep("submammary_tissue", a.submammary.copy())

        # pectoral muscle: bright, striated along its edge, with a soft boundary
        muscle = rng.uniform(1900, 2600) * (1.05 - 0.2 * a.yy / a.pect_h) * gradient
        muscle += 120 * _streak_field(rng, shape, math.atan2(a.pect_h, -a.pect_w), int(25 * s))
        alpha = _soft(a.pectoral, 1.2)
        img = img * (1 - alpha) + muscle * alpha
        self._keep("pectoral_muscle", a.pectoral.copy())

        # skin line: a thin brighter band along every tissue/air edge
        skin_profile = np.exp(-((a.dist_to_air - a.skin_width / 2) / (0.6 * a.skin_width)) ** 2)
        img += a.body * skin_profile * rng.uniform(500, 850)
        self._keep("skin", a.skin.copy())
        self.image = img

    def vessels(self) -> None:
        """Thick vessels: long tubular curves with a thin dark sheath; maybe one calcified (dashed bright walls)."""
        rng, a, s, shape, img = self.rng, self.a, self.s, self.shape, self.image
        allowed = a.interior(2 * s)
        vessels = np.zeros(shape, bool)
        for _ in range(int(rng.integers(2, 4))):
            path = _vessel_path(rng, a, allowed, 60 * s)
            if path is None:
                continue
            width = int(round(rng.uniform(4, 6.5) * s))
            tube = _polyline_mask(shape, path, max(width, 3)) & allowed
            halo = ndimage.binary_dilation(tube, iterations=2) & ~tube
            img *= 1 - 0.12 * _soft(halo, 0.8)
            img += _soft(tube, 0.8) * rng.uniform(500, 750)
            vessels |= tube
        self._keep("thick_vessels", vessels)

        if rng.random() < 0.55:
            path = _vessel_path(rng, a, allowed, 70 * s)
            if path is not None:
                width = max(int(round(rng.uniform(4, 6) * s)), 4)
                tube = _polyline_mask(shape, path, width) & allowed
                rails = _tram_dashes(shape, path, width / 2 - 1, rng) & tube
                img += _soft(tube, 1.0) * rng.uniform(200, 350) + _soft(rails, 0.6) * rng.uniform(1100, 1600)
                self._keep("calcified_vessels", tube)

    def tumors(self) -> None:
        """Masses: dense blobs with irregular or spiculated borders, brightest in the core."""
        rng, a, s, shape, img = self.rng, self.a, self.s, self.shape, self.image
        tumors = np.zeros(shape, bool)
        if rng.random() < 0.75:
            for _ in range(int(rng.integers(1, 3))):
                radius = rng.uniform(12, 22) * s
                centre = a.random_point(rng, a.interior(radius + 6 * s))
                if centre is None:
                    continue
                outline = np.round(_blob_polygon(rng, centre, radius, rng.random() < 0.6)).astype(np.int32)
                blob = _draw(shape, lambda c: cv2.fillPoly(c, [outline], 1)) & a.breast & ~a.pectoral
                core = _smoothstep(ndimage.distance_transform_edt(blob) / (0.6 * radius))
                img += _soft(blob, 0.7) * rng.uniform(600, 900) + core * rng.uniform(300, 600)
                tumors |= blob
        self._keep("tumor", tumors)

    def lymph_nodes(self) -> None:
        """Axillary lymph nodes: bright ovals with a dark fatty hilum and a fat rim, just outside the pectoral."""
        rng, a, s, shape = self.rng, self.a, self.s, self.shape
        nodes = np.zeros(shape, bool)
        if rng.random() < 0.7:
            near_pectoral = (a.interior(3 * s) & (ndimage.distance_transform_edt(~a.pectoral) < 22 * s)
                             & (a.yy < a.pect_h))
            for _ in range(int(rng.integers(1, 3))):
                centre = a.random_point(rng, near_pectoral & ~ndimage.binary_dilation(nodes, iterations=int(6 * s)))
                if centre is None:
                    continue
                axes = (rng.uniform(10, 13) * s, rng.uniform(7, 9) * s)
                angle = rng.uniform(0, 180)
                oval = _ellipse_mask(shape, centre, axes, angle)
                shift = 0.45 * axes[0]
                hilum_centre = (centre[0] + shift * math.cos(math.radians(angle)),
                                centre[1] + shift * math.sin(math.radians(angle)))
                hilum = _ellipse_mask(shape, hilum_centre, (0.45 * axes[0], 0.4 * axes[1]), angle) & oval
                level = rng.uniform(2100, 2700)
                halo = ndimage.binary_dilation(oval, iterations=max(2, round(3 * s))) & ~oval
                self.image *= 1 - 0.25 * _soft(halo, 1.0)
                soft_oval = _soft(oval, 0.7)
                self.image = self.image * (1 - soft_oval) + level * soft_oval
                self.image -= _soft(hilum, 0.7) * (level - self.fat * 0.8)
                nodes |= oval
        self._keep("axillary_lymph_nodes", nodes)

    def calcifications(self) -> None:
        """Clusters of tiny, very bright specks."""
        rng, a, s, shape = self.rng, self.a, self.s, self.shape
        specks = np.zeros(shape, bool)
        if rng.random() < 0.7:
            for _ in range(int(rng.integers(1, 3))):
                centre = a.random_point(rng, a.interior(20 * s))
                if centre is None:
                    continue
                spread = rng.uniform(6, 14) * s
                for _ in range(int(rng.integers(7, 15))):
                    x, y = np.add(centre, rng.normal(0, spread, 2))
                    r = rng.uniform(1.3, 2.2) * s
                    specks |= (a.xx - x) ** 2 + (a.yy - y) ** 2 <= r * r
            specks &= a.breast & ~a.pectoral
            self.image += _soft(specks, 0.6) * rng.uniform(1300, 1900)
        self._keep("calcifications", specks)

    def nipple(self) -> None:
        """A smooth, uniform round bump on the breast's tip."""
        a = self.a
        level = self.rng.uniform(1500, 2100)
        soft_nipple = _soft(a.nipple, 1.0)
        ring = np.sqrt((a.xx - a.nipple_centre[0]) ** 2 + (a.yy - a.nipple_centre[1]) ** 2) / a.nipple_radius
        self.image = self.image * (1 - soft_nipple) + level * (1.08 - 0.15 * ring ** 2) * soft_nipple
        self._keep("nipple", a.nipple.copy())

    def foreign_object(self) -> None:
        """A metal clip, ring marker or triangle marker: near-saturated with sharp edges."""
        rng, a = self.rng, self.a
        if rng.random() < 0.6:
            centre = a.random_point(rng, a.breast & ~a.nipple & (a.dist_to_air > 12 * self.s))
            if centre is not None:
                obj = _foreign_object(rng, self.shape, centre, self.s)
                self.image[obj] = rng.uniform(3500, 3900)
                self._keep("foreign_object", obj)

    def acquire(self) -> None:
        """Detector noise (correlated + white), per-case gain and offset, then laterality."""
        rng, shape = self.rng, self.shape
        self.image += 35 * _noise_field(rng, shape, 1.2) + rng.normal(0, rng.uniform(25, 45), shape).astype(np.float32)
        self.image = self.image * rng.uniform(0.85, 1.15) + rng.uniform(-80, 80)
        if rng.random() < 0.5:  # right breast: chest wall on the right
            self.image = self.image[:, ::-1]
            self.masks = {k: np.ascontiguousarray(m[:, ::-1]) for k, m in self.masks.items()}

    def text(self) -> None:
        """Burnt-in text in an empty background corner; drawn after `acquire`, so never mirrored or noisy."""
        if self.rng.random() < 0.9:
            body = self.masks["mammary_gland"] | self.masks["submammary_tissue"]
            text = _burnt_in_text(self.rng, self.shape, body, self.s)
            if text is not None:
                glyphs, mask = text
                self.image[glyphs] = self.rng.uniform(3300, 4000)
                self._keep("text", mask)


def render_case(rng: np.random.Generator, image_size=(384, 320)) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """One phantom: (uint16 image with 12-bit values, class name -> bool mask) for the classes present."""
    shape = tuple(int(v) for v in image_size)
    if len(shape) != 2 or min(shape) < 64:
        raise ConfigError(f"image_size {image_size} too small for a phantom; need (height, width) of at least 64")
    phantom = _Phantom(rng, shape)
    for step in (phantom.tissue, phantom.vessels, phantom.tumors, phantom.lymph_nodes, phantom.calcifications,
                 phantom.nipple, phantom.foreign_object, phantom.acquire, phantom.text):
        step()
    return np.clip(np.round(phantom.image), 0, MAX_VALUE).astype(np.uint16), phantom.masks


def _foreign_object(rng, shape, centre, s) -> np.ndarray:
    c = (round(centre[0]), round(centre[1]))
    kind = rng.integers(3)
    if kind == 0:  # ring skin marker
        radius = round(rng.uniform(7, 10) * s)
        return _draw(shape, lambda k: cv2.circle(k, c, radius, 1, thickness=max(3, round(4 * s))))
    if kind == 1:  # surgical clip: a thick bar with a bent end
        length, angle = rng.uniform(16, 24) * s, rng.uniform(0, np.pi)
        d = np.array([math.cos(angle), math.sin(angle)]) * length / 2
        hook = np.array([-d[1], d[0]]) * 0.5
        pts = np.round([np.add(c, -d + hook), np.add(c, -d), np.add(c, d)]).astype(np.int32).reshape(-1, 1, 2)
        return _draw(shape, lambda k: cv2.polylines(k, [pts], False, 1, thickness=max(4, round(4 * s))))
    size = rng.uniform(9, 12) * s  # triangle marker
    angles = rng.uniform(0, 2 * np.pi) + np.array([0, 2 * np.pi / 3, 4 * np.pi / 3])
    pts = np.round(np.stack([c[0] + size * np.cos(angles), c[1] + size * np.sin(angles)], 1)).astype(np.int32)
    return _draw(shape, lambda k: cv2.fillPoly(k, [pts], 1))


_VIEW_WORDS = ("MLO", "CC", "ML", "XCCL")


def _burnt_in_text(rng, shape, body: np.ndarray, s):
    """Two short lines (laterality + view, an id) in a top or bottom corner that holds no tissue."""
    H, W = shape
    scale = 0.42 * s
    lines = [f"{'LR'[rng.integers(2)]} {_VIEW_WORDS[rng.integers(len(_VIEW_WORDS))]}",
             f"{rng.integers(10, 99)}KV {rng.integers(1000, 9999)}"]
    (tw, th), _ = cv2.getTextSize(max(lines, key=len), cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    line_gap = int(th * 1.9)
    box_w, box_h = tw + 4, line_gap * len(lines) + 4
    margin = int(6 * s)
    corners = [(x0, y0) for y0 in (margin, H - margin - box_h) for x0 in (margin, W - margin - box_w)]
    free = [(x0, y0) for x0, y0 in corners
            if not body[max(0, y0 - margin):y0 + box_h + margin, max(0, x0 - margin):x0 + box_w + margin].any()]
    if not free:
        return None
    x0, y0 = free[rng.integers(len(free))]

    def paint(canvas):
        for i, line in enumerate(lines):
            cv2.putText(canvas, line, (x0 + 2, y0 + th + 2 + i * line_gap), cv2.FONT_HERSHEY_SIMPLEX, scale, 1,
                        thickness=max(1, round(s)), lineType=cv2.LINE_8)

    glyphs = _draw(shape, paint)
    # the annotation covers the strokes plus a 1-px margin, like a brush stroke over each character
    return glyphs, ndimage.binary_dilation(glyphs, structure=np.ones((3, 3), bool))


# ---------------------------------------------------------------------------------------------- dataset
def _split_counts(n_cases: int, fractions) -> list[int]:
    """Largest-remainder rounding; every split with a positive fraction gets a case when there are enough."""
    exact = [f * n_cases for f in fractions]
    counts = [int(math.floor(e)) for e in exact]
    for i in sorted(range(len(exact)), key=lambda i: exact[i] - counts[i], reverse=True)[: n_cases - sum(counts)]:
        counts[i] += 1
    for i, f in enumerate(fractions):
        if f > 0 and counts[i] == 0 and max(counts) > 1:
            counts[counts.index(max(counts))] -= 1
            counts[i] = 1
    return counts


def case_name(index: int) -> str:
    return f"case_{index:03d}"


def case_rng(seed: int, index: int) -> np.random.Generator:
    """Case `index`'s generator: the index-th child of the dataset seed, so a case never depends on n_cases."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(index,)))


def make_kthseg_dataset(root: str | Path, n_cases: int = 24, image_size=(384, 320), seed: int = 0,
                        split_fractions=(0.6, 0.2, 0.2), merge: bool = True,
                        sigma: float = SYNTHETIC_MERGE_SIGMA) -> Path:
    """Write a phantom `kth-seg` dataset under `root` (same seed -> byte-identical files) and return root."""
    if n_cases < 1:
        raise ConfigError(f"n_cases must be >= 1, got {n_cases}")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    fractions = tuple(float(f) for f in split_fractions)
    if len(fractions) != len(SPLITS) or min(fractions) < 0 or not math.isclose(sum(fractions), 1.0, abs_tol=1e-6):
        raise ConfigError(f"split_fractions must be {len(SPLITS)} non-negative numbers summing to 1 "
                          f"({'/'.join(SPLITS)}), got {split_fractions}")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    order = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_SPLIT_STREAM,))).permutation(n_cases)
    split_of = np.repeat(np.arange(len(SPLITS)), _split_counts(n_cases, fractions))[np.argsort(order)]

    for index in range(n_cases):
        case_dir = root / case_name(index)
        image, masks = render_case(case_rng(seed, index), image_size)
        write_image(case_dir / f"{IMAGE_STEM}.png", image)
        masks_dir = case_dir / MASKS_DIR
        masks_dir.mkdir(parents=True, exist_ok=True)
        for stale in masks_dir.glob("*.png"):  # a previous run may have left classes this case lacks
            if stale.stem in MAMMO13.names and stale.stem not in masks:
                stale.unlink()
        for name, mask in masks.items():
            write_mask(masks_dir / f"{name}.png", mask)
        if merge:
            merge_case(case_dir, MAMMO13, sigma=sigma)
    splits = {case_name(i): SPLITS[split_of[i]] for i in range(n_cases)}
    atomic_write_bytes(root / SPLITS_FILE, format_splits(splits))
    MAMMO13.save_json(root / LABELS_FILE)  # the dataset declares its labels (mammoseg.io.annotations)
    return root
