"""Losses of the five theses, written with `keras.ops` so that they run inside a `tf.function` /
MirroredStrategy replica step and under any Keras backend (except `gradient_penalty`, which uses
`tf.GradientTape`).

Every loss returns one value PER EXAMPLE, shape (batch,). The training loop reduces it itself:
`sum(per_example) / global_batch_size`, which is the correct scaling under MirroredStrategy.

Overlap losses (Dice, Jaccard, Tversky, SS) are not sums over pixels, so a batch-wide value cannot be split
exactly into per-example parts. With `batch_global=True` (the theses' own reduction, see docs/losses.md) the
batch-wide loss is computed over the whole (per-replica) batch and repeated for each example, so that
`sum / batch` gives it back exactly on one replica and averages the replicas' values on several.

Formulas, thesis sources and the choices made where a thesis is silent: docs/losses.md.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Iterable

import keras
import numpy as np
from keras import ops

from ..errors import ConfigError, DataError

PROBABILITY_EPSILON = 1e-7  # clip for log(p) on probabilities, as keras.losses.BinaryCrossentropy does

# oulu-mass focal-Tversky settings (thesis L947-950): alpha weights FP, beta weights FN (L933-935).
FOCAL_TVERSKY_B = {"fp_weight": 0.5, "fn_weight": 0.5, "gamma": 1.0}
FOCAL_TVERSKY_A = {"fp_weight": 0.7, "fn_weight": 0.3, "gamma": 1.4}


# --------------------------------------------------------------------------------------------- class weights
def pixel_frequencies(label_arrays: Iterable[np.ndarray], num_classes: int, ignore_id: int | None = None
                      ) -> np.ndarray:
    """Percentage of the (non-ignored) training pixels that each class holds: the x of w = 1 - x/100."""
    counts = np.zeros(num_classes, np.int64)
    for index, labels in enumerate(label_arrays):
        ids = np.asarray(labels).ravel()
        if ignore_id is not None:
            ids = ids[ids != ignore_id]
        bad = np.unique(ids[(ids < 0) | (ids >= num_classes)])
        if bad.size:
            raise DataError(None, f"label array #{index} holds ids {bad.tolist()} outside 0..{num_classes - 1}"
                                  + (f" (ignore id {ignore_id})" if ignore_id is not None else ""))
        counts += np.bincount(ids.astype(np.int64), minlength=num_classes)
    total = counts.sum()
    if total == 0:
        raise DataError(None, "no labelled pixels to count class frequencies from")
    return counts * (100.0 / total)


def class_weights_from_frequencies(percentages) -> np.ndarray:
    """kth-seg / lrh-seg class weights: a class holding x % of the labels weighs w = 1 - x/100."""
    x = np.asarray(percentages, np.float64)
    if x.ndim != 1 or np.any(x < 0) or np.any(x > 100):
        raise DataError(None, f"class percentages must be a 1-D list of values in [0, 100], got {x.tolist()}")
    return (1.0 - x / 100.0).astype(np.float32)


def binary_weights_from_fraction(positive_fraction: float) -> tuple[float, float]:
    """pig-ct weights (negative, positive) = (1/(1-f), 1/f), f = mask fraction of the training pixels."""
    if not 0.0 < positive_fraction < 1.0:
        raise DataError(None, f"positive pixel fraction must lie in (0, 1), got {positive_fraction}")
    return 1.0 / (1.0 - positive_fraction), 1.0 / positive_fraction


# --------------------------------------------------------------------------------------------- shape helpers
def center_crop_to(tensor, reference):
    """Crop `tensor`'s spatial axes to `reference`'s (U-Net valid padding: 572-px labels vs 388-px logits).

    Spatial axes are 1 .. reference.ndim - 2 of both (batch first, channels last in `reference`); `tensor` may
    be a label map without a channel axis. An odd size difference drops the extra row/column at the bottom/right.
    """
    n_spatial = len(reference.shape) - 2
    target = ops.shape(reference)[1:1 + n_spatial]
    source = ops.shape(tensor)[1:1 + n_spatial]
    static_target = tuple(reference.shape)[1:1 + n_spatial]
    static_source = tuple(tensor.shape)[1:1 + n_spatial]
    if all(isinstance(d, int) for d in static_target + static_source):
        if any(s < t for s, t in zip(static_source, static_target)):
            raise DataError(None, f"cannot crop spatial size {static_source} down to {static_target}: it is smaller")
        if static_source == static_target:
            return tensor
    index = [slice(None)]
    for s, t in zip(source, target):
        offset = (s - t) // 2
        index.append(slice(offset, offset + t))
    return tensor[tuple(index)]


def _per_example_sum(x):
    return ops.sum(x, axis=tuple(range(1, len(x.shape))))


def _per_example_mean(x):
    return ops.mean(x, axis=tuple(range(1, len(x.shape))))


def _repeat_for_batch(value, like):
    """A batch-wide scalar as a (batch,) vector: `sum / batch` then returns the scalar itself."""
    return value * ops.ones((ops.shape(like)[0],), dtype=value.dtype)


def _float_labels_like(labels, predictions):
    """Labels as float32 with the predictions' rank: a (B,H,W) mask against a (B,H,W,1) output gains an axis."""
    labels = ops.cast(ops.convert_to_tensor(labels), "float32")
    if len(labels.shape) == len(predictions.shape) - 1:
        labels = ops.expand_dims(labels, -1)
    return labels


