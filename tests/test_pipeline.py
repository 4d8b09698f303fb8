import sys

import numpy as np
import pytest
import tensorflow as tf

from mammoseg.data.pipeline import PipelineConfig, eval_dataset, intensity_max, steps_per_epoch, train_dataset
from mammoseg.errors import ConfigError
from mammoseg.io.store import CropStoreWriter, open_crop_store


def _crops(rng, n=6, s=24):
    labels = rng.integers(0, 4, size=(n, s, s)).astype(np.uint8)
    images = (labels.astype(np.uint16) * 1000 + rng.integers(0, 50, size=(n, s, s))).astype(np.uint16)
    return images, labels


def _write_store(path, crops, crop_size, layout="contiguous"):
    """Write uint16 / uint8 (image, label) crops to a crop store with placeholder manifest rows."""
    with CropStoreWriter(path, crop_size, np.uint16, layout=layout) as writer:
        for index, (image, label) in enumerate(crops):
            writer.append(image, label, case="case", split="train", index=index, cy=0, cx=0, chosen_id=-1,
                          elastic=False, seed=index)
    return path


def _arrays(dataset, count=None):
    batches = dataset if count is None else dataset.take(count)
    return [(x.numpy(), y.numpy()) for x, y in batches]


def _assert_same_batches(expected, actual):
    assert len(expected) == len(actual)
    for (xe, ye), (xa, ya) in zip(expected, actual):
        np.testing.assert_array_equal(xa, xe)
        np.testing.assert_array_equal(ya, ye)


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
    batches = _arrays(eval_dataset(images, labels, cfg))
    assert [len(y) for _, y in batches] == [2, 2, 1]
    xs, ys = np.concatenate([x for x, _ in batches]), np.concatenate([y for _, y in batches])
    np.testing.assert_array_equal(ys, labels[:, 4:20, 4:20])
    expected = images[:, 4:20, 4:20].astype(np.float32) / np.float32(4095) - np.float32(0.5)
    np.testing.assert_array_equal(xs, np.repeat(expected[..., None], 3, axis=-1))
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


@pytest.mark.parametrize("layout", ["contiguous", "chunked"])
def test_streamed_store_gives_the_in_memory_batches(tmp_path, rng, layout):
    """memmap (contiguous) and h5py (chunked) streaming: the same examples, order and augmentation, bit for bit."""
    images, labels = _crops(rng, n=7)
    store = open_crop_store(_write_store(tmp_path / "crops.h5", zip(images, labels), 24, layout))
    assert type(store.images) is not np.ndarray  # really on disk
    cfg = PipelineConfig(input_size=16, batch_size=2, max_value=4095, seed=11)  # 3 steps per epoch, 1 crop left out
    for start_epoch, steps in ((0, 7), (2, 4)):  # crosses epoch boundaries; the second one is a resumed run
        _assert_same_batches(_arrays(train_dataset(images, labels, cfg, start_epoch), steps),
                             _arrays(train_dataset(store.images, store.labels, cfg, start_epoch), steps))
    _assert_same_batches(_arrays(eval_dataset(images, labels, cfg)),
                         _arrays(eval_dataset(store.images, store.labels, cfg)))


def _rss_anon_bytes() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("RssAnon:"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_streaming_a_50mb_store_does_not_load_it(tmp_path, rng):
    """A full epoch and a validation pass over a ~50 MB store grow private memory by far less than the store.

    File pages of the memmap are page cache (RssFile), reclaimable by the OS; RssAnon is what an in-memory load
    (or a tf.constant copy) would grow, as the final check shows.
    """
    n, size = 256, 256
    crops = ((label.astype(np.uint16) * 1000, label)
             for label in (rng.integers(0, 4, (size, size), dtype=np.uint8) for _ in range(n)))
    path = _write_store(tmp_path / "big.h5", crops, size)
    store, store_bytes = open_crop_store(path), n * size * size * 3  # 48 MiB of uint16 images + uint8 labels
    assert path.stat().st_size >= store_bytes
    steps = steps_per_epoch(n, 16)

    def one_epoch_and_validation(seed):
        cfg = PipelineConfig(input_size=32, batch_size=16, max_value=4095, seed=seed)
        for _ in train_dataset(store.images, store.labels, cfg).take(steps):
            pass
        for _ in eval_dataset(store.images, store.labels, cfg):
            pass

    one_epoch_and_validation(seed=0)  # TensorFlow's one-off allocations (thread pools, kernels) are not the store
    before = _rss_anon_bytes()
    one_epoch_and_validation(seed=1)
    assert _rss_anon_bytes() - before < store_bytes / 4
    loaded = np.array(store.images)  # the probe does see a load of the crops
    assert _rss_anon_bytes() - before > 0.8 * loaded.nbytes
