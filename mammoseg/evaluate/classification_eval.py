"""kth-cls evaluation (seed 004 §3.1.7, §4.2; code A.3.6): one-vs-all metrics per class, confusion matrix, ROC.

Each image's class is the argmax of the three sigmoid scores (the code's `top_k`); per class c the images are
split into "c" and "not c" and accuracy (TP+TN)/N, specificity TN/(TN+FP), precision TP/(TP+FP) and recall
(sensitivity) TP/(TP+FN) are computed from that one-vs-all 2x2 table (Tables 4.2-4.7). The "Mean" column is the
arithmetic mean over the classes where the value is defined. With argmax decisions the mean one-vs-all accuracy
is 1 - 2 (1 - top-1) / C, so it is never below (C - 2) / C: the thesis' 0.7657 is a top-1 accuracy of 0.6485.

The thesis' specificity row cannot be reproduced from its own other rows (spec §6.5); we report TN / (TN + FP) on
the argmax decisions. ROC curves and AUCs (Figs 4.1, 4.5 show curves, no AUC values) are per class, one-vs-all on
that class' score, plus the micro AUC over all (image, class) pairs that `tf.metrics.auc` computed.
"""
from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from ..train.metrics import confusion_matrix, segmentation_metrics

TABLE_ROWS = (("Accuracy", "one_vs_all_accuracy"), ("Specificity", "specificity"), ("Precision", "precision"),
              ("Recall", "sensitivity"))


def roc_auc(is_positive, scores) -> float:
    """Area under the ROC curve = P(score of a positive > score of a negative), ties counting 1/2 (rank form)."""
    from scipy.stats import rankdata

    is_positive = np.asarray(is_positive, bool).ravel()
    scores = np.asarray(scores, np.float64).ravel()
    n_pos, n_neg = int(is_positive.sum()), int((~is_positive).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(scores)  # average ranks for ties
    return float((ranks[is_positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def roc_curve(is_positive, scores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(false positive rates, true positive rates, thresholds), thresholds decreasing, from (0, 0) to (1, 1)."""
    is_positive = np.asarray(is_positive, bool).ravel()
    scores = np.asarray(scores, np.float64).ravel()
    order = np.argsort(-scores, kind="stable")
    scores, is_positive = scores[order], is_positive[order]
    last_of_each = np.r_[np.flatnonzero(np.diff(scores)), scores.size - 1]
    tp = np.cumsum(is_positive)[last_of_each]
    fp = (last_of_each + 1) - tp
    tpr = np.r_[0.0, tp / max(int(is_positive.sum()), 1)]
    fpr = np.r_[0.0, fp / max(int((~is_positive).sum()), 1)]
    return fpr, tpr, np.r_[np.inf, scores[last_of_each]]


def classification_report(labels, scores, class_names) -> dict:
    """One-vs-all metrics of argmax decisions on (N, C) scores against (N,) integer labels.

    Keys: confusion_matrix, top1_accuracy, per_class (metric -> {class: value}), mean (metric -> value),
    auc ({class: value} plus "micro"), roc ({class: (fpr, tpr, thresholds)}).
    """
    labels = np.asarray(labels).astype(np.int64).ravel()
    scores = np.asarray(scores, np.float64)
    names = list(class_names)
    if scores.ndim != 2 or scores.shape != (labels.size, len(names)):
        raise ConfigError(f"scores must be (N, {len(names)}) for {labels.size} labels, got {scores.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= len(names)):
        raise ConfigError(f"labels must be class ids 0..{len(names) - 1}")
    predictions = scores.argmax(axis=1)
    cm = confusion_matrix(labels, predictions, len(names))
    metrics = segmentation_metrics(cm, names)
    per_class = {key: metrics[f"per_class_{key}"] for _, key in TABLE_ROWS}
    mean = {key: float(np.nanmean(list(v.values()))) if np.isfinite(list(v.values())).any() else float("nan")
            for key, v in per_class.items()}
    one_hot = labels[:, None] == np.arange(len(names))[None, :]
    auc = {name: roc_auc(one_hot[:, c], scores[:, c]) for c, name in enumerate(names)}
    auc["micro"] = roc_auc(one_hot, scores)
    roc = {name: roc_curve(one_hot[:, c], scores[:, c]) for c, name in enumerate(names)}
    return {"confusion_matrix": cm, "top1_accuracy": metrics["pixel_accuracy"], "per_class": per_class,
            "mean": mean, "auc": auc, "roc": roc}


def class_table_rows(report: dict, order=None, thesis: dict | None = None):
    """(header, rows) in the layout of thesis Tables 4.2-4.7: metrics as rows, classes then Mean as columns.

    `order` picks and orders the classes (the thesis prints Cancer, Normal, Benign); `thesis` maps a row name to
    the thesis' values (same column order, Mean last) and adds a "thesis <row>" line under each of ours.
    """
    names = list(order or report["per_class"]["sensitivity"])
    header = ["", *names, "Mean"]
    rows = []
    for title, key in TABLE_ROWS:
        rows.append([title, *[report["per_class"][key][n] for n in names], report["mean"][key]])
        if thesis and title in thesis:
            rows.append([f"thesis {title}", *thesis[title]])
    rows.append(["AUC (one-vs-all; Mean = micro)", *[report["auc"][n] for n in names], report["auc"]["micro"]])
    return header, rows
