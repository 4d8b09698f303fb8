"""Each loss against a hand value on tiny tensors and/or an independent implementation (numpy/scipy/keras)."""
import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy.special import expit, log_softmax

from mammoseg.errors import ConfigError, DataError
from mammoseg.train import losses as L

LN2 = math.log(2.0)


def as_np(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def column(values):
    """(1, N, 1, 1) float32 mask/prediction from a flat list: one example of N pixels."""
    return np.asarray(values, np.float32).reshape(1, -1, 1, 1)


# ------------------------------------------------------------------------------------------- class weights
def test_pixel_frequencies_counts_percentages_and_skips_ignored():
    arrays = [np.array([[0, 0], [1, 255]]), np.array([2, 0, 255, 1])]
    np.testing.assert_allclose(L.pixel_frequencies(arrays, 3, ignore_id=255), [50.0, 100 / 3, 100 / 6])


@pytest.mark.parametrize("arrays, ignore", [([np.array([0, 3])], None), ([np.array([0, 255])], None),
                                             ([np.array([255, 255])], 255)])
def test_pixel_frequencies_rejects_unknown_ids_and_empty_input(arrays, ignore):
    with pytest.raises(DataError):
        L.pixel_frequencies(arrays, 3, ignore_id=ignore)


def test_class_weights_are_one_minus_percentage():
    np.testing.assert_allclose(L.class_weights_from_frequencies([40.22, 33.31, 0.06]), [0.5978, 0.6669, 0.9994],
                               atol=1e-6)
    with pytest.raises(DataError):
        L.class_weights_from_frequencies([120.0])


def test_pig_ct_binary_weights_match_the_thesis_values():
    negative, positive = L.binary_weights_from_fraction(0.289)
    assert (round(negative, 3), round(positive, 3)) == (1.406, 3.460)


# ------------------------------------------------------------------------------------------- centre crop
def test_center_crop_takes_the_middle_and_odd_extra_goes_bottom_right():
    labels = np.arange(7 * 7).reshape(1, 7, 7)
    cropped = as_np(L.center_crop_to(labels, np.zeros((1, 4, 4, 2))))
    np.testing.assert_array_equal(cropped, labels[:, 1:5, 1:5])
    with pytest.raises(DataError):
        L.center_crop_to(labels, np.zeros((1, 9, 9, 2)))


# ------------------------------------------------------------------------------------------- multi-class CE
def tiny_ce_case():
    """Pixel A: logits (0,0), label 0 → CE ln2. Pixel B: logits (ln3,0), label 1 → p=1/4, CE ln4."""
    logits = np.array([[[[0.0, 0.0], [math.log(3.0), 0.0]]]], np.float32)  # (1,1,2,2)
    labels = np.array([[[0, 1]]])
    return labels, logits


def test_weighted_ce_hand_values_for_both_normalisations():
    labels, logits = tiny_ce_case()
    weights = [0.5, 2.0]
    by_pixels = as_np(L.weighted_cross_entropy(labels, logits, weights))
    by_weights = as_np(L.weighted_cross_entropy(labels, logits, weights, normalize="weights"))
    np.testing.assert_allclose(by_pixels, [(0.5 * LN2 + 2.0 * 2 * LN2) / 2], rtol=1e-6)
    np.testing.assert_allclose(by_weights, [(0.5 * LN2 + 2.0 * 2 * LN2) / 2.5], rtol=1e-6)


def test_weighted_ce_class_weights_scale_exactly():
    labels, logits = tiny_ce_case()
    base = as_np(L.weighted_cross_entropy(labels, logits, [0.5, 2.0]))
    np.testing.assert_allclose(as_np(L.weighted_cross_entropy(labels, logits, [1.5, 6.0])), 3 * base, rtol=1e-6)
    by_weights = as_np(L.weighted_cross_entropy(labels, logits, [0.5, 2.0], normalize="weights"))
    np.testing.assert_allclose(as_np(L.weighted_cross_entropy(labels, logits, [1.5, 6.0], normalize="weights")),
                               by_weights, rtol=1e-6)


def test_weighted_ce_ignored_pixels_contribute_nothing(rng):
    labels, logits = tiny_ce_case()
    extra_logits = rng.normal(size=(1, 1, 1, 2)).astype(np.float32)
    labels3 = np.concatenate([labels, [[[255]]]], axis=2)
    logits3 = np.concatenate([logits, extra_logits], axis=2)
    expected = as_np(L.weighted_cross_entropy(labels, logits, [0.5, 2.0]))
    got = as_np(L.weighted_cross_entropy(labels3, logits3, [0.5, 2.0], ignore_id=255))
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    all_ignored = np.full((1, 1, 3), 255)
    np.testing.assert_array_equal(as_np(L.weighted_cross_entropy(all_ignored, logits3, ignore_id=255)), [0.0])


def test_unweighted_ce_equals_keras_sparse_categorical_crossentropy(rng):
    labels = rng.integers(0, 4, size=(3, 5, 5))
    logits = rng.normal(size=(3, 5, 5, 4)).astype(np.float32)
    keras_ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)(labels, logits)
    np.testing.assert_allclose(as_np(L.weighted_cross_entropy(labels, logits)),
                               as_np(keras_ce).mean(axis=(1, 2)), rtol=1e-5)


