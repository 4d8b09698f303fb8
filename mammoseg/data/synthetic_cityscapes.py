"""Cityscapes-like street scenes in the official layout, for the lrh-seg recipes without the real data.

`leftImg8bit/<split>/<city>/<city>_<seq>_000019_leftImg8bit.png` (8-bit RGB) and the matching
`gtFine/<split>/<city>/..._gtFine_labelIds.png` holding Cityscapes *label ids* (not train ids), void ids included
(unlabeled 0, ego vehicle 1, rectification border 2, static 4, parking 9, rail track 10), so that the ignore
mapping of `mammoseg.io.cityscapes.read_cityscapes_label` is exercised. Every scene is drawn in one-point
perspective: road to the vanishing point, sidewalks, facades with windows, sky, and objects scaled by their
distance. Colours overlap between classes (grey road, walls, facades, poles, silver cars, overcast sky), so the
class of a pixel follows from shape, texture and position. Details and limits: docs/data-synthetic.md.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..errors import ConfigError
from ..io.annotations import SPLITS
from ..io.cityscapes import IMAGE_SUFFIX, LABEL_SUFFIX
from ..io.raster import write_image
from .phantom import check_count, check_seed, check_shape, stream_rng, write_rgb_png
from .synthetic import _draw, _noise_field

# Cityscapes label ids (cityscapesScripts labels.py) of what the scenes contain
ID = {"unlabeled": 0, "ego_vehicle": 1, "rectification_border": 2, "static": 4, "road": 7, "sidewalk": 8,
      "parking": 9, "rail_track": 10, "building": 11, "wall": 12, "fence": 13, "pole": 17, "traffic_light": 19,
      "traffic_sign": 20, "vegetation": 21, "terrain": 22, "sky": 23, "person": 24, "rider": 25, "car": 26,
      "truck": 27, "bus": 28, "train": 31, "motorcycle": 32, "bicycle": 33}
CITIES = {"train": ("synthburg", "pixelstadt", "voxelheim"), "val": ("phantomville",), "test": ("mockton",)}
FRAME = 19  # Cityscapes annotates the 20th frame of each 30-frame snippet
# Rare classes are guaranteed in turn (image i gets group i mod 4), so any 4 consecutive images hold them all.
_ROTATION = (("truck", "wall", "traffic_light"), ("bus", "fence", "terrain"), ("train", "bicycle", "wall"),
             ("motorcycle", "fence", "traffic_light", "terrain"))
# Distance ranges (t: 0 = horizon, 1 = bottom row) where each kind of object stands: poles and trees far enough
# for their tops to stay in view, guaranteed ("near") vehicles in front of the others but not filling the frame.
_DEPTH = {"tree": (0.06, 0.4), "person": (0.1, 0.6), "static": (0.15, 0.6), "pole": (0.06, 0.25),
          "small": (0.1, 0.6), "large": (0.08, 0.35), "near small": (0.35, 0.55), "near large": (0.25, 0.4)}
_GRAYS = ((95, 95, 100), (130, 128, 125), (150, 150, 155), (170, 165, 160))


def _jitter(rng, colour, amount=18):
    return np.clip(np.asarray(colour, np.float32) + rng.uniform(-amount, amount, 3), 0, 255)


def _poly(shape, points) -> np.ndarray:
    pts = np.round(np.asarray(points, np.float64)).astype(np.int32)
    return _draw(shape, lambda c: cv2.fillPoly(c, [pts], 1))


def _box(shape, left, top, right, bottom) -> np.ndarray:
    return _poly(shape, [(left, top), (right, top), (right, bottom), (left, bottom)])


def _disc(shape, centre, radius, thickness=-1) -> np.ndarray:
    c = (int(round(centre[0])), int(round(centre[1])))
    return _draw(shape, lambda k: cv2.circle(k, c, max(1, int(round(radius))), 1, thickness))


def _segment(shape, start, end, width) -> np.ndarray:
    a, b = tuple(int(round(v)) for v in start), tuple(int(round(v)) for v in end)
    return _draw(shape, lambda k: cv2.line(k, a, b, 1, max(1, int(round(width)))))


class _Scene:
    """Label-id map + float RGB canvas painted back to front, and the perspective of one street."""

    def __init__(self, rng: np.random.Generator, shape):
        self.rng = rng
        self.shape = H, W = shape
        self.label = np.zeros(shape, np.uint8)
        self.rgb = np.zeros((H, W, 3), np.float32)
        self.fine = _noise_field(rng, shape, 0.7)  # textures shared by the painters
        self.medium = _noise_field(rng, shape, 2.0)
        self.coarse = _noise_field(rng, shape, 8.0)
        self.yy, self.xx = np.mgrid[0:H, 0:W].astype(np.float32)
        self.horizon = rng.uniform(0.36, 0.48) * H
        self.vanish = rng.uniform(0.4, 0.6) * W
        self.road_half = rng.uniform(0.35, 0.55) * W  # at the bottom row
        self.walk = rng.uniform(0.12, 0.25) * W
        self.setback = {side: (rng.uniform(0.06, 0.18) * W if rng.random() < 0.5 else 0.0) for side in (-1, 1)}

    # perspective: t = 0 at the horizon, 1 at the bottom row; one unit = the camera height at that distance
    def row(self, t):
        return self.horizon + t * (self.shape[0] - self.horizon)

    def unit(self, t):
        return t * (self.shape[0] - self.horizon)

    def x_at(self, t, offset):
        """Image column of a ground point `offset` (px at the bottom row) right of the vanishing point."""
        return self.vanish + offset * t

    def facade_offset(self, side):
        return side * (self.road_half + self.walk + self.setback[side])

    def paint(self, mask, name, colour, texture=None, amount=0.0):
        """Give `mask` the class `name` and a colour modulated by a texture field (a luminance change)."""
        if not mask.any():
            return
        self.label[mask] = ID[name]
        shade = np.asarray(colour, np.float32)[None, :]
        if texture is not None:
            shade = shade + amount * texture[mask][:, None]
        self.rgb[mask] = shade


# ---------------------------------------------------------------------------------------------- background
def _paint_sky_and_ground(scene: _Scene):
    rng, (H, W) = scene.rng, scene.shape
    overcast = rng.random() < 0.35
    top = _jitter(rng, (175, 178, 182) if overcast else (80, 130, 200), 15)
    low = _jitter(rng, (200, 200, 200) if overcast else (180, 200, 225), 12)
    weight = np.clip(scene.yy / max(scene.horizon, 1), 0, 1)[..., None]
    scene.label[:] = ID["sky"]
    scene.rgb[:] = top * (1 - weight) + low * weight + 25 * np.clip(scene.coarse, 0, None)[..., None]

    t = np.clip((scene.yy - scene.horizon) / (H - scene.horizon), 0, None)
    ground = scene.yy > scene.horizon
    offset = (scene.xx - scene.vanish) / np.maximum(t, 1e-3)  # bottom-row offset of each ground pixel
    road = ground & (np.abs(offset) <= scene.road_half)
    grey = _jitter(rng, (90, 90, 96), 12)
    scene.paint(road, "road", grey, scene.fine, 7)
    # dashed centre line and solid edge lines: road by label, white by colour
    phase = np.mod(np.log(np.maximum(t, 1e-3)) * rng.uniform(5, 7), 1.0) < 0.5
    centre = road & (np.abs(offset - rng.uniform(-0.1, 0.1) * scene.road_half) < 0.018 * W) & phase
    edge = road & (np.abs(offset) > scene.road_half - 0.02 * W)
    scene.rgb[centre | edge] = _jitter(rng, (215, 215, 210), 10)
    if rng.random() < 0.3:
        rails = road & (np.abs(np.abs(offset - 0.1 * scene.road_half) - 0.08 * scene.road_half) < 0.012 * W)
        scene.paint(rails, "rail_track", _jitter(rng, (110, 100, 95), 8), scene.fine, 10)
    for side in (-1, 1):
        beyond = ground & (side * offset > scene.road_half)
        walk = beyond & (side * offset <= scene.road_half + scene.walk)
        tiles = ((np.mod(offset / (0.06 * W), 1) < 0.1) | (np.mod(np.log(np.maximum(t, 1e-3)) * 9, 1) < 0.1))
        scene.paint(walk, "sidewalk", _jitter(rng, (150, 130, 135), 15), scene.fine, 6)
        scene.rgb[walk & tiles] *= 0.85
        curb = walk & (side * offset < scene.road_half + 0.015 * W)
        scene.rgb[curb] = _jitter(rng, (175, 170, 165), 10)
        verge = beyond & (side * offset > scene.road_half + scene.walk)
        if scene.setback[side] > 0:
            grass = _jitter(rng, (110, 145, 75) if rng.random() < 0.7 else (140, 120, 90), 12)
            scene.paint(verge, "terrain", grass, scene.medium, 14)
        if rng.random() < 0.25:  # a parking bay cut into the sidewalk
            bay = walk & (t > rng.uniform(0.3, 0.6)) & (t < rng.uniform(0.7, 1.0))
            scene.paint(bay, "parking", _jitter(rng, (105, 100, 105), 10), scene.fine, 6)


def _facade_point(scene: _Scene, side, t, height_units):
    offset = scene.facade_offset(side)
    return scene.x_at(t, offset), scene.row(t) - height_units * scene.unit(t)


def _paint_buildings(scene: _Scene):
    rng = scene.rng
    shape = scene.shape
    # a far skyline closing the street at the horizon
    skyline = np.zeros(shape, bool)
    x = 0.0
    while x < shape[1]:
        w = rng.uniform(0.05, 0.15) * shape[1]
        top = scene.horizon - rng.uniform(0.03, 0.12) * shape[0]
        skyline |= _box(shape, x, top, x + w, scene.horizon + 1)
        x += w
    if rng.random() < 0.4:
        crowns = _noise_field(rng, shape, 3.0) > -0.3
        scene.paint(skyline & crowns, "vegetation", _jitter(rng, (70, 100, 50), 12), scene.fine, 20)
        scene.paint(skyline & ~crowns, "building", _jitter(rng, _GRAYS[1], 15), scene.fine, 6)
    else:
        scene.paint(skyline, "building", _jitter(rng, _GRAYS[int(rng.integers(4))], 15), scene.fine, 6)
    for side in (-1, 1):
        t = 0.02
        while t < 3.0:
            t_end = t + rng.uniform(0.08, 0.5) * t + 0.05
            floors = int(rng.integers(3, 9))
            height = floors * rng.uniform(0.8, 1.1)
            quad = [_facade_point(scene, side, t, 0), _facade_point(scene, side, t_end, 0),
                    _facade_point(scene, side, t_end, height), _facade_point(scene, side, t, height)]
            palette = ((190, 170, 140), _GRAYS[2], (150, 85, 65), (205, 200, 195), (85, 85, 95))
            scene.paint(_poly(shape, quad), "building", _jitter(rng, palette[int(rng.integers(5))], 15),
                        scene.fine, 6)
            glass = _jitter(rng, (45, 50, 60) if rng.random() < 0.6 else (110, 125, 145), 10)
            columns = int(rng.integers(2, 6))
            for f in range(floors):
                for c in range(columns):
                    t0 = t + (t_end - t) * (c + 0.25) / columns
                    t1 = t + (t_end - t) * (c + 0.75) / columns
                    h0, h1 = (f + 0.3) * height / floors, (f + 0.8) * height / floors
                    window = _poly(shape, [_facade_point(scene, side, t0, h0), _facade_point(scene, side, t1, h0),
                                           _facade_point(scene, side, t1, h1), _facade_point(scene, side, t0, h1)])
                    scene.paint(window, "building", glass, scene.fine, 4)
            t = t_end


def _paint_barrier(scene: _Scene, name: str, side: int):
    """A low wall (concrete, joints) or fence (lattice) along the facade line, over part of the street."""
    rng, shape = scene.rng, scene.shape
    t0 = rng.uniform(0.1, 0.5)
    t1 = t0 + rng.uniform(0.3, 1.5)
    height = rng.uniform(0.5, 1.1) if name == "wall" else rng.uniform(0.8, 1.4)
    offset = side * (scene.road_half + scene.walk + 0.5 * scene.setback[side])
    quad = [(scene.x_at(t, offset), scene.row(t) - h * scene.unit(t)) for t, h in
            ((t0, 0), (t1, 0), (t1, height), (t0, height))]
    region = _poly(shape, quad)
    if name == "wall":
        scene.paint(region, "wall", _jitter(rng, _GRAYS[int(rng.integers(4))], 15), scene.medium, 8)
        joints = np.mod(scene.xx / max(4.0, 0.03 * shape[1]), 1) < 0.12
        scene.rgb[region & joints] *= 0.8
    else:
        behind = scene.rgb[region].copy()
        scene.paint(region, "fence", (0, 0, 0))
        scene.rgb[region] = behind * 0.7  # the fence's gaps show what is behind it, darkened
        bars = (np.mod(scene.xx / 3.0, 1) < 0.34) | (np.mod(scene.yy / 4.0, 1) < 0.25)
        scene.rgb[region & bars] = _jitter(rng, (70, 75, 70), 10)


# ---------------------------------------------------------------------------------------------- objects
def _tree(scene, t, offset):
    rng, shape = scene.rng, scene.shape
    x, y, u = scene.x_at(t, offset), scene.row(t), scene.unit(t)
    trunk = _segment(shape, (x, y), (x, y - 2.5 * u), max(1, 0.12 * u))
    crown = _draw(shape, lambda k: cv2.ellipse(k, (int(x), int(y - 3.3 * u)),
                                              (max(2, int(1.3 * u)), max(2, int(1.1 * u))), 0, 0, 360, 1, -1))
    crown &= _noise_field(rng, shape, max(1.0, 0.15 * u)) > -1.0  # ragged edge
    scene.paint(trunk, "vegetation", _jitter(rng, (90, 70, 50), 10), scene.fine, 10)
    scene.paint(crown, "vegetation", _jitter(rng, (65, 105, 45), 15), scene.fine, 28)


def _pole(scene, t, offset, attach: str | None):
    rng, shape = scene.rng, scene.shape
    x, y, u = scene.x_at(t, offset), scene.row(t), scene.unit(t)
    top = y - rng.uniform(3.2, 4.2) * u
    scene.paint(_segment(shape, (x, y), (x, top), max(1, 0.07 * u)), "pole",
                _jitter(rng, _GRAYS[int(rng.integers(4))], 12), scene.fine, 5)
    if attach == "traffic_sign":
        centre, r = (x, top + 0.5 * u), max(2, 0.3 * u)
        kind = int(rng.integers(3))
        if kind == 0:
            sign = _disc(shape, centre, r)
            colour = (35, 70, 165) if rng.random() < 0.5 else (200, 35, 35)
        elif kind == 1:
            sign = _poly(shape, [(centre[0], centre[1] - r), (centre[0] + r, centre[1]), (centre[0], centre[1] + r),
                                 (centre[0] - r, centre[1])])
            colour = (230, 190, 35)
        else:
            sign = _box(shape, centre[0] - r, centre[1] - 0.7 * r, centre[0] + r, centre[1] + 0.7 * r)
            colour = (40, 110, 60) if rng.random() < 0.5 else (235, 235, 235)
        scene.paint(sign, "traffic_sign", _jitter(rng, colour, 12), scene.fine, 5)
        scene.rgb[sign & _disc(shape, centre, 0.45 * r)] = (235, 235, 235)
    elif attach == "traffic_light":
        w, h = max(2, 0.18 * u), max(4, 0.55 * u)
        housing = _box(shape, x - w, top, x + w, top + 2 * h)
        scene.paint(housing, "traffic_light", _jitter(rng, (40, 40, 40) if rng.random() < 0.7 else (200, 170, 40), 8),
                    scene.fine, 4)
        lit = int(rng.integers(3))
        lamp = _disc(shape, (x, top + (lit + 0.5) * 2 * h / 3), 0.6 * w) & housing
        scene.rgb[lamp] = ((230, 40, 30), (240, 190, 30), (40, 220, 90))[lit]


def _person(scene, t, offset, name="person", base_lift=0.0):
    """A walking figure: head, torso, two legs; `base_lift` raises it (riders sit on their vehicle)."""
    rng, shape = scene.rng, scene.shape
    x, y, u = scene.x_at(t, offset), scene.row(t) - base_lift * scene.unit(t), scene.unit(t)
    height = rng.uniform(1.3, 1.55) * u * (0.7 if base_lift else 1.0)
    stride = rng.uniform(0.05, 0.2) * u
    legs = (_segment(shape, (x, y - 0.5 * height), (x - stride, y), max(1, 0.1 * u))
            | _segment(shape, (x, y - 0.5 * height), (x + stride, y), max(1, 0.1 * u)))
    torso = _draw(shape, lambda k: cv2.ellipse(k, (int(x), int(y - 0.67 * height)),
                                              (max(1, int(0.16 * u)), max(2, int(0.19 * height))), 0, 0, 360, 1, -1))
    head = _disc(shape, (x, y - 0.93 * height), max(1, 0.09 * u))
    clothes = _jitter(rng, ((40, 40, 50), (120, 30, 30), (40, 60, 120), (150, 140, 120))[int(rng.integers(4))], 20)
    scene.paint(legs, name, _jitter(rng, (45, 45, 60), 15), scene.fine, 6)
    scene.paint(torso, name, clothes, scene.fine, 8)
    scene.paint(head, name, _jitter(rng, (200, 160, 130), 20), scene.fine, 5)


def _vehicle(scene, t, offset, name):
    """Seen from behind: body, rear window or window band, dark wheels, red lights (wheels belong to the vehicle)."""
    rng, shape = scene.rng, scene.shape
    x, y, u = scene.x_at(t, offset), scene.row(t), scene.unit(t)
    w, h = {"car": (1.5, 1.2), "truck": (2.0, 2.7), "bus": (2.1, 2.6), "train": (2.3, 2.8)}[name]
    w, h = w * u * rng.uniform(0.9, 1.1), h * u * rng.uniform(0.9, 1.1)
    palettes = {"car": ((200, 200, 205), (30, 30, 35), (150, 150, 155), (170, 30, 30), (40, 60, 130)),
                "truck": ((210, 210, 210), (60, 90, 150), (200, 120, 40)),
                "bus": ((230, 190, 40), (180, 40, 40), (225, 225, 225)),
                "train": ((225, 225, 225), (190, 40, 50))}[name]
    body = _box(shape, x - w / 2, y - h, x + w / 2, y - 0.12 * u)
    if name == "car":  # a narrower cabin on top of the body
        body = _box(shape, x - w / 2, y - 0.65 * h, x + w / 2, y - 0.12 * u)
        body |= _box(shape, x - 0.38 * w, y - h, x + 0.38 * w, y - 0.6 * h)
    scene.paint(body, name, _jitter(rng, palettes[int(rng.integers(len(palettes)))], 12), scene.fine, 6)
    band = (0.95, 0.7) if name == "car" else (0.9, 0.55)
    glass = _box(shape, x - 0.33 * w, y - band[0] * h, x + 0.33 * w, y - band[1] * h) & body
    scene.rgb[glass] = _jitter(rng, (50, 60, 70), 10)
    for side in (-1, 1):
        wheel = _box(shape, x + side * 0.45 * w - 0.08 * w, y - 0.2 * u, x + side * 0.45 * w + 0.08 * w, y)
        scene.paint(wheel, name, _jitter(rng, (25, 25, 25), 5), scene.fine, 3)
        light = _box(shape, x + side * 0.42 * w - 0.05 * w, y - 0.5 * h, x + side * 0.42 * w + 0.05 * w, y - 0.42 * h)
        scene.rgb[light & body] = (200, 30, 30)
    if name == "train":
        scene.paint(_segment(shape, (x - 0.2 * w, y - h), (x, y - 1.2 * h), max(1, 0.04 * u)), name, (40, 40, 40))


def _two_wheeler(scene, t, offset, name, with_rider):
    """Motorcycle (from behind: dark body, wheel) or bicycle (side view: two rings and a frame), maybe ridden."""
    rng, shape = scene.rng, scene.shape
    x, y, u = scene.x_at(t, offset), scene.row(t), scene.unit(t)
    if name == "motorcycle":
        wheel = _box(shape, x - 0.09 * u, y - 0.45 * u, x + 0.09 * u, y)
        body = _box(shape, x - 0.28 * u, y - 0.85 * u, x + 0.28 * u, y - 0.3 * u)
        scene.paint(wheel, name, _jitter(rng, (25, 25, 25), 5), scene.fine, 3)
        scene.paint(body, name, _jitter(rng, ((30, 30, 30), (160, 30, 30), (60, 60, 70))[int(rng.integers(3))], 10),
                    scene.fine, 6)
        seat_height = 0.75
    else:
        r = 0.33 * u
        ring = max(1, 0.07 * u)
        back, front = (x - 0.55 * u, y - r), (x + 0.55 * u, y - r)
        frame = (_disc(shape, back, r, int(round(ring))) | _disc(shape, front, r, int(round(ring)))
                 | _segment(shape, back, (x, y - 1.7 * r), ring) | _segment(shape, (x, y - 1.7 * r), front, ring)
                 | _segment(shape, back, (x - 0.1 * u, y - 2.3 * r), ring))
        scene.paint(frame, name, _jitter(rng, (40, 40, 45), 15), scene.fine, 4)
        seat_height = 0.7
    if with_rider:
        _person(scene, t, offset, "rider", base_lift=seat_height)


def _static_object(scene, t, offset):
    """A bin, bench or box on the sidewalk: Cityscapes' 'static' (a void class)."""
    rng, shape = scene.rng, scene.shape
    x, y, u = scene.x_at(t, offset), scene.row(t), scene.unit(t)
    w, h = rng.uniform(0.3, 0.8) * u, rng.uniform(0.4, 0.9) * u
    scene.paint(_box(shape, x - w / 2, y - h, x + w / 2, y), "static",
                _jitter(rng, ((100, 80, 60), (70, 90, 70), (120, 120, 120))[int(rng.integers(3))], 15), scene.fine, 6)


