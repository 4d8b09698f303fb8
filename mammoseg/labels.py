"""Label sets: class names, integer ids, display colours, merge priority and the ignore id.

`MAMMO13` is the 13-class `kth-seg` annotation scheme (thesis §4.1, L829-849). Ids are chosen by us (the thesis
states none): background is 0 so that padding and nnU-Net export need no remapping, the other twelve classes
follow the thesis' priority list (nipple = 1 … mammary gland = 12). `priority` lists names from the one painted on
top (rank 1) to the one at the bottom (rank 13), exactly as the thesis ranks them.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

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

    # -- label sets as data ---------------------------------------------------------------------------------------
    def labels_dict(self) -> dict[str, int]:
        """{name: id}, nnU-Net's `dataset.json` "labels" (plus "ignore" when the set has an ignore id)."""
        out = {n: i for i, n in enumerate(self.names)}
        if self.ignore_id is not None:
            out["ignore"] = int(self.ignore_id)
        return out

    def to_json(self) -> dict:
        """A JSON-ready dict that `LabelSet.from_json` reads back to an equal LabelSet."""
        out = {"name": self.name, "labels": {n: i for i, n in enumerate(self.names)},
               "colors": {n: list(c) for n, c in zip(self.names, self.colors)}}
        if self.priority:
            out["priority"] = list(self.priority)
        if self.smoothed:
            out["smoothed"] = sorted(self.smoothed)
        if self.ignore_id is not None:
            out["ignore_id"] = int(self.ignore_id)
        if self.background is not None:
            out["background"] = self.background
        return out

    @classmethod
    def from_json(cls, source, name: str | None = None) -> "LabelSet":
        """A label set from a dict or a JSON file: ours (`to_json`) or an nnU-Net `dataset.json`.

        Required: "labels" {name: id} with ids 0..N-1, each once (nnU-Net's rule; id == index keeps label maps
        and network outputs aligned). Optional: "colors" {name: [r, g, b]} (default: a fixed palette), "priority"
        (merge order, top first), "smoothed", "background" (default: the class with id 0 when it is named
        "background"), "ignore_id", or nnU-Net's "ignore" entry in "labels" (then not a class).
        """
        from .errors import DataError

        path = None
        if isinstance(source, (str, Path)):
            path = Path(source)
            try:
                source = json.loads(path.read_text())
            except FileNotFoundError:
                raise DataError(path, "label set file not found") from None
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise DataError(path, f"not a readable JSON label set: {exc}") from None
        where = path if path is not None else "label set"

        def bad(problem: str):
            return DataError(path, problem) if path is not None else DataError(None, f"{where}: {problem}")

        if not isinstance(source, dict) or not isinstance(source.get("labels"), dict) or not source["labels"]:
            raise bad('needs a non-empty "labels" object {name: id}')
        labels = dict(source["labels"])
        ignore_id = source.get("ignore_id")
        if "ignore" in labels:
            ignore_id = labels.pop("ignore")
        for key, value in labels.items():
            if isinstance(value, (list, tuple)):
                raise bad(f"label {key!r} is a region {value} (nnU-Net region-based training); give one integer "
                          "id per class")
            if isinstance(value, bool) or not isinstance(value, int):
                raise bad(f"label {key!r} has id {value!r}; ids must be integers")
        ids = sorted(labels.values())
        if ids != list(range(len(ids))):
            raise bad(f"label ids must be 0..{len(ids) - 1}, each once (nnU-Net's rule), got {ids}")
        if ignore_id is not None:
            if isinstance(ignore_id, bool) or not isinstance(ignore_id, int) or not 0 <= ignore_id <= 255 \
                    or ignore_id < len(ids):
                raise bad(f"ignore id must be an integer in {len(ids)}..255 (above every class), got {ignore_id!r}")
        names = tuple(sorted(labels, key=labels.get))
        colors_in = source.get("colors") or {}
        if not isinstance(colors_in, dict):
            raise bad('"colors" must be an object {name: [r, g, b]}')
        unknown = sorted(set(colors_in) - set(names))
        if unknown:
            raise bad(f'"colors" names unknown classes {unknown}; classes: {list(names)}')
        palette = default_colors(len(names))
        colors = []
        for i, n in enumerate(names):
            c = colors_in.get(n, palette[i])
            if not (isinstance(c, (list, tuple)) and len(c) == 3 and all(isinstance(v, int) and 0 <= v <= 255
                                                                          for v in c)):
                raise bad(f"colour of {n!r} must be three integers 0..255, got {c!r}")
            colors.append(tuple(int(v) for v in c))
        background = source.get("background", names[0] if names[0] == "background" else None)
        if background is not None and background not in names:
            raise bad(f"background {background!r} is not a class; classes: {list(names)}")
        try:
            return cls(name=str(name or source.get("name") or (path.stem if path else "custom")), names=names,
                       colors=tuple(colors), priority=tuple(source.get("priority") or ()),
                       smoothed=frozenset(source.get("smoothed") or ()), ignore_id=ignore_id, background=background)
        except ValueError as exc:
            raise bad(str(exc)) from None

    def save_json(self, path) -> Path:
        from .io.atomic import atomic_write_bytes

        return atomic_write_bytes(Path(path), (json.dumps(self.to_json(), indent=2) + "\n").encode())

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


def default_colors(n: int) -> tuple[tuple[int, int, int], ...]:
    """Black for id 0, then matplotlib's tab20 colours (cycled): distinct, stable, no matplotlib import needed."""
    tab20 = ((31, 119, 180), (174, 199, 232), (255, 127, 14), (255, 187, 120), (44, 160, 44), (152, 223, 138),
             (214, 39, 40), (255, 152, 150), (148, 103, 189), (197, 176, 213), (140, 86, 75), (196, 156, 148),
             (227, 119, 194), (247, 182, 210), (127, 127, 127), (199, 199, 199), (188, 189, 34), (219, 219, 141),
             (23, 190, 207), (158, 218, 229))
    return ((0, 0, 0),) + tuple(tab20[i % 20] for i in range(n - 1))


def load_label_set(spec) -> LabelSet:
    """A registered name (mammo13, cityscapes19, binary, ddsm3), a LabelSet, or a JSON file (ours or dataset.json)."""
    if isinstance(spec, LabelSet):
        return spec
    if isinstance(spec, str) and spec in LABEL_SETS:
        return LABEL_SETS[spec]
    if isinstance(spec, dict) or Path(str(spec)).suffix.lower() == ".json" or Path(str(spec)).is_file():
        return LabelSet.from_json(spec)
    from .errors import ConfigError

    raise ConfigError(f"unknown label set {spec!r}: give one of {', '.join(LABEL_SETS)} or a JSON file")


def get_label_set(name: str) -> LabelSet:
    try:
        return LABEL_SETS[name]
    except KeyError:
        raise KeyError(f"unknown label set {name!r}; known: {', '.join(LABEL_SETS)}") from None