def numpy_weighted_ce(labels, logits, weights, ignore_id):
    """Independent reference: explicit loop over examples and pixels."""
    out = []
    log_p = log_softmax(logits.astype(np.float64), axis=-1)
    for b in range(labels.shape[0]):
        total, count = 0.0, 0
        for (i, j), y in np.ndenumerate(labels[b]):
            if y == ignore_id:
                continue
            total += weights[y] * -log_p[b, i, j, y]
            count += 1
        out.append(total / count if count else 0.0)
    return np.array(out)


def test_weighted_ce_with_ignore_and_valid_padding_crop_matches_numpy(rng):
    labels = rng.integers(0, 3, size=(2, 8, 8))
    labels[rng.random(labels.shape) < 0.3] = 255
    logits = rng.normal(size=(2, 4, 4, 3)).astype(np.float32)
    weights = np.array([0.2, 0.7, 0.95])
    expected = numpy_weighted_ce(labels[:, 2:6, 2:6], logits, weights, 255)
    got = as_np(L.weighted_cross_entropy(labels[..., None], logits, weights, ignore_id=255))  # (B,H,W,1) labels
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_weighted_ce_crops_with_unknown_shapes_inside_tf_function(rng):
    labels = rng.integers(0, 3, size=(2, 7, 7))
    logits = rng.normal(size=(2, 4, 4, 3)).astype(np.float32)
    step = tf.function(lambda y, z: L.weighted_cross_entropy(y, z, [1.0, 2.0, 3.0]), input_signature=[
        tf.TensorSpec([None, None, None], tf.int64), tf.TensorSpec([None, None, None, 3], tf.float32)])
    eager = L.weighted_cross_entropy(labels, logits, [1.0, 2.0, 3.0])
    np.testing.assert_allclose(as_np(step(labels, logits)), as_np(eager), rtol=1e-6)
    np.testing.assert_allclose(as_np(eager), numpy_weighted_ce(labels[:, 1:5, 1:5], logits, [1, 2, 3], None),
                               rtol=1e-5)


def test_weighted_ce_rejects_unknown_normalisation():
    with pytest.raises(ConfigError):
        L.weighted_cross_entropy(*tiny_ce_case(), normalize="sum")


def test_per_example_ce_scaled_by_global_batch_under_mirrored_strategy(rng):
    devices = tf.config.list_logical_devices("CPU")
    if len(devices) < 2:
        pytest.skip("needs 2 logical CPU devices (tests/conftest.py)")
    strategy = tf.distribute.MirroredStrategy([d.name for d in devices[:2]])
    labels = rng.integers(0, 3, size=(4, 4, 4))
    logits = rng.normal(size=(4, 4, 4, 3)).astype(np.float32)
    dataset = strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensor_slices((labels, logits)).batch(4))

    @tf.function
    def replica_loss(y, z):
        return tf.reduce_sum(L.weighted_cross_entropy(y, z, [0.5, 1.0, 2.0])) / 4

    total = strategy.reduce("SUM", strategy.run(replica_loss, args=next(iter(dataset))), axis=None)
    full = numpy_weighted_ce(labels, logits, [0.5, 1.0, 2.0], None).mean()
    np.testing.assert_allclose(float(total), full, rtol=1e-5)


