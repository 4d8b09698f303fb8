import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from mammoseg.data.pipeline import PipelineConfig, eval_dataset, steps_per_epoch, train_dataset
from mammoseg.train.config import TrainConfig
from mammoseg.train.distribute import make_strategy
from mammoseg.train.loop import Trainer

NUM_CLASSES = 3


def _tiny_model():
    inp = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inp)
    out = keras.layers.Conv2D(NUM_CLASSES, 1)(x)
    return keras.Model(inp, out)


def _per_example_ce(labels, logits):
    ce = keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
    return tf.reduce_mean(ce, axis=[1, 2])


def _data(seed=0, n=8, s=20):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, NUM_CLASSES, size=(n, s, s)).astype(np.uint8)
    images = (labels.astype(np.uint16) * 1000 + rng.integers(0, 400, size=(n, s, s))).astype(np.uint16)
    return images, labels


def _strategy(n):
    if len(tf.config.list_logical_devices("CPU")) < n:
        pytest.skip(f"needs {n} logical CPU devices")
    return make_strategy("mirrored", n)  # shared per device set (see mammoseg.train.distribute)


def _run(tmp, epochs, replicas=2, resume=True, **cfg_kw):
    images, labels = _data()
    pcfg = PipelineConfig(input_size=16, batch_size=4, max_value=4095, seed=1)
    cfg = TrainConfig(epochs=epochs, batch_size=4, learning_rate=0.05, seed=7, progress=False, **cfg_kw)
    trainer = Trainer(_tiny_model, _per_example_ce, cfg, tmp, NUM_CLASSES, strategy=_strategy(replicas))
    result = trainer.fit(lambda e: train_dataset(images, labels, pcfg, start_epoch=e),
                         lambda: eval_dataset(images, labels, pcfg), steps_per_epoch(len(images), 4), resume=resume)
    return trainer, result


def test_trains_on_two_replicas_and_writes_run_files(tmp_path):
    trainer, result = _run(tmp_path, epochs=4)
    hist = result.history
    assert len(hist) == 4 and hist[-1]["train_loss"] < hist[0]["train_loss"]
    for name in ("metrics.csv", "training_curve.png", "best.weights.h5", "checkpoints/latest"):
        assert (tmp_path / name).exists(), name
    state = json.loads((trainer.ckpt.latest() / "state.json").read_text())
    assert state["epoch"] == 4


def test_resume_gives_same_weights_as_uninterrupted(tmp_path):
    full, _ = _run(tmp_path / "full", epochs=3)
    _run(tmp_path / "split", epochs=2)  # "killed" after epoch 2
    resumed, result = _run(tmp_path / "split", epochs=3)
    assert result.epochs_run == 3
    for a, b in zip(full.model.get_weights(), resumed.model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    for a, b in zip(full.optimizer.variables, resumed.optimizer.variables):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-7)


def test_one_and_two_replicas_agree_for_same_global_batch(tmp_path):
    one, _ = _run(tmp_path / "one", epochs=2, replicas=1)
    two, _ = _run(tmp_path / "two", epochs=2, replicas=2)
    for a, b in zip(one.model.get_weights(), two.model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_lr_halving_and_early_stopping(tmp_path):
    # A learning rate of 0 never improves the validation loss after epoch 1: LR halves every 2 epochs, stop at 5.
    images, labels = _data()
    pcfg = PipelineConfig(input_size=16, batch_size=4, max_value=4095, seed=1)
    cfg = TrainConfig(epochs=20, batch_size=4, learning_rate=1e-6, patience=5, lr_patience=2, min_delta=1e-3,
                      seed=7, progress=False)
    trainer = Trainer(_tiny_model, _per_example_ce, cfg, tmp_path, NUM_CLASSES, strategy=_strategy(1))
    result = trainer.fit(lambda e: train_dataset(images, labels, pcfg, start_epoch=e),
                         lambda: eval_dataset(images, labels, pcfg), 2)
    # A tiny LR never improves the validation loss by min_delta after epoch 1: the LR halves after every
    # 2 epochs without improvement and training stops after 5 of them.
    assert result.stopped_early and result.epochs_run == 6 and result.best_epoch == 1
    lrs = [h["learning_rate"] for h in result.history]
    np.testing.assert_allclose(lrs, [1e-6, 1e-6, 1e-6, 5e-7, 5e-7, 2.5e-7], rtol=1e-5)
