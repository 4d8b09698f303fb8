"""Trainer mechanics: logs (CSV, TensorBoard, curve, progress line), tracing once, schedules inside fit, mixed
precision and XLA switches."""
import csv

import keras
import numpy as np
import pytest
import tensorflow as tf

from mammoseg.train.config import TrainConfig
from mammoseg.train.distribute import make_strategy, smoke_train
from mammoseg.train.loop import Trainer, make_optimizer


def _need(n):
    if len(tf.config.list_logical_devices("CPU")) < n:
        pytest.skip(f"needs {n} logical CPU devices")


def _scalars(event_dir):
    values = {}
    for path in event_dir.glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                values.setdefault(value.tag, {})[event.step] = float(tf.make_ndarray(value.tensor))
    return values


def test_fit_logs_traces_once_and_follows_the_exponential_schedule(tmp_path, capsys):
    _need(2)
    # kth-cls style: lr x0.75 per epoch, continuously per step; 16 examples / batch 4 = 4 steps per epoch.
    trainer, result = smoke_train(tmp_path, epochs=2, strategy=make_strategy("mirrored", 2), optimizer="adam",
                                  epsilon=1e-8, lr_schedule="exponential", lr_factor=0.75, early_stopping=False,
                                  monitor="last", progress=True)
    assert trainer.tracing_counts() == {"train": 1, "eval": 1}  # 8 steps, 2 validations, 2 replicas
    lrs = [row["learning_rate"] for row in result.history]
    np.testing.assert_allclose(lrs, [0.05 * 0.75 ** (3 / 4), 0.05 * 0.75 ** (7 / 4)], rtol=1e-12)
    assert float(trainer.optimizer.learning_rate.numpy()) == pytest.approx(lrs[-1], rel=1e-6)
    assert result.best_epoch == 2  # monitor "last": the final weights are the kept ones
    with open(tmp_path / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and {"val_mean_dice", "val_mean_sensitivity", "val_mean_specificity",
                               "val_mean_one_vs_all_accuracy", "images_per_second"} <= set(rows[0])
    scalars = _scalars(tmp_path / "tensorboard")
    assert scalars["val_loss"] == pytest.approx({1: result.history[0]["val_loss"], 2: result.history[1]["val_loss"]})
    assert scalars["learning_rate"][2] == pytest.approx(lrs[-1], rel=1e-6)
    assert (tmp_path / "training_curve.png").stat().st_size > 1000
    out = capsys.readouterr().out
    assert "epoch 2: train_loss" in out and "img/s" in out


def _tiny_trainer(tmp_path, **cfg):
    def model():
        inputs = keras.Input((8, 8, 3))
        x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
        return keras.Model(inputs, keras.layers.Conv2D(3, 1)(x))

    def loss(y, outputs):
        ce = keras.losses.sparse_categorical_crossentropy(y, tf.cast(outputs, tf.float32), from_logits=True)
        return tf.reduce_mean(ce, axis=[1, 2])

    config = TrainConfig(batch_size=4, learning_rate=0.1, seed=5, progress=False, **cfg)
    return Trainer(model, loss, config, tmp_path, 3, strategy=make_strategy("mirrored", 1))


def _batches(rng):
    x = rng.normal(size=(12, 8, 8, 3)).astype("float32")
    y = rng.integers(0, 3, size=(12, 8, 8)).astype("int32")
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(4)


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_switch(tmp_path, rng, policy):
    data = _batches(rng)
    reference = _tiny_trainer(tmp_path / "fp32")
    trainer = _tiny_trainer(tmp_path / policy, mixed_precision=policy)
    assert keras.mixed_precision.global_policy().name == "float32"  # only the model was built under the policy
    conv = trainer.model.layers[1]
    assert conv.compute_dtype == policy.split("_")[1] and conv.kernel.dtype == "float32"
    assert isinstance(trainer.optimizer, keras.optimizers.LossScaleOptimizer) == (policy == "mixed_float16")
    loss, ref_loss = trainer.run_steps(data, 3), reference.run_steps(data, 3)
    assert np.isfinite(loss) and loss == pytest.approx(ref_loss, rel=0.05)
    assert np.isfinite(trainer.evaluate(data)["loss"])


def test_xla_switch_gives_the_same_steps(tmp_path, rng):
    data = _batches(rng)
    plain, xla = _tiny_trainer(tmp_path / "plain"), _tiny_trainer(tmp_path / "xla", jit_compile=True)
    assert plain.run_steps(data, 3) == pytest.approx(xla.run_steps(data, 3), rel=1e-5)
    for a, b in zip(plain.model.get_weights(), xla.model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_optimizers_take_the_thesis_settings():
    adam = make_optimizer(TrainConfig(optimizer="adam", learning_rate=5e-5, epsilon=1e-8))
    assert (type(adam).__name__, adam.epsilon, adam.beta_1, adam.beta_2) == ("Adam", 1e-8, 0.9, 0.999)
    rms = make_optimizer(TrainConfig(optimizer="rmsprop", rho=0.9))
    assert (type(rms).__name__, rms.rho, rms.epsilon) == ("RMSprop", 0.9, 1e-7)
    sgd = make_optimizer(TrainConfig(momentum=0.0), learning_rate=1e-6)
    assert (type(sgd).__name__, sgd.momentum, float(sgd.learning_rate.numpy())) == ("SGD", 0.0, pytest.approx(1e-6))
