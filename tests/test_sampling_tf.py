import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from mammoseg.data.pipeline import (ClassifierPipelineConfig, CropPipelineConfig, classification_dataset,
                                    crop_dataset)
from mammoseg.data.sampling import UNIFORM_FALLBACK
from mammoseg.data.sampling_tf import (CentreIndex, ClassBalancedIndex, class_balanced_centre,
                                       forced_foreground_slots, uniform_centre)
from mammoseg.errors import DataError

P_MIN = 1e-3  # chi-square tests reject only below this p-value (seeds are fixed, so a pass is reproducible)


def _seeds(n, salt=0):
    return tf.stack([tf.fill([n], tf.constant(salt, tf.int64)), tf.range(n, dtype=tf.int64)], axis=1)


def _draw_many(fn, n, salt=0, outputs=3):
    """fn(seed) -> tuple of int64 scalars, for n seeds, as numpy arrays (one traced loop, not n eager calls)."""
    signature = (tf.int64,) * outputs
    out = tf.function(lambda seeds: tf.map_fn(fn, seeds, fn_output_signature=signature))(_seeds(n, salt))
    return [o.numpy() for o in out]


def _label_map():
    """Background 0 and gland 12 (excluded) everywhere; class 3 on 4 pixels, class 5 on a block, class 7 large."""
    label = np.zeros((40, 50), np.uint8)
    label[:, 25:] = 12
    label[2, 3] = label[2, 4] = label[30, 45] = label[39, 0] = 3
    label[10:20, 10:20] = 5
    label[25:40, 20:45] = 7
    return label


def _check_class_balance_and_centres(label, cy, cx, chosen):
    values, counts = np.unique(chosen, return_counts=True)
    assert values.tolist() == [3, 5, 7]  # every eligible class, never background 0 or gland 12
    assert stats.chisquare(counts).pvalue > P_MIN
    np.testing.assert_array_equal(label[cy, cx], chosen)  # the centre pixel holds the chosen label
    # within a class, each pixel equally likely: class 3's four pixels
    rare = np.unique(cy[chosen == 3] * 50 + cx[chosen == 3], return_counts=True)[1]
    assert len(rare) == 4 and stats.chisquare(rare).pvalue > P_MIN


def test_dense_class_balanced_centre_follows_the_thesis_rule():
    label = _label_map()
    cy, cx, chosen = _draw_many(lambda s: class_balanced_centre(label, s), 900)
    _check_class_balance_and_centres(label, cy, cx, chosen)


def test_indexed_centres_follow_the_same_rule_on_maps_of_any_size():
    label = _label_map()
    index = CentreIndex([np.zeros((7, 9), np.uint8), label])
    cy, cx, chosen = _draw_many(lambda s: index.centre(1, s), 900, salt=1)
    _check_class_balance_and_centres(label, cy, cx, chosen)


@pytest.mark.parametrize("use_index", [False, True])
def test_uniform_fallback_without_eligible_labels(use_index):
    label = np.zeros((6, 8), np.uint8)
    label[:, 4:] = 12  # only background and gland
    if use_index:
        index = CentreIndex([label])
        cy, cx, chosen = _draw_many(lambda s: index.centre(0, s), 960)
    else:
        cy, cx, chosen = _draw_many(lambda s: class_balanced_centre(label, s), 960)
    assert (chosen == UNIFORM_FALLBACK).all()
    counts = np.bincount(cy * 8 + cx, minlength=48)
    assert stats.chisquare(counts).pvalue > P_MIN


def test_uniform_centre_is_uniform_and_seeded():
    cy, cx = _draw_many(lambda s: uniform_centre(3, 4, s), 1200, outputs=2)
    counts = np.bincount(cy * 4 + cx, minlength=12)
    assert stats.chisquare(counts).pvalue > P_MIN
    a = uniform_centre(1000, 1000, tf.constant([1, 2], tf.int64))
    b = uniform_centre(1000, 1000, tf.constant([1, 2], tf.int64))
    assert [int(v) for v in a] == [int(v) for v in b]


def test_same_seed_same_centre_other_positions_differ():
    label = _label_map()
    index = CentreIndex([label])
    first = [int(v) for v in index.centre(0, tf.constant([4, 9], tf.int64))]
    assert first == [int(v) for v in index.centre(0, tf.constant([4, 9], tf.int64))]
    cy, cx, _ = _draw_many(lambda s: index.centre(0, s), 50, salt=4)
    assert len(set(zip(cy.tolist(), cx.tolist()))) > 25


def test_index_rejects_bad_label_maps():
    with pytest.raises(DataError, match="2-D integer"):
        CentreIndex([np.zeros((4, 4), np.float32)])


