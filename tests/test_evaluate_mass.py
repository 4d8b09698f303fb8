"""oulu-mass: fold averaging, the thesis' mean-Dice rule and TP/FP/TN/FN image classification."""
import keras
import numpy as np
import pytest

from mammoseg.errors import ConfigError
from mammoseg.evaluate.mass_eval import (average_fold_probabilities, classification_summary, classify_segmentation,
                                         evaluate_masses, fold_ensemble_probabilities, mass_table_rows,
                                         mean_dice_over_positive)


def _mask(shape, *boxes):
    m = np.zeros(shape, bool)
    for y0, y1, x0, x1 in boxes:
        m[y0:y1, x0:x1] = True
    return m


def test_classification_follows_the_thesis_definitions():
    truth = _mask((10, 10), (0, 4, 0, 5))  # 20 px
    assert classify_segmentation(np.zeros((10, 10)), np.zeros((10, 10)))[0] == "TN"
    outcome, score = classify_segmentation(truth, np.zeros((10, 10)))
    assert (outcome, score) == ("FN", 0.0)
    assert classify_segmentation(np.zeros((10, 10)), _mask((10, 10), (9, 10, 9, 10)))[0] == "FP"  # GT empty
    # 20 px truth, 20 px output, 10 shared: Dice = 20 / 40 = 0.5 > 0.4 -> TP
    assert classify_segmentation(truth, _mask((10, 10), (2, 6, 0, 5))) == ("TP", 0.5)
    # 20 px truth, 30 px output, 10 shared: Dice = 20 / 50 = 0.4, not over the threshold -> FP
    assert classify_segmentation(truth, _mask((10, 10), (2, 8, 0, 5))) == ("FP", pytest.approx(0.4))
    # output elsewhere: Dice 0 -> FP (positive output, Dice under 0.4)
    assert classify_segmentation(truth, _mask((10, 10), (8, 10, 8, 10))) == ("FP", 0.0)


def test_mean_dice_keeps_only_overlapping_images():
    assert mean_dice_over_positive([0.8, 0.0, float("nan"), 0.6, 0.0]) == (pytest.approx(0.7), 2)
    mean, n = mean_dice_over_positive([0.0, float("nan")])
    assert np.isnan(mean) and n == 0


def test_summary_metrics_by_hand():
    # TP 3, FP 2, TN 4, FN 1: accuracy 7/10, specificity 4/6, F1 = 3 / (3 + 1.5)
    s = classification_summary({"TP": 3, "FP": 2, "TN": 4, "FN": 1})
    assert s == {"accuracy": pytest.approx(0.7), "specificity": pytest.approx(4 / 6), "f1": pytest.approx(2 / 3)}
    assert np.isnan(classification_summary({"TP": 2})["specificity"])


def test_evaluate_masses_end_to_end():
    truth = _mask((8, 8), (0, 4, 0, 4))  # 16 px
    good = np.where(_mask((8, 8), (0, 4, 0, 3)), 0.9, 0.1)  # 12 px inside: Dice 24 / 28
    cases = [("tp", truth, good), ("tn", np.zeros((8, 8)), np.full((8, 8), 0.2)),
             ("fn", truth, np.full((8, 8), 0.5)),  # exactly 0.5 is not > 0.5: empty output
             ("fp", np.zeros((8, 8)), good)]
    ev = evaluate_masses(cases)
    assert [r["outcome"] for r in ev.per_image] == ["TP", "TN", "FN", "FP"]
    assert ev.counts == {"TP": 1, "FP": 1, "TN": 1, "FN": 1}
    assert ev.dice == pytest.approx(24 / 28) and ev.images_in_dice == 1
    assert ev.accuracy == 0.5 and ev.specificity == 0.5 and ev.f1 == pytest.approx(0.5)
    header, rows = mass_table_rows([("ResNet22FPN", "FT-A", ev)], thesis={("ResNet22FPN", "FT-A"): (0.802, 0.887,
                                                                                                  0.980, 0.725)})
    assert header[:6] == ["Model", "Loss", "Dice", "Accuracy", "Specificity", "F1"]
    assert rows[0][:3] == ["ResNet22FPN", "FT-A", pytest.approx(24 / 28)] and rows[0][-1] == 0.725


def test_fold_average_on_constructed_maps():
    folds = [np.full((2, 2), v, np.float32) for v in (1.0, 1.0, 0.25, 0.25, 0.25)]
    mean = average_fold_probabilities(folds)
    np.testing.assert_allclose(mean, 0.55, rtol=1e-6)
    assert (mean > 0.5).all()  # probabilities are averaged, not votes: 3 of 5 folds alone would say no
    with pytest.raises(ConfigError):
        average_fold_probabilities([np.zeros((2, 2)), np.zeros((3, 2))])


def test_fold_ensemble_of_models_equals_mean_of_sigmoids(rng):
    image = rng.normal(size=(16, 16, 1)).astype(np.float32)
    models, expected = [], []
    for seed in range(3):
        keras.utils.set_random_seed(seed)
        inp = keras.Input((16, 16, 1))
        model = keras.Model(inp, keras.layers.Conv2D(1, 3, padding="same")(inp))
        models.append(model)
        expected.append(keras.ops.convert_to_numpy(keras.ops.sigmoid(model(image[None])))[0, ..., 0])
    np.testing.assert_allclose(fold_ensemble_probabilities(models, image), np.mean(expected, axis=0), atol=1e-6)
    with pytest.raises(ConfigError):
        fold_ensemble_probabilities([], image)
