"""`mammoseg predict`: a trained network on full images (DICOM, PNG, TIFF, PGM) -> label map + overlay PNG.

The image is scaled as in training (divided by the smallest 2**k - 1 covering it, minus 0.5, gray replicated to
the model's channels) and run by sliding window with the model's input tile; only one band of probabilities is
held at a time, so a 4096x3328 mammogram fits in a few hundred MB besides the network.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError
from ..io.raster import RASTER_SUFFIXES, read_image, write_image
from ..labels import BINARY, CITYSCAPES19, MAMMO13, LabelSet, load_label_set
from .report import overlay, write_rgb

DICOM_SUFFIXES = (".dcm", ".dicom")
INPUT_SUFFIXES = DICOM_SUFFIXES + RASTER_SUFFIXES
_LABEL_SETS_BY_CLASSES = {1: BINARY, 2: BINARY, 13: MAMMO13, 19: CITYSCAPES19}


def read_input_image(path) -> np.ndarray:
    """2-D grayscale pixels of a DICOM (as displayed: VOI LUT, MONOCHROME1 inverted) or raster file."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in DICOM_SUFFIXES:
        from ..io.dicom import read_dicom

        return read_dicom(path).pixels
    if suffix in RASTER_SUFFIXES:
        return read_image(path)
    raise DataError(path, f"unsupported input format {suffix or '(no suffix)'!r}; expected one of "
                          f"{', '.join(INPUT_SUFFIXES)}")


def parse_model_kwargs(text: str | None) -> dict:
    if not text:
        return {}
    try:
        kwargs = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--model-kwargs is not valid JSON: {exc}") from None
    if not isinstance(kwargs, dict):
        raise ConfigError(f"--model-kwargs must be a JSON object, got {type(kwargs).__name__}")
    return kwargs


def _default_input_shape(name: str) -> tuple:
    import inspect

    from ..models.registry import get_entry

    entry = get_entry(name)
    if "input_shape" in entry.defaults:
        return tuple(entry.defaults["input_shape"])
    default = inspect.signature(entry.builder).parameters.get("input_shape")
    if default is None or default.default is inspect.Parameter.empty or default.default is None:
        raise ConfigError(f"model {name!r} has no default input size; pass input_shape in --model-kwargs")
    return tuple(default.default)


def build_inference_model(name: str, model_kwargs: dict | None = None, tile: int | None = None):
    """The registered network with `model_kwargs`, its input made `tile` x `tile` when given."""
    from ..models import build_model

    kwargs = dict(model_kwargs or {})
    if tile is not None:
        channels = tuple(kwargs.get("input_shape") or _default_input_shape(name))[-1]
        kwargs["input_shape"] = (int(tile), int(tile), int(channels))
    if "input_shape" in kwargs:
        kwargs["input_shape"] = tuple(kwargs["input_shape"])
    return build_model(name, **kwargs)


def _one_line(text: str, limit: int = 300) -> str:
    text = re.sub(r"\s+", " ", str(text)).strip()
    return text if len(text) <= limit else text[:limit - 3] + "..."


def load_inference_weights(model, path) -> None:
    """Load trained weights (Keras `.weights.h5` / `.keras`, or mammoseg `.npz`) covering every layer of `model`.

    A file for another architecture, width, depth or class count is a DataError, never a half-loaded network.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "weights file not found")
    if path.suffix.lower() == ".npz":
        from ..models.weights import load_weights

        loaded = set(load_weights(model, path))
        missing = [layer.name for layer in model.layers if layer.weights and layer.name not in loaded]
        if missing:
            raise DataError(path, f"the file has no weights for {len(missing)} layers of model {model.name!r} "
                                  f"(first: {missing[0]!r}); another architecture or model arguments?")
        return
    import warnings

    hint = f"weights do not fit model {model.name!r} as built (check --model, --model-kwargs, --tile)"
    with warnings.catch_warnings(record=True) as caught:  # Keras warns, not fails, on some partial loads
        warnings.simplefilter("always")
        try:
            model.load_weights(str(path))
        except (ValueError, OSError, KeyError, TypeError) as exc:
            raise DataError(path, f"{hint}: {_one_line(exc)}") from None
    partial = [w for w in caught if "freshly-initialized" in str(w.message) or "not be loaded" in str(w.message)]
    if partial:
        raise DataError(path, f"{hint}: {_one_line(partial[0].message)}")


def label_set_for(num_classes: int, name=None) -> LabelSet:
    """The given label set (a registered name, a JSON file such as a dataset.json, or a LabelSet), else the one
    with this many classes, else numbered classes with distinct colours."""
    if name:
        label_set = load_label_set(name)
        name = label_set.name
        if num_classes > 1 and label_set.num_classes != num_classes:
            raise ConfigError(f"label set {name!r} has {label_set.num_classes} classes, the model outputs "
                              f"{num_classes}")
        return label_set
    if num_classes in _LABEL_SETS_BY_CLASSES:
        return _LABEL_SETS_BY_CLASSES[num_classes]
    import matplotlib

    cmap = matplotlib.colormaps["tab20"]
    colors = ((0, 0, 0),) + tuple(tuple(int(255 * v) for v in cmap(i % 20)[:3]) for i in range(num_classes - 1))
    return LabelSet(name=f"classes{num_classes}", names=tuple(f"class{i}" for i in range(num_classes)),
                    colors=colors, background="class0")


def predict_image_file(model, path, out_dir, *, label_set: LabelSet | None = None, overlap: float = 0.25,
                       flip_tta: bool = False, batch_size: int = 4, max_value: float | None = None,
                       threshold: float = 0.5, predictor=None) -> dict:
    """Write <stem>_labels.png (uint8 class ids) and <stem>_overlay.png for one image; return their paths."""
    from ..data.pipeline import intensity_max
    from .test_set import prepare_image
    from .sliding_window import sliding_window_labels

    path, out_dir = Path(path), Path(out_dir)
    image = read_input_image(path)
    if image.ndim != 2 or min(image.shape) < 1:
        raise DataError(path, f"expected a 2-D grayscale image, got shape {image.shape}")
    scale = float(max_value) if max_value else intensity_max(image)
    labels = sliding_window_labels(model, prepare_image(image, scale, 1), overlap=overlap, batch_size=batch_size,
                                   flip_tta=flip_tta, predictor=predictor, threshold=threshold)
    label_set = label_set or label_set_for(int(model.output_shape[-1]))
    stem = path.stem
    labels_path = write_image(out_dir / f"{stem}_labels.png", labels)
    overlay_path = out_dir / f"{stem}_overlay.png"
    write_rgb(overlay_path, overlay(image, labels, label_set))
    return {"labels": labels_path, "overlay": overlay_path, "classes_present": sorted(np.unique(labels).tolist())}