# ------------------------------------------------------------------------------------------------ foreground
def test_forced_foreground_slot_counts_follow_nnunet():
    # nnU-Net v2: slot i forced iff i >= round(B * (1 - p))
    assert forced_foreground_slots(2, 0.33) == 1
    assert forced_foreground_slots(8, 0.33) == 3
    assert forced_foreground_slots(4, 0.5) == 2
    assert forced_foreground_slots(5, 0.0) == 0 and forced_foreground_slots(5, 1.0) == 5


def test_foreground_oversampling_fraction_per_batch_is_exact():
    """Foreground covers 1% of each image; the last 3 of 8 slots of every batch are centred on it, always."""
    labels = []
    for s in range(3):
        label = np.zeros((50, 60), np.uint8)
        label[10 + s:13 + s, 20:30] = 1  # 30 px of 3000
        labels.append(label)
    images = [lab.astype(np.float32) for lab in labels]
    cfg = CropPipelineConfig(crop_size=9, batch_size=8, max_value=1.0, sampler="foreground", exclude_ids=(0,),
                             foreground_fraction=0.33, elastic_p=0.0, flip_p=0.0, contrast_p=0.0, rgb=False,
                             crops_per_image=16, seed=2)
    on_foreground = np.array([y.numpy()[:, 4, 4] == 1 for _, y in crop_dataset(images, labels, cfg).take(10)])
    assert on_foreground[:, 5:].all()  # forced slots: every one
    assert on_foreground[:, :5].mean() < 0.1  # free slots: about the 1% foreground area


def test_class_balanced_crop_pipeline_centres_hold_eligible_labels():
    label = _label_map()
    cfg = CropPipelineConfig(crop_size=7, batch_size=8, max_value=1.0, elastic_p=0.0, flip_p=0.0, contrast_p=0.0,
                             rgb=False, crops_per_image=64, seed=5)
    centres = np.concatenate([y.numpy()[:, 3, 3] for _, y in
                              crop_dataset([label.astype(np.float32)], [label], cfg).take(8)])
    counts = np.unique(centres, return_counts=True)
    assert counts[0].tolist() == [3, 5, 7] and stats.chisquare(counts[1]).pvalue > P_MIN


# ------------------------------------------------------------------------------------------------ classification
def test_class_balanced_examples_have_equal_class_counts_in_expectation():
    class_ids = np.array([0] * 60 + [1] * 10 + [2] * 2)
    index = ClassBalancedIndex(class_ids)
    examples, classes = _draw_many(index.draw, 1500, salt=7, outputs=2)
    np.testing.assert_array_equal(class_ids[examples], classes)
    assert stats.chisquare(np.bincount(classes, minlength=3)).pvalue > P_MIN
    rare = np.bincount(examples[classes == 1] - 60, minlength=10)  # examples of a class equally likely
    assert stats.chisquare(rare).pvalue > P_MIN


def test_classification_batches_are_balanced_flipped_rotated_and_resumable():
    class_ids = np.array([0] * 9 + [1] * 3 + [2] * 1)
    images = np.zeros((13, 24, 24), np.uint8)
    images[:, 8:16, 8:16] = (class_ids * 80 + 40)[:, None, None]  # a centred square coding the class
    cfg = ClassifierPipelineConfig(batch_size=10, steps_per_epoch=3, max_value=255.0, seed=1)
    batches = [(x.numpy(), y.numpy()) for x, y in classification_dataset(images, class_ids, cfg).take(12)]
    ys = np.concatenate([y for _, y in batches])
    assert stats.chisquare(np.bincount(ys, minlength=3)).pvalue > P_MIN
    for x, y in batches:
        assert x.shape == (10, 24, 24, 1) and 0 <= x.min() and x.max() <= 1
        # the square's centre survives a 5 degree rotation and a flip, and carries the label's code
        np.testing.assert_allclose(x[:, 12, 12, 0] * 255, y * 80 + 40, atol=1e-3)
    resumed = next(iter(classification_dataset(images, class_ids, cfg, start_epoch=2)))
    np.testing.assert_array_equal(resumed[0].numpy(), batches[6][0])


def test_classification_with_in_pipeline_clahe_matches_opencv():
    cv2 = pytest.importorskip("cv2")
    rng = np.random.default_rng(0)
    images = rng.integers(0, 200, (2, 32, 32)).astype(np.uint8)
    cfg = ClassifierPipelineConfig(batch_size=2, steps_per_epoch=1, max_value=255.0, clahe_clip=2.0,
                                   clahe_grid=(4, 4), max_rotation_deg=0.0, flip_p=0.0)
    x, y = next(iter(classification_dataset(images, [0, 1], cfg)))
    for image, cls in zip(x.numpy()[..., 0], y.numpy()):
        expected = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(4, 4)).apply(images[cls])
        np.testing.assert_allclose(image * 255, expected, atol=1e-3)
