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
