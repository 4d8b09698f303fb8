"""oulu-mass evaluation (seed 002 §3.4, L1038-1091): fold ensembling, the mean-Dice rule, image classification.

- Test predictions average the five fold models (L203-204, L1614-1616): the mean of their sigmoid probability
  maps, thresholded at 0.5 (the threshold is not stated; > 0.5, i.e. logit > 0).
- Model Dice = mean of the per-image Dice over images whose Dice is > 0 ("partially overlapping ground truth and
  output masks", L1052-1054): empty-truth images, missed masses and pure false positives are left out.
- Every image gets one label (L1057-1065): TN both masks empty; FN truth not empty, output empty; FP output not
  empty and truth empty or Dice < 0.4; TP Dice > 0.4. Dice exactly 0.4 is unassigned by the text; we call it FP
  (not "over 0.4"). Accuracy, specificity TN / (TN + FP) and F1 = TP / (TP + (FP + FN) / 2) (Table 4).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from ..io.inbreast import dice
from .plane_fusion import mean_probability
from .sliding_window import sliding_window_predict

DICE_THRESHOLD = 0.4  # L1058-1060
OUTCOMES = ("TP", "FP", "TN", "FN")


def average_fold_probabilities(probability_maps) -> np.ndarray:
    """Pixel-wise mean of the fold models' probability maps of one image."""
    return mean_probability(probability_maps)


def fold_ensemble_probabilities(models, image: np.ndarray, **window_options) -> np.ndarray:
    """Mean probability map (H, W) of several fold models on one prepared image (H, W, channels).

    Each model runs by sliding window (one tile when the image has the model's input size, as the thesis' 512 px
    images do), with sigmoid for one-channel logits; only a running sum is kept.
    """
    models = list(models)
    if not models:
        raise ConfigError("no fold models to average")
    total = None
    for model in models:
        probs = sliding_window_predict(model, image, **window_options)
        if probs.shape[-1] != 1:
            raise ConfigError(f"mass models output one channel, model {model.name!r} has {probs.shape[-1]}")
        total = probs[..., 0] if total is None else total + probs[..., 0]
    return total / np.float32(len(models))


def classify_segmentation(truth, prediction, dice_threshold: float = DICE_THRESHOLD) -> tuple[str, float]:
    """(thesis outcome TP/FP/TN/FN, Dice) of one image from its truth and predicted masks (non-zero = mass).

    Dice of two empty masks is NaN: there is no overlap to score and the mean-Dice rule skips it anyway.
    """
    truth, prediction = np.asarray(truth) != 0, np.asarray(prediction) != 0
    score = dice(prediction, truth, empty=float("nan"))
    if not prediction.any():
        return ("TN" if not truth.any() else "FN"), score
    if truth.any() and score > dice_threshold:
        return "TP", score
    return "FP", score


def mean_dice_over_positive(scores) -> tuple[float, int]:
    """(mean of the Dice scores > 0, how many there are): the thesis' model Dice; NaN when none."""
    scores = np.asarray([s for s in scores if s is not None], np.float64)
    positive = scores[np.nan_to_num(scores) > 0]
    return (float(positive.mean()) if positive.size else float("nan")), int(positive.size)


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den > 0 else float("nan")


def classification_summary(counts: dict) -> dict:
    """Accuracy, specificity and F1 of thesis Table 4 from outcome counts {TP, FP, TN, FN}."""
    tp, fp, tn, fn = (counts.get(k, 0) for k in OUTCOMES)
    return {"accuracy": _ratio(tp + tn, tp + tn + fp + fn), "specificity": _ratio(tn, tn + fp),
            "f1": _ratio(tp, tp + 0.5 * (fp + fn))}


@dataclass
class MassEvaluation:
    per_image: list[dict]  # case, outcome, dice, truth_pixels, predicted_pixels
    counts: dict  # TP, FP, TN, FN
    dice: float  # the thesis' model Dice (mean over Dice > 0)
    images_in_dice: int
    accuracy: float
    specificity: float
    f1: float

    def row(self) -> list:
        """Dice, Accuracy, Specificity, F1: the metric columns of thesis Tables 5-10."""
        return [self.dice, self.accuracy, self.specificity, self.f1]


def evaluate_masses(cases, threshold: float = 0.5, dice_threshold: float = DICE_THRESHOLD) -> MassEvaluation:
    """Score (case id, truth mask, probability map) triples: probabilities > `threshold` are the output mask."""
    per_image = []
    counts = dict.fromkeys(OUTCOMES, 0)
    for case, truth, probability in cases:
        truth = np.asarray(truth) != 0
        prediction = np.asarray(probability) > threshold
        if truth.shape != prediction.shape:
            raise ConfigError(f"{case}: truth {truth.shape} and prediction {prediction.shape} differ in shape")
        outcome, score = classify_segmentation(truth, prediction, dice_threshold)
        counts[outcome] += 1
        per_image.append({"case": case, "outcome": outcome, "dice": score, "truth_pixels": int(truth.sum()),
                          "predicted_pixels": int(prediction.sum())})
    mean, used = mean_dice_over_positive([r["dice"] for r in per_image])
    return MassEvaluation(per_image, counts, mean, used, **classification_summary(counts))


def mass_table_rows(results: list[tuple[str, str, MassEvaluation]], thesis: dict | None = None):
    """(header, rows) in the layout of thesis Tables 5-10: Model | Loss | Dice | Accuracy | Specificity | F1,
    with the thesis' four numbers beside ours when `thesis` maps (model, loss) to them."""
    header = ["Model", "Loss", "Dice", "Accuracy", "Specificity", "F1", "images in Dice"]
    if thesis:
        header += ["thesis Dice", "thesis Accuracy", "thesis Specificity", "thesis F1"]
    rows = []
    for model, loss, ev in results:
        row = [model, loss, *ev.row(), ev.images_in_dice]
        if thesis:
            row += list(thesis.get((model, loss), [float("nan")] * 4))
        rows.append(row)
    return header, rows