# ------------------------------------------------------------------------------------------- binary CE
def test_binary_ce_matches_keras_on_probabilities_and_logits(rng):
    labels = (rng.random((2, 4, 4, 1)) > 0.5).astype(np.float32)
    logits = rng.normal(size=(2, 4, 4, 1)).astype(np.float32)
    probabilities = expit(logits).astype(np.float32)
    keras_bce = as_np(keras.losses.BinaryCrossentropy(reduction=None)(labels, probabilities)).mean(axis=(1, 2))
    np.testing.assert_allclose(as_np(L.binary_cross_entropy(labels, probabilities)), keras_bce, rtol=1e-5)
    np.testing.assert_allclose(as_np(L.binary_cross_entropy(labels[..., 0], logits, from_logits=True)), keras_bce,
                               rtol=1e-5)


def test_binary_ce_class_weights_multiply_their_own_pixels():
    labels, probabilities = column([1, 0]), column([0.5, 0.75])  # CE: ln2 (positive), ln4 (negative)
    got = as_np(L.binary_cross_entropy(labels, probabilities, positive_weight=3.46, negative_weight=1.406))
    np.testing.assert_allclose(got, [(3.46 * LN2 + 1.406 * 2 * LN2) / 2], rtol=1e-6)


# ------------------------------------------------------------------------------------------- kth-cls Dice / SS
def test_dice_loss_ii_hand_values():
    y = column([1, 1, 0, 0])
    assert as_np(L.dice_loss(y, y)) == pytest.approx([0.0], abs=1e-6)
    assert as_np(L.dice_loss(y, 1 - y)) == pytest.approx([1.0], abs=1e-6)
    assert as_np(L.dice_loss(y, np.full_like(y, 0.5))) == pytest.approx([0.5], abs=1e-6)
    # p = (1, .5, .5, 0): foreground 1.5/4, background 1.5/4 → 1 - 0.75
    assert as_np(L.dice_loss(y, column([1, 0.5, 0.5, 0]))) == pytest.approx([0.25], abs=1e-6)


def test_dice_loss_ii_is_mean_of_foreground_and_background_keras_dice(rng):
    y = (rng.random((2, 6, 6, 1)) > 0.6).astype(np.float32)
    p = rng.random((2, 6, 6, 1)).astype(np.float32)
    axes = (1, 2, 3)
    keras_mean = (as_np(keras.losses.dice(y, p, axis=axes)) + as_np(keras.losses.dice(1 - y, 1 - p, axis=axes))) / 2
    np.testing.assert_allclose(as_np(L.dice_loss(y, p, batch_global=False)), keras_mean, rtol=1e-5)


def test_batch_global_dice_is_the_dice_of_the_flattened_batch(rng):
    y = (rng.random((3, 4, 4, 1)) > 0.5).astype(np.float32)
    p = rng.random((3, 4, 4, 1)).astype(np.float32)
    batch_wide = as_np(L.dice_loss(y, p))
    flattened = as_np(L.dice_loss(y.reshape(1, -1, 1, 1), p.reshape(1, -1, 1, 1)))
    np.testing.assert_allclose(batch_wide, np.repeat(flattened, 3), rtol=1e-6)
    assert batch_wide.sum() / 3 == pytest.approx(float(flattened[0]), rel=1e-6)


def test_sensitivity_specificity_loss_hand_values():
    y = column([1, 0, 0, 0])
    p = column([0.5, 0.5, 0, 0])  # sensitivity term 0.25/1, specificity term 0.25/3
    got = as_np(L.sensitivity_specificity_loss(y, p, sensitivity_weight=0.05))
    np.testing.assert_allclose(got, [0.05 * 0.25 + 0.95 * 0.25 / 3], rtol=1e-5)
    # ρ weighs missed positives: all-background costs ρ, all-foreground 1 - ρ
    assert as_np(L.sensitivity_specificity_loss(y, np.zeros_like(y), 0.05)) == pytest.approx([0.05], rel=1e-5)
    assert as_np(L.sensitivity_specificity_loss(y, np.ones_like(y), 0.05)) == pytest.approx([0.95], rel=1e-5)
    assert as_np(L.sensitivity_specificity_loss(y, y)) == pytest.approx([0.0], abs=1e-7)