def _float_pair(labels, predictions, from_logits: bool):
    """(labels, probabilities) as float32 of the same rank."""
    predictions = ops.cast(predictions, "float32")
    probabilities = ops.sigmoid(predictions) if from_logits else predictions
    return _float_labels_like(labels, predictions), probabilities


def _sums(x, batch_global: bool):
    """Sum over one example (shape (batch,)) or over the whole batch (scalar)."""
    return ops.sum(x) if batch_global else _per_example_sum(x)


def _finish(loss, like, batch_global: bool):
    return _repeat_for_batch(loss, like) if batch_global else loss


# --------------------------------------------------------------------------------------------- cross-entropies
def weighted_cross_entropy(labels, logits, class_weights=None, ignore_id: int | None = None,
                           normalize: str = "pixels"):
    """kth-seg / lrh-seg multi-class CE, each pixel weighted by w[label]; ignored pixels count for nothing.

    labels (B,H,W) int (or (B,H,W,1)), larger than logits' H,W for valid-padding nets (centre-cropped here);
    logits (B,h,w,C). Per example: sum_p w_y * CE_p / N, N = number of non-ignored pixels ("pixels") or
    sum of their weights ("weights"). An example whose pixels are all ignored gets 0.
    """
    if normalize not in ("pixels", "weights"):
        raise ConfigError(f"normalize must be 'pixels' or 'weights', got {normalize!r}")
    logits = ops.cast(logits, "float32")
    labels = ops.convert_to_tensor(labels)
    if len(labels.shape) == len(logits.shape):
        labels = ops.squeeze(labels, axis=-1)
    labels = ops.cast(center_crop_to(labels, logits), "int32")
    num_classes = logits.shape[-1]
    if ignore_id is None:
        valid = ops.ones_like(labels, dtype="float32")
        safe_labels = labels
    else:
        is_valid = ops.not_equal(labels, ignore_id)
        valid = ops.cast(is_valid, "float32")
        safe_labels = ops.where(is_valid, labels, ops.zeros_like(labels))
    log_probs = ops.log_softmax(logits, axis=-1)
    pixel_ce = -ops.sum(ops.one_hot(safe_labels, num_classes, dtype="float32") * log_probs, axis=-1)
    if class_weights is None:
        pixel_weight = valid
    else:
        weights = ops.cast(ops.convert_to_tensor(class_weights), "float32")
        pixel_weight = ops.take(weights, safe_labels) * valid
    numerator = _per_example_sum(pixel_weight * pixel_ce)
    denominator = _per_example_sum(valid if normalize == "pixels" else pixel_weight)
    return ops.where(denominator > 0, numerator / ops.maximum(denominator, 1e-12), ops.zeros_like(numerator))


def binary_cross_entropy(labels, predictions, from_logits: bool = False, positive_weight: float = 1.0,
                         negative_weight: float = 1.0):
    """Per-example mean of -[w1 y log p + w0 (1-y) log(1-p)] over all pixels / outputs.

    oulu-mass BCE (from_logits=True), pig-ct weighted BCE (w0=1.406, w1=3.460 on sigmoid outputs), kth-cls
    classifier BCE over its three sigmoid outputs (weights 1).
    """
    predictions = ops.cast(predictions, "float32")
    labels = _float_labels_like(labels, predictions)
    if from_logits:
        log_p = -ops.softplus(-predictions)
        log_not_p = -ops.softplus(predictions)
    else:
        clipped = ops.clip(predictions, PROBABILITY_EPSILON, 1.0 - PROBABILITY_EPSILON)
        log_p, log_not_p = ops.log(clipped), ops.log(1.0 - clipped)
    pixel = -(positive_weight * labels * log_p + negative_weight * (1.0 - labels) * log_not_p)
    return _per_example_mean(pixel)


