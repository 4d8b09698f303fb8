"""kth-cls: one-vs-all metrics of argmax decisions, ROC and AUC, against hand-computed values."""
import numpy as np
import pytest

from mammoseg.errors import ConfigError
from mammoseg.evaluate.classification_eval import class_table_rows, classification_report, roc_auc, roc_curve

NAMES = ("normal", "benign", "cancer")


def _example():
    """8 images; argmax predictions [0, 0, 1, 1, 2, 2, 0, 2] against labels [0, 0, 0, 1, 1, 2, 2, 2]."""
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2])
    predicted = np.array([0, 0, 1, 1, 2, 2, 0, 2])
    scores = np.full((8, 3), 0.1)
    scores[np.arange(8), predicted] = [0.9, 0.8, 0.7, 0.6, 0.55, 0.95, 0.5, 0.85]
    return labels, scores


def test_one_vs_all_metrics_by_hand():
    labels, scores = _example()
    report = classification_report(labels, scores, NAMES)
    # confusion matrix rows = truth: normal [2, 1, 0], benign [0, 1, 1], cancer [1, 0, 2]
    np.testing.assert_array_equal(report["confusion_matrix"], [[2, 1, 0], [0, 1, 1], [1, 0, 2]])
    per = report["per_class"]
    # normal: TP 2, FN 1, FP 1, TN 4
    assert per["one_vs_all_accuracy"]["normal"] == pytest.approx(6 / 8)
    assert per["sensitivity"]["normal"] == pytest.approx(2 / 3)
    assert per["specificity"]["normal"] == pytest.approx(4 / 5)
    assert per["precision"]["normal"] == pytest.approx(2 / 3)
    # benign: TP 1, FN 1, FP 1, TN 5; cancer: TP 2, FN 1, FP 1, TN 4
    assert per["specificity"]["benign"] == pytest.approx(5 / 6)
    assert per["precision"]["cancer"] == pytest.approx(2 / 3)
    assert report["top1_accuracy"] == pytest.approx(5 / 8)
    # the identity of spec §6.1: mean one-vs-all accuracy = 1 - 2 (1 - top1) / C
    assert report["mean"]["one_vs_all_accuracy"] == pytest.approx(1 - 2 * (3 / 8) / 3)
    assert report["mean"]["sensitivity"] == pytest.approx((2 / 3 + 1 / 2 + 2 / 3) / 3)


def test_auc_counts_pairs_with_ties_as_half():
    truth = [1, 1, 0, 0, 1, 0]
    scores = [0.9, 0.4, 0.4, 0.2, 0.7, 0.8]
    # positives 0.9, 0.4, 0.7 vs negatives 0.4, 0.2, 0.8: wins 3 + (0.5 + 1) + 2 = 6.5 of 9 pairs
    assert roc_auc(truth, scores) == pytest.approx(6.5 / 9)
    assert np.isnan(roc_auc([1, 1], [0.2, 0.3]))


def test_roc_curve_steps_through_distinct_thresholds():
    fpr, tpr, thresholds = roc_curve([1, 1, 0, 0, 1, 0], [0.9, 0.4, 0.4, 0.2, 0.7, 0.8])
    np.testing.assert_allclose(thresholds, [np.inf, 0.9, 0.8, 0.7, 0.4, 0.2])
    np.testing.assert_allclose(tpr, [0, 1 / 3, 1 / 3, 2 / 3, 1, 1])
    np.testing.assert_allclose(fpr, [0, 0, 1 / 3, 1 / 3, 2 / 3, 1])
    assert np.trapezoid(tpr, fpr) == pytest.approx(6.5 / 9)  # area equals the rank AUC


def test_report_auc_and_table_layout():
    labels, scores = _example()
    report = classification_report(labels, scores, NAMES)
    assert set(report["auc"]) == {*NAMES, "micro"}
    header, rows = class_table_rows(report, order=("cancer", "normal", "benign"),
                                    thesis={"Accuracy": (0.6937, 0.8611, 0.7423, 0.7657)})
    assert header == ["", "cancer", "normal", "benign", "Mean"]
    assert [r[0] for r in rows[:3]] == ["Accuracy", "thesis Accuracy", "Specificity"]
    assert rows[0][2] == pytest.approx(6 / 8)


def test_bad_shapes_are_config_errors():
    with pytest.raises(ConfigError):
        classification_report([0, 1], np.zeros((3, 3)), NAMES)
    with pytest.raises(ConfigError):
        classification_report([0, 5], np.zeros((2, 3)), NAMES)
