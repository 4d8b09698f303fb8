"""Evaluate a segmentation model on full test images: sliding window -> one confusion matrix -> thesis metrics."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..io.annotations import LABEL_FILE, find_case_image
from ..io.raster import read_image
from ..labels import LabelSet
from ..train.metrics import confusion_matrix, segmentation_metrics
from .report import overlay, write_rgb
from .sliding_window import _predictor, sliding_window_labels


def prepare_image(image: np.ndarray, max_value: float, channels: int) -> np.ndarray:
    """Same scaling as the training pipeline: [-0.5, 0.5], gray replicated to `channels`."""
    x = image.astype(np.float32) / max_value - 0.5
    return np.repeat(x[..., None], channels, axis=-1)


def predict_label_map(model, image: np.ndarray, max_value: float, overlap: float = 0.25, predictor=None,
                      **kwargs) -> np.ndarray:
    """uint8 class ids of a raw grayscale image; gray is replicated per tile, so memory stays ~ one band."""
    return sliding_window_labels(model, prepare_image(image, max_value, 1), overlap=overlap, predictor=predictor,
                                 **kwargs)


def evaluate_cases(model, root, cases, max_value: float, label_set: LabelSet, overlap: float = 0.25,
                   **kwargs) -> dict:
    root = Path(root)
    cm = np.zeros((label_set.num_classes,) * 2, np.int64)
    predictions = {}
    predictor = _predictor(model, "auto")
    for case in cases:
        image = read_image(find_case_image(root / case))  # image.{png,pgm,tif,tiff}, 8 or 16 bit, as data_prep reads
        label_path = root / case / LABEL_FILE
        label = read_image(label_path)
        label_set.check_ids(label, label_path)
        pred = predict_label_map(model, image, max_value, overlap, predictor=predictor, **kwargs)
        cm += confusion_matrix(label, pred, label_set.num_classes, label_set.ignore_id)
        predictions[case] = pred
    return {"confusion_matrix": cm, "metrics": segmentation_metrics(cm, label_set.names), "predictions": predictions}


def save_overlays(root, cases, predictions: dict, out_dir, label_set: LabelSet) -> None:
    """<case>_overlay.png: ground truth (left) and prediction (right) blended on the image."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for case in cases:
        image = read_image(find_case_image(Path(root) / case))
        truth = read_image(Path(root) / case / LABEL_FILE)
        pair = np.concatenate([overlay(image, truth, label_set), overlay(image, predictions[case], label_set)], 1)
        write_rgb(out_dir / f"{case}_overlay.png", pair)