# --------------------------------------------------------------------------------------------- overlap losses
def dice_loss(labels, predictions, smooth: float = 1e-6, from_logits: bool = False, batch_global: bool = True):
    """kth-cls `dice_loss_II` (Eq. 3.43 + code A.3.5): foreground plus background soft Dice without the factor 2.

    1 - (Σ yp + s)/(Σ (y + p) + s) - (Σ (1-y)(1-p) + s)/(Σ (2 - y - p) + s); 0 when perfect, 1 when inverted.
    Sigmoid probabilities by default (the ROI U-Net ends in a sigmoid).
    """
    y, p = _float_pair(labels, predictions, from_logits)
    foreground = (_sums(y * p, batch_global) + smooth) / (_sums(y + p, batch_global) + smooth)
    background = ((_sums((1.0 - y) * (1.0 - p), batch_global) + smooth)
                  / (_sums(2.0 - y - p, batch_global) + smooth))
    return _finish(1.0 - foreground - background, y, batch_global)


def sensitivity_specificity_loss(labels, predictions, sensitivity_weight: float = 0.05, smooth: float = 1e-6,
                                 from_logits: bool = False, batch_global: bool = True):
    """kth-cls SS loss (Eq. 3.49 as coded in A.3.5): ρ·Σ(y-p)²y/(Σy+s) + (1-ρ)·Σ(y-p)²(1-y)/(Σ(1-y)+s).

    ρ (`sensitivity_weight`, the thesis' `conf.ss_lambda`) multiplies the sensitivity term (errors on positive
    pixels). The thesis never gives its value; 0.05 follows Brosch et al. (see docs/losses.md).
    """
    y, p = _float_pair(labels, predictions, from_logits)
    squared_error = ops.square(y - p)
    sensitivity_term = _sums(squared_error * y, batch_global) / (_sums(y, batch_global) + smooth)
    specificity_term = _sums(squared_error * (1.0 - y), batch_global) / (_sums(1.0 - y, batch_global) + smooth)
    loss = sensitivity_weight * sensitivity_term + (1.0 - sensitivity_weight) * specificity_term
    return _finish(loss, y, batch_global)


def soft_jaccard(labels, predictions, smooth: float = 1e-15, from_logits: bool = True, batch_global: bool = True):
    """oulu-mass soft Jaccard (Eq. 6): 1 - (Σ py + ε)/(Σp + Σy - Σ py + ε), ε = 1e-15, p = σ(logits)."""
    y, p = _float_pair(labels, predictions, from_logits)
    intersection = _sums(p * y, batch_global)
    union = _sums(p, batch_global) + _sums(y, batch_global) - intersection
    return _finish(1.0 - (intersection + smooth) / (union + smooth), y, batch_global)


def bce_jaccard(labels, predictions, from_logits: bool = True, bce_weight: float = 1.0,
                jaccard_weight: float = 1.0, smooth: float = 1e-15, batch_global: bool = True):
    """oulu-mass BCE-J: mean BCE with logits + soft Jaccard, summed 1:1 ("the combined loss is the sum")."""
    bce = binary_cross_entropy(labels, predictions, from_logits=from_logits)
    jaccard = soft_jaccard(labels, predictions, smooth=smooth, from_logits=from_logits, batch_global=batch_global)
    return bce_weight * bce + jaccard_weight * jaccard


def focal_tversky(labels, predictions, fn_weight: float = 0.5, fp_weight: float = 0.5, gamma: float = 1.0,
                  smooth: float = 1.0, from_logits: bool = True, batch_global: bool = True,
                  exponent_on: str = "loss"):
    """oulu-mass focal Tversky (Eq. 7-8): TI = (TP + s)/(TP + fp_weight·FP + fn_weight·FN + s), soft counts.

    Loss (1 - TI)^γ (exponent_on="loss", default) or 1 - TI^γ ("index"). The thesis' α is `fp_weight`
    and β is `fn_weight` ("higher beta for recall and alpha for precision"): FT-A is fp 0.7 / fn 0.3 / γ 1.4.
    keras.losses.Tversky is not used: its `alpha` multiplies the false negatives although documented as FP.
    """
    if exponent_on not in ("loss", "index"):
        raise ConfigError(f"exponent_on must be 'loss' or 'index', got {exponent_on!r}")
    y, p = _float_pair(labels, predictions, from_logits)
    true_positive = _sums(p * y, batch_global)
    false_positive = _sums(p * (1.0 - y), batch_global)
    false_negative = _sums((1.0 - p) * y, batch_global)
    index = (true_positive + smooth) / (true_positive + fp_weight * false_positive + fn_weight * false_negative
                                        + smooth)
    if exponent_on == "loss":
        loss = ops.power(ops.maximum(1.0 - index, 0.0), gamma)
    else:
        loss = 1.0 - ops.power(index, gamma)
    return _finish(loss, y, batch_global)


