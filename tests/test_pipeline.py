import numpy as np
import pytest
import tensorflow as tf

from mammoseg.data.pipeline import PipelineConfig, eval_dataset, intensity_max, train_dataset
from mammoseg.errors import ConfigError


def _crops(rng, n=6, s=24):
    labels = rng.integers(0, 4, size=(n, s, s)).astype(np.uint8)
    images = (labels.astype(np.uint16) * 1000 + rng.integers(0, 50, size=(n, s, s))).astype(np.uint16)
    return images, labels


def test_intensity_max_rounds_to_bit_depth():
    assert intensity_max(np.array([0, 4000])) == 4095
    assert intensity_max(np.array([0, 255], np.uint8)) == 255


def test_train_batches_shapes_range_and_alignment(rng):
    images, labels = _crops(rng)
    cfg = PipelineConfig(input_size=16, batch_size=2, max_value=4095, contrast_p=0.0, seed=3)
    for x, y in train_dataset(images, labels, cfg).take(6):
        assert x.shape == (2, 16, 16, 3) and y.shape == (2, 16, 16) and x.dtype == tf.float32
        x, y = x.numpy(), y.numpy()
        assert x.min() >= -0.5 and x.max() <= 0.5
        np.testing.assert_array_equal(x[..., 0], x[..., 2])  # gray -> RGB replicates the channel
        # image was label*1000 + noise: the label is recoverable from the augmented image -> aligned
        np.testing.assert_array_equal(np.floor((x[..., 0] + 0.5) * 4095 / 1000 + 1e-6).astype(int), y)


def test_epochs_are_reproducible_and_resumable(rng):
    images, labels = _crops(rng)
    cfg = PipelineConfig(input_size=16, batch_size=2, max_value=4095, seed=5)
    full = [x.numpy() for x, _ in train_dataset(images, labels, cfg).take(9)]  # 3 epochs of 3 steps
    resumed = [x.numpy() for x, _ in train_dataset(images, labels, cfg, start_epoch=2).take(3)]
    for a, b in zip(full[6:], resumed):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(full[0], full[3])  # a new epoch shuffles/augments differently


def test_eval_dataset_centre_crop_and_errors(rng):
    images, labels = _crops(rng, n=5)
    cfg = PipelineConfig(input_size=16, batch_size=2, max_value=4095)
    ys = np.concatenate([y.numpy() for _, y in eval_dataset(images, labels, cfg)])
    np.testing.assert_array_equal(ys, labels[:, 4:20, 4:20])
    with pytest.raises(ConfigError, match="smaller than the model input"):
        eval_dataset(images, labels, PipelineConfig(input_size=32, batch_size=2, max_value=4095))


def test_distributes_over_two_replicas(rng):
    devices = tf.config.list_logical_devices("CPU")
    if len(devices) < 2:
        pytest.skip("needs 2 logical CPU devices")
    strategy = tf.distribute.MirroredStrategy([d.name for d in devices[:2]])
    images, labels = _crops(rng)
    cfg = PipelineConfig(input_size=16, batch_size=4, max_value=4095)
    dist = iter(strategy.experimental_distribute_dataset(train_dataset(images, labels, cfg)))
    x, _ = next(dist)
    assert [t.shape[0] for t in strategy.experimental_local_results(x)] == [2, 2]
