"""Confusion-matrix metrics of `kth-seg` §2.4 (pixel accuracy, mean IoU, mean per-class accuracy).

One confusion matrix is accumulated over a whole evaluation set (dataset-level IoU, the thesis is silent; this is
the Cityscapes / FCN convention). Under tf.distribute each replica returns its own matrix and the loop sums them,
so the metrics are exact whatever the number of devices.

Absent classes: a class whose ground-truth count k_i and predicted count are both zero has an undefined IoU (0/0)
and is excluded from the mean IoU; a class with k_i = 0 has an undefined accuracy and is excluded from the mean
per-class accuracy. `segmentation_metrics` reports which classes were excluded so tables can say so.
"""
from __future__ import annotations

import numpy as np


def confusion_matrix(labels, preds, num_classes: int, ignore_id: int | None = None) -> np.ndarray:
    """n[i, j] = number of pixels of true class i predicted as j (numpy, any shapes that broadcast equal)."""
    labels = np.asarray(labels).ravel().astype(np.int64)
    preds = np.asarray(preds).ravel().astype(np.int64)
    if labels.shape != preds.shape:
        raise ValueError(f"labels and predictions differ in size: {labels.shape} vs {preds.shape}")
    keep = (labels >= 0) & (labels < num_classes)
    if ignore_id is not None:
        keep &= labels != ignore_id
    idx = labels[keep] * num_classes + np.clip(preds[keep], 0, num_classes - 1)
    return np.bincount(idx, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def tf_confusion_matrix(labels, logits, num_classes: int, ignore_id: int | None = None):
    """In-graph confusion matrix of int labels (B,H,W) vs logits (B,h,w,C); labels are centre-cropped to h,w."""
    import tensorflow as tf

    labels = center_crop_like(labels, logits)
    preds = tf.argmax(logits, axis=-1, output_type=tf.int32)
    labels = tf.cast(labels, tf.int32)
    valid = tf.logical_and(labels >= 0, labels < num_classes)
    if ignore_id is not None:
        valid = tf.logical_and(valid, labels != ignore_id)
    return tf.math.confusion_matrix(tf.boolean_mask(labels, valid), tf.boolean_mask(preds, valid),
                                    num_classes=num_classes, dtype=tf.float64)


def center_crop_like(labels, logits):
    """Centre-crop labels (B,H,W) to the spatial size of logits (B,h,w,C): needed for valid-padding U-Nets."""
    import tensorflow as tf

    lh, lw = tf.shape(labels)[1], tf.shape(labels)[2]
    oh, ow = tf.shape(logits)[1], tf.shape(logits)[2]
    top, left = (lh - oh) // 2, (lw - ow) // 2
    return labels[:, top:top + oh, left:left + ow]


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(num.shape, np.nan, dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


def segmentation_metrics(cm: np.ndarray, class_names=None) -> dict:
    """Pixel accuracy, mean IoU, mean per-class accuracy (+ per-class values) from a confusion matrix."""
    cm = np.asarray(cm, dtype=np.float64)
    c = cm.shape[0]
    names = list(class_names) if class_names is not None else [str(i) for i in range(c)]
    tp = np.diag(cm)
    gt = cm.sum(axis=1)
    pred = cm.sum(axis=0)
    iou = _safe_div(tp, gt + pred - tp)
    acc = _safe_div(tp, gt)
    total = cm.sum()
    return {
        "pixel_accuracy": float(tp.sum() / total) if total > 0 else float("nan"),
        "mean_iou": float(np.nanmean(iou)) if np.isfinite(iou).any() else float("nan"),
        "mean_class_accuracy": float(np.nanmean(acc)) if np.isfinite(acc).any() else float("nan"),
        "per_class_iou": dict(zip(names, iou.tolist())),
        "per_class_accuracy": dict(zip(names, acc.tolist())),
        "excluded_from_iou": [n for n, v in zip(names, iou) if np.isnan(v)],
        "excluded_from_accuracy": [n for n, v in zip(names, acc) if np.isnan(v)],
    }