def _ego_vehicle(scene):
    """The car's own bonnet at the bottom (ego vehicle), a band of unlabeled pixels above it, and sometimes the
    black rectification border."""
    rng, (H, W) = scene.rng, scene.shape
    height = rng.uniform(0.05, 0.11) * H
    centre = (int(W / 2 + rng.uniform(-0.05, 0.05) * W), int(H + rng.uniform(0.2, 0.5) * height))
    axes = (int(rng.uniform(0.6, 0.9) * W), int(height + (centre[1] - H)))
    bonnet = _draw((H, W), lambda k: cv2.ellipse(k, centre, axes, 0, 180, 360, 1, -1))
    rim = _draw((H, W), lambda k: cv2.ellipse(k, centre, (axes[0] + 2, axes[1] + 2), 0, 180, 360, 1, -1)) & ~bonnet
    scene.label[rim] = ID["unlabeled"]
    scene.paint(bonnet, "ego_vehicle", _jitter(rng, (35, 35, 40), 10), scene.coarse, 10)
    if rng.random() < 0.4:
        border = np.zeros((H, W), bool)
        border[:, : int(rng.integers(1, 4))] = True
        border[: int(rng.integers(1, 3)), :] = True
        scene.paint(border, "rectification_border", (0, 0, 0))


# ---------------------------------------------------------------------------------------------- scene
def render_street(rng: np.random.Generator, size=(128, 256), rotation: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 RGB image, uint8 Cityscapes label ids) of one street; `rotation` picks the guaranteed rare classes."""
    scene = _Scene(rng, tuple(size))
    required = set(_ROTATION[rotation % len(_ROTATION)])

    def wanted(name, p):
        return name in required or rng.random() < p

    if wanted("terrain", 0.0) and not any(scene.setback.values()):  # terrain grows on a verge: make one
        scene.setback[int(rng.choice((-1, 1)))] = rng.uniform(0.06, 0.18) * scene.shape[1]
    _paint_sky_and_ground(scene)
    _paint_buildings(scene)
    for name in ("wall", "fence"):
        if wanted(name, 0.35):
            _paint_barrier(scene, name, int(rng.choice((-1, 1))))

    # objects, each (t, painter); drawn far to near so that nearer ones occlude
    objects = []

    def place(kind, painter, *args):
        low, high = _DEPTH[kind]
        objects.append((rng.uniform(low, high), painter, args))

    def kerb(side, inset):  # a sidewalk position, inset = 0 at the kerb, 1 at the facade side
        return side * (scene.road_half + inset * scene.walk)

    def lane():
        return rng.uniform(-0.65, 0.65) * scene.road_half

    for side in (-1, 1):
        for _ in range(int(rng.integers(1, 4))):
            place("tree", _tree, kerb(side, rng.uniform(0.6, 0.9)))
        for _ in range(int(rng.integers(1, 4))):
            place("person", _person, kerb(side, rng.uniform(0.2, 0.8)))
        if rng.random() < 0.5:
            place("static", _static_object, kerb(side, 0.7))
    attachments = ["traffic_sign", "traffic_sign"] + (["traffic_light"] if wanted("traffic_light", 0.4) else [])
    for attach in attachments + [None] * int(rng.integers(0, 3)):
        place("pole", _pole, kerb(int(rng.choice((-1, 1))), 0.12), attach)
    vehicles = ["car"] * int(rng.integers(1, 4))
    vehicles += [v for v in ("truck", "bus", "motorcycle", "bicycle") if wanted(v, 0.2)]
    vehicles += ["train"] if wanted("train", 0.05) else []
    for name in vehicles:
        kind = ("near " if name in required else "") + ("large" if name in ("truck", "bus", "train") else "small")
        if name in ("motorcycle", "bicycle"):
            place(kind, _two_wheeler, lane(), name, name in required or rng.random() < 0.7)
        else:
            place(kind, _vehicle, lane(), name)
    for t, painter, args in sorted(objects, key=lambda item: item[0]):
        painter(scene, t, *args)
    _ego_vehicle(scene)

    # camera: exposure, vignetting, slight blur and sensor noise
    H, W = scene.shape
    vignette = 1 - 0.25 * (((scene.xx - W / 2) / W) ** 2 + ((scene.yy - H / 2) / H) ** 2)
    rgb = scene.rgb * vignette[..., None] * rng.uniform(0.8, 1.15) + rng.uniform(-15, 15)
    rgb = cv2.GaussianBlur(rgb, (0, 0), 0.6) + rng.normal(0, 3, rgb.shape).astype(np.float32)
    return np.clip(np.round(rgb), 0, 255).astype(np.uint8), scene.label


def image_name(city: str, index: int) -> str:
    return f"{city}_{index:06d}_{FRAME:06d}"


def make_cityscapes_like(root: str | Path, n_per_split=None, size=(128, 256), seed: int = 0) -> Path:
    """Write Cityscapes-like scenes under `root` (same arguments -> byte-identical files) and return root.

    `n_per_split` maps split -> number of images (default train 8, val 4). Files of the synthetic cities that a
    previous run left and this one does not write are removed, because the folder defines the dataset.
    """
    n_per_split = {"train": 8, "val": 4} if n_per_split is None else dict(n_per_split)
    unknown = sorted(set(n_per_split) - set(SPLITS))
    if unknown or not n_per_split:
        raise ConfigError(f"n_per_split must map some of {SPLITS} to counts, got {n_per_split!r}")
    counts = {split: check_count(f"n_per_split[{split!r}]", n, 0) for split, n in n_per_split.items()}
    seed = check_seed(seed)
    size = check_shape("size", size, (64, 64))
    root = Path(root)
    for split, count in counts.items():
        code = SPLITS.index(split)
        written = set()
        for index in range(count):
            city = CITIES[split][index % len(CITIES[split])]
            name = image_name(city, index)
            image, label_ids = render_street(stream_rng(seed, code, index), size, rotation=index)
            write_rgb_png(root / "leftImg8bit" / split / city / f"{name}{IMAGE_SUFFIX}", image)
            write_image(root / "gtFine" / split / city / f"{name}{LABEL_SUFFIX}", label_ids)
            written.add(name)
        for city in CITIES[split]:
            for folder, suffix in (("leftImg8bit", IMAGE_SUFFIX), ("gtFine", LABEL_SUFFIX)):
                for stale in (root / folder / split / city).glob(f"{city}_*{suffix}"):
                    if stale.name[: -len(suffix)] not in written:
                        stale.unlink()
    return root
