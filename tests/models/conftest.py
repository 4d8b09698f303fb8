"""Shared checks for the model-zoo tests: one forward pass and one optimiser step on a tiny batch."""
import numpy as np
import pytest


def _target_like(output_shape, rng, sigmoid: bool):
    shape = (2, *output_shape[1:])
    if sigmoid:
        return rng.integers(0, 2, size=shape).astype("float32")
    return rng.integers(0, shape[-1], size=shape[:-1]).astype("int32")


def forward_and_train_step(model, rng, *, sigmoid: bool = False, from_logits: bool = True):
    """Run a forward pass and one SGD step; return the forward output.

    Asserts the output shape, that the loss is finite and that the step moved at least one trainable weight:
    a model whose gradients do not reach its weights fails here.
    """
    import keras

    x = rng.standard_normal((2, *model.input_shape[1:])).astype("float32")
    y = _target_like(model.output_shape, rng, sigmoid)
    out = keras.ops.convert_to_numpy(model(x, training=False))
    assert out.shape == (2, *model.output_shape[1:])
    assert np.all(np.isfinite(out))
    loss = (keras.losses.BinaryCrossentropy(from_logits=from_logits) if sigmoid
            else keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits))
    # One step: eager execution skips graph tracing, which costs more than the step itself at this size.
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss=loss, run_eagerly=True)
    before = [keras.ops.convert_to_numpy(w).copy() for w in model.trainable_weights]
    value = model.train_on_batch(x, y)
    value = float(np.ravel(value)[0])
    assert np.isfinite(value)
    after = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
    assert any(not np.array_equal(b, a) for b, a in zip(before, after)), "training step changed no weight"
    return out


def layer_shapes(model, names):
    """{layer name: output shape without the batch axis} for the named layers."""
    return {name: tuple(model.get_layer(name).output.shape[1:]) for name in names}


@pytest.fixture
def train_step():
    return forward_and_train_step


@pytest.fixture
def shapes_of():
    return layer_shapes


@pytest.fixture(autouse=True)
def _fresh_keras_session():
    """Seed and reset Keras' name counters per test so weights and auto-names are reproducible.

    free_memory=False skips the gc.collect() that would cost ~0.2 s per test on this shared machine.
    """
    import keras

    keras.backend.clear_session(free_memory=False)
    keras.utils.set_random_seed(0)