# ------------------------------------------------------------------------------------------- oulu-mass
def test_soft_jaccard_hand_values_and_empty_masks():
    y = column([1, 1, 0, 0])
    p = column([1, 0.5, 0.5, 0])  # intersection 1.5, union 2 + 2 - 1.5 = 2.5
    assert as_np(L.soft_jaccard(y, p, from_logits=False)) == pytest.approx([0.4], rel=1e-6)
    assert as_np(L.soft_jaccard(y, y, from_logits=False)) == pytest.approx([0.0], abs=1e-7)
    empty = np.zeros_like(y)
    assert as_np(L.soft_jaccard(empty, empty, from_logits=False)) == pytest.approx([0.0], abs=1e-7)
    # with logits the prediction is never exactly empty: ε = 1e-15 is far below Σσ, so an empty mask costs ≈ 1
    # (the thesis' remark that empty masks gave large minibatch losses, L1646-1648)
    sigmoid_sum = 4 * expit(-20.0)
    np.testing.assert_allclose(as_np(L.soft_jaccard(empty, np.full_like(y, -20.0))),
                               [1 - 1e-15 / (sigmoid_sum + 1e-15)], rtol=1e-6)


def test_bce_jaccard_is_the_sum_of_keras_bce_and_numpy_jaccard(rng):
    y = (rng.random((2, 5, 5, 1)) > 0.5).astype(np.float32)
    logits = rng.normal(size=(2, 5, 5, 1)).astype(np.float32)
    bce = as_np(keras.losses.BinaryCrossentropy(from_logits=True, reduction=None)(y, logits)).mean(axis=(1, 2))
    p = expit(logits.astype(np.float64))
    intersection = (p * y).sum()
    jaccard = 1 - intersection / (p.sum() + y.sum() - intersection)
    np.testing.assert_allclose(as_np(L.bce_jaccard(y, logits)), bce + jaccard, rtol=1e-5)


def test_focal_tversky_weights_hit_the_right_term():
    y = column([1, 1, 0, 0])
    only_false_negative = column([1, 0, 0, 0])  # TP 1, FN 1, FP 0
    only_false_positive = column([1, 1, 1, 0])  # TP 2, FN 0, FP 1

    def loss(p, **weights):
        return float(as_np(L.focal_tversky(y, p, from_logits=False, **weights))[0])

    # smooth 1: FN-only TI = 2 / (2 + fn_weight); FP-only TI = 3 / (3 + fp_weight)
    assert loss(only_false_negative, fn_weight=0.5) == pytest.approx(1 - 2 / 2.5, rel=1e-6)
    assert loss(only_false_negative, fn_weight=0.9) > loss(only_false_negative, fn_weight=0.5)
    assert loss(only_false_positive, fn_weight=0.9) == pytest.approx(loss(only_false_positive, fn_weight=0.5))
    assert loss(only_false_positive, fp_weight=0.7) == pytest.approx(1 - 3 / 3.7, rel=1e-6)
    assert loss(only_false_positive, fp_weight=0.9) > loss(only_false_positive, fp_weight=0.5)
    assert loss(only_false_negative, fp_weight=0.9) == pytest.approx(loss(only_false_negative, fp_weight=0.5))


def test_focal_tversky_equals_keras_tversky_with_its_weights_swapped(rng):
    y = (rng.random((2, 6, 6, 1)) > 0.5).astype(np.float32)
    p = rng.random((2, 6, 6, 1)).astype(np.float32)
    ours = as_np(L.focal_tversky(y, p, fn_weight=0.8, fp_weight=0.2, smooth=0.0, from_logits=False,
                                 batch_global=False))
    # keras.losses.tversky's `alpha` multiplies Σ(1-p)y, i.e. the false negatives
    theirs = as_np(keras.losses.tversky(y, p, alpha=0.8, beta=0.2, axis=(1, 2, 3)))
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)


