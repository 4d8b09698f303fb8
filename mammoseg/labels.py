"""Label sets: class names, integer ids, display colours, merge priority and the ignore id.

`MAMMO13` is the 13-class `kth-seg` annotation scheme (thesis §4.1, L829-849). Ids are chosen by us (the thesis
states none): background is 0 so that padding and nnU-Net export need no remapping, the other twelve classes
follow the thesis' priority list (nipple = 1 … mammary gland = 12). `priority` lists names from the one painted on
top (rank 1) to the one at the bottom (rank 13), exactly as the thesis ranks them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

IGNORE_ID = 255


@dataclass(frozen=True)
class LabelSet:
    name: str
    names: tuple[str, ...]  # index == id
    colors: tuple[tuple[int, int, int], ...]
    priority: tuple[str, ...] = ()  # rank 1 first (painted last, on top)
    smoothed: frozenset[str] = field(default_factory=frozenset)  # Gaussian-smoothed at merge time
    ignore_id: int | None = None
    background: str | None = None

    def __post_init__(self):
        if len(self.names) != len(self.colors):
            raise ValueError(f"{self.name}: {len(self.names)} names but {len(self.colors)} colours")
        if self.priority and sorted(self.priority) != sorted(self.names):
            raise ValueError(f"{self.name}: priority must list every class once")

    @property
    def num_classes(self) -> int:
        return len(self.names)

    def id(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"{self.name}: unknown class {name!r}; known: {', '.join(self.names)}") from None

    def palette(self) -> np.ndarray:
        """(256, 3) uint8 lookup table; ids without a class (e.g. ignore) are black."""
        lut = np.zeros((256, 3), np.uint8)
        lut[: self.num_classes] = np.asarray(self.colors, np.uint8)
        return lut

    def colorize(self, label_map: np.ndarray) -> np.ndarray:
        return self.palette()[np.asarray(label_map, np.uint8)]

    def check_ids(self, label_map: np.ndarray, path=None) -> None:
        """Raise DataError if the map holds an id that is neither a class nor the ignore id."""
        from .errors import DataError

        ids = np.unique(label_map)
        bad = [int(i) for i in ids if not (0 <= i < self.num_classes or (self.ignore_id is not None and i == self.ignore_id))]
        if bad:
            raise DataError(path, f"unknown label ids {bad} for label set {self.name} (valid: 0..{self.num_classes - 1}"
                                  + (f" and {self.ignore_id}" if self.ignore_id is not None else "") + ")")


_MAMMO_PRIORITY = (
    "nipple", "calcifications", "skin", "tumor", "thick_vessels", "calcified_vessels", "axillary_lymph_nodes",
    "text", "foreign_object", "submammary_tissue", "pectoral_muscle", "mammary_gland", "background",
)
_MAMMO_COLORS = {
    "background": (0, 0, 0), "nipple": (255, 0, 255), "calcifications": (255, 255, 255), "skin": (255, 160, 122),
    "tumor": (255, 0, 0), "thick_vessels": (0, 0, 255), "calcified_vessels": (0, 255, 255),
    "axillary_lymph_nodes": (255, 165, 0), "text": (255, 255, 0), "foreign_object": (128, 0, 128),
    "submammary_tissue": (0, 128, 0), "pectoral_muscle": (139, 69, 19), "mammary_gland": (144, 238, 144),
}
_MAMMO_NAMES = ("background",) + _MAMMO_PRIORITY[:-1]

MAMMO13 = LabelSet(
    name="mammo13",
    names=_MAMMO_NAMES,
    colors=tuple(_MAMMO_COLORS[n] for n in _MAMMO_NAMES),
    priority=_MAMMO_PRIORITY,
    # L846-849: all maps except calcifications, text, nipple and axillary lymph nodes are smoothed.
    # Background is the fill value (pixels no other map covers), so it is never painted or smoothed.
    smoothed=frozenset(_MAMMO_PRIORITY) - {"calcifications", "text", "nipple", "axillary_lymph_nodes", "background"},
    background="background",
)

# Cityscapes: the 19 evaluation classes (train ids 0..18), ignore 255. Official table of cityscapesScripts.
CITYSCAPES19 = LabelSet(
    name="cityscapes19",
    names=("road", "sidewalk", "building", "wall", "fence", "pole", "traffic_light", "traffic_sign", "vegetation",
           "terrain", "sky", "person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle"),
    colors=((128, 64, 128), (244, 35, 232), (70, 70, 70), (102, 102, 156), (190, 153, 153), (153, 153, 153),
            (250, 170, 30), (220, 220, 0), (107, 142, 35), (152, 251, 152), (70, 130, 180), (220, 20, 60),
            (255, 0, 0), (0, 0, 142), (0, 0, 70), (0, 60, 100), (0, 80, 100), (0, 0, 230), (119, 11, 32)),
    ignore_id=IGNORE_ID,
)

# Cityscapes labelId (0..33) -> trainId; every id not listed maps to 255 (ignore).
CITYSCAPES_LABELID_TO_TRAINID = {7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10, 24: 11,
                                 25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18}


def cityscapes_labelids_to_trainids(label_ids: np.ndarray) -> np.ndarray:
    lut = np.full(256, IGNORE_ID, np.uint8)
    for k, v in CITYSCAPES_LABELID_TO_TRAINID.items():
        lut[k] = v
    return lut[np.asarray(label_ids, np.uint8)]


BINARY = LabelSet(name="binary", names=("background", "foreground"), colors=((0, 0, 0), (255, 0, 0)),
                  background="background")
DDSM3 = LabelSet(name="ddsm3", names=("normal", "benign", "cancer"), colors=((0, 200, 0), (255, 200, 0), (255, 0, 0)))

LABEL_SETS = {ls.name: ls for ls in (MAMMO13, CITYSCAPES19, BINARY, DDSM3)}


def get_label_set(name: str) -> LabelSet:
    try:
        return LABEL_SETS[name]
    except KeyError:
        raise KeyError(f"unknown label set {name!r}; known: {', '.join(LABEL_SETS)}") from None
