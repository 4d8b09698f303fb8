"""Distribution: N replicas = 1 replica for the same global batch; two worker processes under
MultiWorkerMirroredStrategy (TF_CONFIG on 127.0.0.1) end with identical weights and only the chief writes."""
import os
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from mammoseg.errors import ConfigError
from mammoseg.train.config import TrainConfig
from mammoseg.train.distribute import (free_ports, is_chief, make_strategy, smoke_train, tf_config,
                                       uses_logical_cpus)
from mammoseg.train.loop import Trainer

TIMEOUT_S = 300
EPOCHS = 2


def _need(n):
    if len(tf.config.list_logical_devices("CPU")) < n:
        pytest.skip(f"needs {n} logical CPU devices")


def test_multi_worker_run_matches_across_workers_and_single_device(tmp_path):
    ports = free_ports(2)
    workers = [f"127.0.0.1:{p}" for p in ports]
    procs = []
    try:
        for index in range(2):
            env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="",
                       TF_CONFIG=tf_config(workers, index))
            cmd = [sys.executable, "-m", "mammoseg.train.distribute", "--out", str(tmp_path / f"worker{index}"),
                   "--weights-out", str(tmp_path / f"worker{index}.npz"), "--epochs", str(EPOCHS),
                   "--strategy", "multi_worker"]
            procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        deadline = time.monotonic() + TIMEOUT_S
        outputs = [p.communicate(timeout=max(1.0, deadline - time.monotonic())) for p in procs]
    finally:
        for p in procs:  # a worker whose peer died blocks in a collective: never leave it behind
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, (out, err) in zip(procs, outputs):
        assert p.returncode == 0, err[-3000:]
    assert "replicas 2, chief True" in outputs[0][0] and "replicas 2, chief False" in outputs[1][0]
    with np.load(tmp_path / "worker0.npz") as a, np.load(tmp_path / "worker1.npz") as b:
        workers_weights = [a[k] for k in a.files]
        for key in a.files:
            np.testing.assert_array_equal(a[key], b[key])
    # Only the chief writes run files.
    chief, other = tmp_path / "worker0", tmp_path / "worker1"
    assert (chief / "checkpoints" / "latest").exists() and (chief / "metrics.csv").exists()
    assert not other.exists() or not any(other.iterdir())
    # And the two workers' global batch of 4 (2 + 2) gives the single-device result.
    trainer, _ = smoke_train(tmp_path / "single", epochs=EPOCHS, strategy=make_strategy("mirrored", 1))
    for got, want in zip(workers_weights, trainer.model.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def _wd_trainer(tmp_path, replicas, on):
    def model():
        inputs = keras.Input((8, 8, 3))
        return keras.Model(inputs, keras.layers.Conv2D(2, 3, padding="same")(inputs))

    def loss(y, outputs):
        ce = keras.losses.sparse_categorical_crossentropy(y, outputs, from_logits=True)
        return tf.reduce_mean(ce, axis=[1, 2])

    cfg = TrainConfig(batch_size=4, learning_rate=0.1, momentum=0.9, weight_decay=0.05, weight_decay_on=on,
                      seed=3, progress=False)
    return Trainer(model, loss, cfg, tmp_path, 2, strategy=make_strategy("mirrored", replicas))


def test_weight_decay_and_loss_scaling_agree_on_one_and_two_replicas(tmp_path, rng):
    _need(2)
    x = rng.normal(size=(16, 8, 8, 3)).astype("float32")
    y = rng.integers(0, 2, size=(16, 8, 8)).astype("int32")
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(4)
    results = {}
    for replicas in (1, 2):
        trainer = _wd_trainer(tmp_path / str(replicas), replicas, "all")
        loss = trainer.run_steps(data, 4)
        results[replicas] = (loss, trainer.model.get_weights())
        assert trainer.tracing_counts() == {"train": 1, "eval": 0}  # one trace for all 4 batches
    assert results[1][0] == pytest.approx(results[2][0], rel=1e-5)
    for a, b in zip(results[1][1], results[2][1]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_weight_decay_by_hand(tmp_path):
    # Zero data gradient (all-zero loss): one SGD step (momentum 0.9, first step = plain) gives
    # w <- w - lr * wd * w on the decayed variables and leaves the others alone.
    for on, bias_decays in (("kernels", False), ("all", True)):
        trainer = _wd_trainer(tmp_path / on, 1, on)
        trainer.loss_fn = lambda y, outputs: 0.0 * tf.reduce_sum(outputs, axis=[1, 2, 3])
        kernel, bias = (w.numpy() for w in trainer.model.layers[-1].weights)
        bias += 1.0
        trainer.model.layers[-1].bias.assign(bias)
        data = tf.data.Dataset.from_tensor_slices((np.zeros((4, 8, 8, 3), "float32"),
                                                   np.zeros((4, 8, 8), "int32"))).batch(4)
        trainer.run_steps(data, 1)
        new_kernel, new_bias = (w.numpy() for w in trainer.model.layers[-1].weights)
        np.testing.assert_allclose(new_kernel, kernel * (1 - 0.1 * 0.05), rtol=1e-6)
        np.testing.assert_allclose(new_bias, bias * (1 - 0.1 * 0.05) if bias_decays else bias, rtol=1e-6)


def test_strategy_helpers(tmp_path):
    _need(2)
    assert make_strategy("mirrored", 2) is make_strategy("mirrored", 2)  # one strategy per device set
    assert uses_logical_cpus(make_strategy("mirrored", 2)) and not uses_logical_cpus(make_strategy("mirrored", 1))
    assert is_chief(make_strategy("mirrored", 2))
    with pytest.raises(ConfigError, match="XLA"):
        _jit_trainer(tmp_path, 2)
    with pytest.raises(ConfigError):
        make_strategy("mirrored", 64)


def _jit_trainer(run_dir, replicas):
    def model():
        inputs = keras.Input((8, 8, 3))
        return keras.Model(inputs, keras.layers.Conv2D(2, 3, padding="same")(inputs))

    cfg = TrainConfig(batch_size=4, jit_compile=True, progress=False)
    return Trainer(model, lambda y, o: tf.reduce_mean(o, axis=[1, 2, 3]), cfg, run_dir, 2,
                   strategy=make_strategy("mirrored", replicas))


def test_evaluation_with_a_partial_last_batch_is_exact_on_two_replicas(tmp_path, rng):
    _need(2)
    x = rng.normal(size=(9, 8, 8, 3)).astype("float32")  # batches of 4, 4, 1: one replica gets no example
    y = rng.integers(0, 2, size=(9, 8, 8)).astype("int32")
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(4)
    one, two = _wd_trainer(tmp_path / "one", 1, "kernels"), _wd_trainer(tmp_path / "two", 2, "kernels")
    two.model.set_weights(one.model.get_weights())
    a, b = one.evaluate(data), two.evaluate(data)
    np.testing.assert_array_equal(a["confusion_matrix"], b["confusion_matrix"])
    assert a["confusion_matrix"].sum() == 9 * 64 and a["loss"] == pytest.approx(b["loss"], rel=1e-6)