# --------------------------------------------------------------------------------------------- adversarial terms
def product_input(image, probs):
    """Luc et al. "Product" discriminator input: channels [image·p_0, image·p_1, …] (3C for an RGB image).

    Channel 3c+k is image[..., k] * probs[..., c]. The image is centre-cropped to the maps' size (U-Net).
    """
    probs = ops.cast(probs, "float32")
    image = ops.cast(center_crop_to(image, probs), "float32")
    return ops.concatenate([image * probs[..., c:c + 1] for c in range(probs.shape[-1])], axis=-1)


def _two_way_ce(d_logits, target_class: int):
    """Per-example mean over locations of softmax CE of 2-channel logits against one class."""
    log_probs = ops.log_softmax(ops.cast(d_logits, "float32"), axis=-1)
    return -_per_example_mean(log_probs[..., target_class])


def discriminator_loss(d_real_logits, d_fake_logits):
    """kth-seg discriminator: CE(D(real) → 1) + CE(D(fake) → 0), per-location 2-way logits (1 = ground truth)."""
    return _two_way_ce(d_real_logits, 1) + _two_way_ce(d_fake_logits, 0)


def generator_adversarial_loss(d_fake_logits, weight: float = 0.1):
    """kth-seg segmentor's adversarial term, non-saturating: weight · CE(D(fake) → 1); weight 0.1 (L1484)."""
    return weight * _two_way_ce(d_fake_logits, 1)


def logit_difference(d_logits):
    """Critic value of 2-channel discriminator logits: ground-truth logit minus generated logit, per location."""
    return d_logits[..., 1] - d_logits[..., 0]


def gradient_penalty(critic_fn: Callable, real, fake, epsilon=None, weight: float = 10.0, seed=None):
    """WGAN-GP (Gulrajani et al.): weight · (‖∇_x̂ critic(x̂)‖₂ - 1)², x̂ = ε·real + (1-ε)·fake, per example.

    TensorFlow only (tf.GradientTape); differentiable w.r.t. the critic's weights (call it under the
    discriminator's tape). `critic_fn` maps x̂ to critic values with the batch first; values beyond the batch
    axis (a per-location map) are averaged into one score per example. It must not mix examples (no BatchNorm).
    ε: given, or drawn U(0,1) per example with `seed` (pass a keras.random.SeedGenerator so each step draws
    afresh inside a tf.function; an int seed repeats the same ε).
    """
    import tensorflow as tf

    real = tf.cast(real, tf.float32)
    fake = tf.cast(fake, tf.float32)
    broadcast_shape = [tf.shape(real)[0]] + [1] * (len(real.shape) - 1)
    if epsilon is None:
        epsilon = keras.random.uniform(broadcast_shape, dtype="float32", seed=seed)
    else:
        epsilon = tf.reshape(tf.cast(epsilon, tf.float32), broadcast_shape)
    interpolated = epsilon * real + (1.0 - epsilon) * fake
    with tf.GradientTape() as tape:
        tape.watch(interpolated)
        scores = tf.cast(critic_fn(interpolated), tf.float32)
        if len(scores.shape) > 1:
            scores = _per_example_mean(scores)
        total = tf.reduce_sum(scores)  # examples are independent, so d total / d x̂_i = d score_i / d x̂_i
    gradients = tape.gradient(total, interpolated)
    norms = tf.sqrt(_per_example_sum(tf.square(gradients)) + 1e-12)  # the 1e-12 keeps d sqrt finite at 0
    return weight * tf.square(norms - 1.0)


LOSSES: dict[str, Callable] = {
    "weighted_cross_entropy": weighted_cross_entropy,
    "binary_cross_entropy": binary_cross_entropy,
    "dice": dice_loss,
    "sensitivity_specificity": sensitivity_specificity_loss,
    "soft_jaccard": soft_jaccard,
    "bce_jaccard": bce_jaccard,
    "focal_tversky": focal_tversky,
}


def build_loss(name: str, **kwargs) -> Callable:
    """A config string + keyword arguments → loss(labels, outputs) returning (batch,) values."""
    if name not in LOSSES:
        raise ConfigError(f"unknown loss {name!r}; known: {', '.join(sorted(LOSSES))}")
    return functools.partial(LOSSES[name], **kwargs)
