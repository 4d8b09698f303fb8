"""Confusion-matrix metrics: `kth-seg` §2.4 (pixel accuracy, mean IoU, mean per-class accuracy), `oulu-mass` Dice,
`kth-cls` §3.1.7 one-vs-all sensitivity / specificity / accuracy / precision.

Every metric is a function of one confusion matrix accumulated over a whole evaluation set (dataset-level IoU, the
thesis is silent; this is the Cityscapes / FCN convention). Under tf.distribute each replica returns its own matrix
and the loop sums them, so the metrics are exact whatever the number of devices; `ConfusionMatrixAccumulator`
streams batches the same way on the host.

Per class c, from the counts TP, FP, FN and TN = total - TP - FP - FN (class c against all the others):

    IoU = TP / (TP + FP + FN)            Dice = 2 TP / (2 TP + FP + FN)      sensitivity = TP / (TP + FN)
    specificity = TN / (TN + FP)         precision = TP / (TP + FP)          one-vs-all accuracy = (TP + TN) / total

Absent classes: a value whose denominator is 0 is undefined (NaN), never 0 or 1, and is left out of the mean over
classes. So a class absent from both ground truth and prediction drops out of mean IoU and mean Dice; a class absent
from the ground truth drops out of mean sensitivity (= mean per-class accuracy) but, if it was predicted, scores
IoU = Dice = 0; a class that covers every pixel has no specificity. `segmentation_metrics` lists the excluded
classes per metric so tables can say so, and also gives `mean_iou_all_classes` (undefined counted as 0, divided by
all C classes: kth-seg spec ambiguity 39's "all-13 variant").
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


def predicted_classes(outputs, threshold: float = 0.0):
    """Class ids from model outputs: argmax over the last axis, or `output > threshold` for one channel.

    A single-channel output is a binary model (oulu-mass, pig-ct, kth-cls ROI U-Net): threshold 0 on logits,
    0.5 on sigmoid probabilities. Several channels (also kth-cls' three sigmoid scores) take the argmax, as the
    kth-cls code does with `top_k`.
    """
    import tensorflow as tf

    if outputs.shape[-1] == 1:
        return tf.cast(outputs[..., 0] > tf.cast(threshold, outputs.dtype), tf.int32)
    return tf.argmax(outputs, axis=-1, output_type=tf.int32)


def tf_confusion_matrix(labels, logits, num_classes: int, ignore_id: int | None = None, threshold: float = 0.0):
    """In-graph confusion matrix of int labels vs model outputs (float64, so sums of many batches stay exact).

    Segmentation: labels (B, *spatial) vs outputs (B, *spatial', C), labels centre-cropped to the outputs' size
    (valid-padding U-Nets; 2-D or 3-D). Classification: labels (B,) vs scores (B, C).
    """
    import tensorflow as tf

    from .losses import center_crop_to

    labels = tf.convert_to_tensor(labels)
    if labels.shape.rank == logits.shape.rank and labels.shape.rank > 2 and labels.shape[-1] == 1:
        labels = labels[..., 0]  # (B, ..., 1) label maps
    if labels.shape.rank > 1:
        labels = center_crop_to(labels, logits)
    preds = predicted_classes(logits, threshold)
    labels = tf.cast(labels, tf.int32)
    valid = tf.logical_and(labels >= 0, labels < num_classes)
    if ignore_id is not None:
        valid = tf.logical_and(valid, labels != ignore_id)
    # Invalid pixels count with weight 0 instead of being masked out: static shapes, cheaper, XLA-friendly.
    return tf.math.confusion_matrix(tf.reshape(tf.where(valid, labels, 0), [-1]), tf.reshape(preds, [-1]),
                                    num_classes=num_classes, weights=tf.reshape(tf.cast(valid, tf.float64), [-1]),
                                    dtype=tf.float64)


def center_crop_like(labels, logits):
    """Centre-crop labels (B,H,W) to the spatial size of logits (B,h,w,C): needed for valid-padding U-Nets."""
    import tensorflow as tf

    lh, lw = tf.shape(labels)[1], tf.shape(labels)[2]
    oh, ow = tf.shape(logits)[1], tf.shape(logits)[2]
    top, left = (lh - oh) // 2, (lw - ow) // 2
    return labels[:, top:top + oh, left:left + ow]


class ConfusionMatrixAccumulator:
    """Streaming sum of confusion matrices (per batch, per replica, per worker: addition is all it needs)."""

    def __init__(self, num_classes: int):
        self.matrix = np.zeros((num_classes, num_classes), np.float64)

    def add(self, cm) -> None:
        self.matrix += np.asarray(cm, np.float64)

    def update(self, labels, preds, ignore_id: int | None = None) -> None:
        self.add(confusion_matrix(labels, preds, self.matrix.shape[0], ignore_id))

    def result(self, class_names=None) -> dict:
        return segmentation_metrics(self.matrix, class_names)


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(np.shape(num), np.nan, dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _nanmean(values: np.ndarray) -> float:
    return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")


def per_class_counts(cm) -> dict[str, np.ndarray]:
    """One-vs-all TP, FP, FN, TN of every class from a confusion matrix (rows = truth, columns = prediction)."""
    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diag(cm)
    fp = cm.sum(axis=0) - tp
    fn = cm.sum(axis=1) - tp
    return {"tp": tp, "fp": fp, "fn": fn, "tn": cm.sum() - tp - fp - fn}


def segmentation_metrics(cm: np.ndarray, class_names=None) -> dict:
    """Every metric of the module docstring, per class and as the mean over the classes where it is defined.

    Keys: pixel_accuracy (= top-1 accuracy for classification), mean_iou, mean_class_accuracy (= mean
    sensitivity), mean_dice, mean_sensitivity, mean_specificity, mean_precision, mean_one_vs_all_accuracy,
    mean_iou_all_classes; per_class_<metric> dicts; excluded_from_<metric> lists (undefined values).
    """
    cm = np.asarray(cm, dtype=np.float64)
    c = cm.shape[0]
    names = list(class_names) if class_names is not None else [str(i) for i in range(c)]
    k = per_class_counts(cm)
    tp, fp, fn, tn = k["tp"], k["fp"], k["fn"], k["tn"]
    total = cm.sum()
    per_class = {
        "iou": _safe_div(tp, tp + fp + fn),
        "accuracy": _safe_div(tp, tp + fn),
        "dice": _safe_div(2 * tp, 2 * tp + fp + fn),
        "sensitivity": _safe_div(tp, tp + fn),
        "specificity": _safe_div(tn, tn + fp),
        "precision": _safe_div(tp, tp + fp),
        "one_vs_all_accuracy": _safe_div(tp + tn, np.full(c, total)),
    }
    out = {
        "pixel_accuracy": float(tp.sum() / total) if total > 0 else float("nan"),
        "mean_iou": _nanmean(per_class["iou"]),
        "mean_class_accuracy": _nanmean(per_class["accuracy"]),
        "mean_iou_all_classes": float(np.nan_to_num(per_class["iou"]).sum() / c) if total > 0 else float("nan"),
    }
    for metric in ("dice", "sensitivity", "specificity", "precision", "one_vs_all_accuracy"):
        out[f"mean_{metric}"] = _nanmean(per_class[metric])
    for metric, values in per_class.items():
        out[f"per_class_{metric}"] = dict(zip(names, values.tolist()))
    for metric, values in per_class.items():
        out[f"excluded_from_{metric}"] = [n for n, v in zip(names, values) if np.isnan(v)]
    return out


# The means a training log records every epoch (train_* and val_* columns).
SUMMARY_METRICS = ("pixel_accuracy", "mean_iou", "mean_class_accuracy", "mean_dice", "mean_sensitivity",
                   "mean_specificity", "mean_one_vs_all_accuracy")
