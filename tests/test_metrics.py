import numpy as np
import pytest

from mammoseg.train.metrics import confusion_matrix, segmentation_metrics


def test_confusion_matrix_and_metrics_by_hand():
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2, 255])
    preds = np.array([0, 0, 1, 1, 2, 2, 2, 0, 1])
    cm = confusion_matrix(labels, preds, num_classes=4, ignore_id=255)
    expected = np.zeros((4, 4), int)
    expected[0, 0], expected[0, 1], expected[1, 1], expected[1, 2], expected[2, 2], expected[2, 0] = 2, 1, 1, 1, 2, 1
    np.testing.assert_array_equal(cm, expected)
    m = segmentation_metrics(cm, ["a", "b", "c", "d"])
    # Hand: tp = 2,1,2; gt = 3,2,3; pred = 3,2,3.  IoU = 2/4, 1/3, 2/4; class d absent -> excluded.
    assert m["pixel_accuracy"] == pytest.approx(5 / 8)
    assert m["mean_iou"] == pytest.approx((0.5 + 1 / 3 + 0.5) / 3)
    assert m["mean_class_accuracy"] == pytest.approx((2 / 3 + 1 / 2 + 2 / 3) / 3)
    assert m["excluded_from_iou"] == ["d"] and m["excluded_from_accuracy"] == ["d"]


def test_false_positive_only_class_counts_in_iou_not_accuracy():
    cm = np.array([[3, 1], [0, 0]])  # class 1 never in ground truth but predicted once
    m = segmentation_metrics(cm)
    assert m["per_class_iou"]["1"] == 0.0
    assert m["mean_iou"] == pytest.approx((3 / 4 + 0) / 2)
    assert m["excluded_from_accuracy"] == ["1"] and m["mean_class_accuracy"] == pytest.approx(3 / 4)


def test_tf_confusion_matrix_matches_numpy(rng):
    import tensorflow as tf

    from mammoseg.train.metrics import tf_confusion_matrix

    labels = rng.integers(0, 3, size=(2, 6, 6))
    labels[0, 0, 0] = 255
    logits = rng.normal(size=(2, 4, 4, 3)).astype("float32")  # smaller: labels are centre-cropped
    cm = tf_confusion_matrix(tf.constant(labels), tf.constant(logits), 3, ignore_id=255).numpy()
    ref = confusion_matrix(labels[:, 1:5, 1:5], logits.argmax(-1), 3, ignore_id=255)
    np.testing.assert_array_equal(cm, ref)


def test_dice_sensitivity_specificity_one_vs_all_by_hand():
    # rows = truth, columns = prediction, 3 classes, 20 pixels.
    cm = np.array([[5, 1, 0],
                   [2, 6, 1],
                   [0, 1, 4]])
    m = segmentation_metrics(cm, ["a", "b", "c"])
    # class b: TP 6, FP 1 + 1 = 2, FN 2 + 1 = 3, TN 20 - 6 - 2 - 3 = 9.
    assert m["per_class_dice"]["b"] == pytest.approx(2 * 6 / (2 * 6 + 2 + 3))
    assert m["per_class_sensitivity"]["b"] == pytest.approx(6 / 9)
    assert m["per_class_specificity"]["b"] == pytest.approx(9 / 11)
    assert m["per_class_precision"]["b"] == pytest.approx(6 / 8)
    assert m["per_class_one_vs_all_accuracy"]["b"] == pytest.approx(15 / 20)
    # class a: TP 5, FP 2, FN 1, TN 12; class c: TP 4, FP 1, FN 1, TN 14.
    assert m["mean_dice"] == pytest.approx((10 / 13 + 12 / 17 + 8 / 10) / 3)
    assert m["mean_specificity"] == pytest.approx((12 / 14 + 9 / 11 + 14 / 15) / 3)
    assert m["mean_sensitivity"] == m["mean_class_accuracy"] == pytest.approx((5 / 6 + 6 / 9 + 4 / 5) / 3)
    # kth-cls spec §6.1: mean one-vs-all accuracy = (1 + 2 * top-1 accuracy) / 3 for 3 classes.
    assert m["mean_one_vs_all_accuracy"] == pytest.approx((1 + 2 * m["pixel_accuracy"]) / 3)


