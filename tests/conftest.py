"""Test set-up. Runs at import time, before TensorFlow initialises its devices.

Two logical CPU devices let the distribution tests exercise MirroredStrategy on a laptop/CI machine.
"""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

if os.environ["KERAS_BACKEND"] == "tensorflow":
    import tensorflow as tf  # noqa: E402

    _cpus = tf.config.list_physical_devices("CPU")
    try:
        tf.config.set_logical_device_configuration(
            _cpus[0], [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
    except RuntimeError:  # already initialised by a plugin: distribution tests skip themselves
        pass


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