def test_focal_tversky_gamma_forms_and_dice_equivalence():
    y = column([1, 1, 0, 0])
    p = column([1, 0.5, 0.5, 0])  # TP 1.5, FP 0.5, FN 0.5 → with smooth 1 and 0.5/0.5: TI = 2.5 / 3
    base = 1 - 2.5 / 3.0
    dice_smoothed = 1 - (2 * 1.5 + 2) / (2 * 1.5 + 0.5 + 0.5 + 2)  # soft Dice with +2 smoothing

    def loss(**kw):
        return float(as_np(L.focal_tversky(y, p, from_logits=False, **kw))[0])

    assert loss(**L.FOCAL_TVERSKY_B) == pytest.approx(base, rel=1e-6) == pytest.approx(dice_smoothed)
    assert loss(gamma=2.0) == pytest.approx(base ** 2, rel=1e-5)
    assert loss(gamma=1.4) < loss(gamma=1.0)  # a loss below 1 shrinks when raised to γ > 1
    assert loss(gamma=2.0, exponent_on="index") == pytest.approx(1 - (2.5 / 3) ** 2, rel=1e-6)
    assert loss(**L.FOCAL_TVERSKY_A) == pytest.approx((1 - 2.5 / (2.5 + 0.7 * 0.5 + 0.3 * 0.5)) ** 1.4, rel=1e-5)
    with pytest.raises(ConfigError):
        loss(exponent_on="both")


OVERLAP_LOSSES = [L.dice_loss, L.sensitivity_specificity_loss, L.soft_jaccard, L.bce_jaccard, L.focal_tversky]


@pytest.mark.parametrize("loss_fn", OVERLAP_LOSSES[:3] + OVERLAP_LOSSES[4:])
def test_overlap_losses_are_zero_for_a_perfect_prediction(loss_fn, rng):
    y = (rng.random((2, 4, 4, 1)) > 0.5).astype(np.float32)
    for batch_global in (True, False):
        np.testing.assert_allclose(as_np(loss_fn(y, y, from_logits=False, batch_global=batch_global)), 0, atol=1e-6)


@pytest.mark.parametrize("loss_fn", OVERLAP_LOSSES + [L.binary_cross_entropy])
def test_losses_return_one_value_per_example(loss_fn, rng):
    y = (rng.random((3, 4, 4, 1)) > 0.5).astype(np.float32)
    p = rng.random((3, 4, 4, 1)).astype(np.float32)
    assert tuple(loss_fn(y, p).shape) == (3,)
    assert tuple(L.weighted_cross_entropy(y[..., 0].astype(int), rng.normal(size=(3, 4, 4, 2))).shape) == (3,)


def test_build_loss_binds_arguments_and_rejects_unknown_names():
    y = column([1, 0, 0, 0])
    p = column([0.5, 0.5, 0, 0])
    bound = L.build_loss("sensitivity_specificity", sensitivity_weight=0.5)
    np.testing.assert_allclose(as_np(bound(y, p)), [0.5 * 0.25 + 0.5 * 0.25 / 3], rtol=1e-5)
    with pytest.raises(ConfigError):
        L.build_loss("lovasz")


# ------------------------------------------------------------------------------------------- adversarial
def test_product_input_channel_layout_and_crop():
    image = np.zeros((1, 4, 4, 3), np.float32)
    image[0, 1:3, 1:3] = [1.0, 2.0, 3.0]
    probs = np.tile(np.array([0.25, 0.75], np.float32), (1, 2, 2, 1))
    out = as_np(L.product_input(image, probs))
    assert out.shape == (1, 2, 2, 6)
    np.testing.assert_allclose(out[0, 0, 0], [0.25, 0.5, 0.75, 0.75, 1.5, 2.25])


def test_discriminator_and_generator_losses_match_keras_and_logit_difference_bce(rng):
    real = rng.normal(size=(2, 3, 3, 2)).astype(np.float32)
    fake = rng.normal(size=(2, 3, 3, 2)).astype(np.float32)
    sparse_ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)
    ones, zeros = np.ones((2, 3, 3)), np.zeros((2, 3, 3))
    expected_d = as_np(sparse_ce(ones, real)).mean(axis=(1, 2)) + as_np(sparse_ce(zeros, fake)).mean(axis=(1, 2))
    np.testing.assert_allclose(as_np(L.discriminator_loss(real, fake)), expected_d, rtol=1e-5)
    # 2-way softmax CE against "ground truth" = BCE on the logit difference
    difference = as_np(L.logit_difference(fake))
    bce_on_difference = as_np(keras.losses.BinaryCrossentropy(from_logits=True, reduction=None)(
        ones[..., None], difference[..., None])).mean(axis=(1, 2))
    np.testing.assert_allclose(as_np(L.generator_adversarial_loss(fake)), 0.1 * bce_on_difference, rtol=1e-5)