def test_absent_class_rule():
    # Class 2 is absent from ground truth and prediction; class 1 is predicted but never true.
    cm = np.array([[6, 2, 0],
                   [0, 0, 0],
                   [0, 0, 0]])
    m = segmentation_metrics(cm)
    assert m["excluded_from_iou"] == m["excluded_from_dice"] == ["2"]
    assert m["excluded_from_sensitivity"] == ["1", "2"] and m["excluded_from_precision"] == ["2"]
    assert m["excluded_from_specificity"] == ["0"]  # every true pixel is class 0: no negatives, TN + FP = 0
    assert m["per_class_iou"]["1"] == 0.0 and m["per_class_dice"]["1"] == 0.0  # a false positive costs
    assert m["mean_iou"] == pytest.approx((6 / 8 + 0.0) / 2)  # nan-mean over the defined classes
    assert m["mean_iou_all_classes"] == pytest.approx((6 / 8 + 0.0 + 0.0) / 3)
    assert m["per_class_specificity"]["2"] == 1.0 and m["per_class_one_vs_all_accuracy"]["2"] == 1.0
    empty = segmentation_metrics(np.zeros((2, 2)))
    assert np.isnan(empty["pixel_accuracy"]) and np.isnan(empty["mean_iou"]) and np.isnan(empty["mean_dice"])


def test_mean_iou_matches_keras_meaniou(rng):
    import keras

    labels = rng.integers(0, 5, size=(4, 16, 16))
    preds = np.where(rng.random(labels.shape) < 0.6, labels, rng.integers(0, 5, size=labels.shape))
    reference = keras.metrics.MeanIoU(num_classes=5)
    reference.update_state(labels.ravel(), preds.ravel())
    m = segmentation_metrics(confusion_matrix(labels, preds, 5))
    assert m["mean_iou"] == pytest.approx(float(reference.result()), rel=1e-6)


def test_streaming_accumulator_equals_one_shot(rng):
    from mammoseg.train.metrics import ConfusionMatrixAccumulator

    labels = rng.integers(0, 4, size=(6, 10, 10))
    preds = rng.integers(0, 4, size=(6, 10, 10))
    acc = ConfusionMatrixAccumulator(4)
    for i in range(6):
        acc.update(labels[i], preds[i])
    np.testing.assert_array_equal(acc.matrix, confusion_matrix(labels, preds, 4))
    assert acc.result()["mean_dice"] == segmentation_metrics(confusion_matrix(labels, preds, 4))["mean_dice"]


def test_tf_confusion_matrix_binary_classification_and_volumes(rng):
    import tensorflow as tf

    from mammoseg.train.metrics import tf_confusion_matrix

    # One-channel outputs: logits threshold 0, probabilities threshold 0.5.
    labels = rng.integers(0, 2, size=(2, 5, 5))
    logits = rng.normal(size=(2, 5, 5, 1)).astype("float32")
    cm = tf_confusion_matrix(tf.constant(labels), tf.constant(logits), 2).numpy()
    np.testing.assert_array_equal(cm, confusion_matrix(labels, logits[..., 0] > 0, 2))
    probs = 1 / (1 + np.exp(-logits))
    cm_p = tf_confusion_matrix(tf.constant(labels[..., None]), tf.constant(probs), 2, threshold=0.5).numpy()
    np.testing.assert_array_equal(cm_p, cm)
    # Classification: ids (B,) against scores (B, 3), argmax decision (kth-cls top_k).
    ids = rng.integers(0, 3, size=9)
    scores = rng.random((9, 3)).astype("float32")
    np.testing.assert_array_equal(tf_confusion_matrix(tf.constant(ids), tf.constant(scores), 3).numpy(),
                                  confusion_matrix(ids, scores.argmax(-1), 3))
    # Volumes: (B, D, H, W) labels, centre-cropped to (B, d, h, w, 1) outputs.
    vol = rng.integers(0, 2, size=(1, 6, 6, 6))
    out = rng.normal(size=(1, 4, 4, 4, 1)).astype("float32")
    np.testing.assert_array_equal(tf_confusion_matrix(tf.constant(vol), tf.constant(out), 2).numpy(),
                                  confusion_matrix(vol[:, 1:5, 1:5, 1:5], out[..., 0] > 0, 2))