def test_adversarial_losses_hand_value_for_undecided_discriminator():
    undecided = np.zeros((1, 2, 2, 2), np.float32)
    assert as_np(L.discriminator_loss(undecided, undecided)) == pytest.approx([2 * LN2], rel=1e-6)
    assert as_np(L.generator_adversarial_loss(undecided, weight=1.0)) == pytest.approx([LN2], rel=1e-6)


def test_gradient_penalty_of_a_linear_critic_is_known_analytically(rng):
    kernel = tf.Variable(rng.normal(size=(4, 4, 3)).astype(np.float32))
    real, fake = rng.random((2, 4, 4, 3)), rng.random((2, 4, 4, 3))

    def critic(x):  # gradient w.r.t. x is the kernel, whatever x is
        return tf.reduce_sum(x * kernel, axis=[1, 2, 3])

    norm = float(tf.norm(kernel))
    with tf.GradientTape() as tape:
        penalty = L.gradient_penalty(critic, real, fake, seed=3)
        total = tf.reduce_sum(penalty)
    np.testing.assert_allclose(as_np(penalty), [10 * (norm - 1) ** 2] * 2, rtol=1e-5)
    # double back-prop to the critic weights: d/dW λ(‖W‖-1)² = 2λ(‖W‖-1) W/‖W‖, for each of the 2 examples
    gradient = tape.gradient(total, kernel)
    np.testing.assert_allclose(as_np(gradient), 2 * 2 * 10 * (norm - 1) * as_np(kernel) / norm, rtol=1e-4)


def test_gradient_penalty_averages_a_per_location_critic_map(rng):
    weights = rng.normal(size=(3,)).astype(np.float32)
    real, fake = rng.random((1, 4, 4, 3)), rng.random((1, 4, 4, 3))
    # per-location linear critic; averaged over 16 locations → gradient w/16 everywhere, norm ‖w‖·4/16
    penalty = L.gradient_penalty(lambda x: tf.reduce_sum(x * weights, axis=-1), real, fake, weight=1.0, seed=0)
    np.testing.assert_allclose(as_np(penalty), [(np.linalg.norm(weights) / 4 - 1) ** 2], rtol=1e-5)


def test_gradient_penalty_evaluates_at_the_interpolate(rng):
    real, fake = rng.random((2, 3, 3, 1)), rng.random((2, 3, 3, 1))
    epsilon = np.array([0.25, 0.9])
    interpolate = epsilon[:, None, None, None] * real + (1 - epsilon[:, None, None, None]) * fake
    # critic ½‖x‖² has gradient x: the penalty is λ(‖x̂‖-1)²
    penalty = L.gradient_penalty(lambda x: 0.5 * tf.reduce_sum(x * x, axis=[1, 2, 3]), real, fake, epsilon=epsilon)
    expected = 10 * (np.linalg.norm(interpolate.reshape(2, -1), axis=1) - 1) ** 2
    np.testing.assert_allclose(as_np(penalty), expected, rtol=1e-5)


def test_gradient_penalty_draws_are_seeded(rng):
    real, fake = rng.random((4, 3, 3, 1)), rng.random((4, 3, 3, 1))

    def critic(x):
        return 0.5 * tf.reduce_sum(x * x, axis=[1, 2, 3])

    same = [as_np(L.gradient_penalty(critic, real, fake, seed=7)) for _ in range(2)]
    np.testing.assert_array_equal(*same)
    generator = keras.random.SeedGenerator(7)
    step = tf.function(lambda: L.gradient_penalty(critic, real, fake, seed=generator))
    fresh = [as_np(step()) for _ in range(2)]  # a SeedGenerator advances between calls of a traced step
    assert not np.allclose(*fresh)
    replay = L.gradient_penalty(critic, real, fake, seed=keras.random.SeedGenerator(7))
    np.testing.assert_allclose(as_np(replay), fresh[0], rtol=1e-6)
