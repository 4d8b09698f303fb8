"""Sliding window beyond tests/test_sliding_window.py: 'same' models, streaming bands, labels, 1-channel models,
3-D blocks, bounded memory."""
import tracemalloc

import keras
import numpy as np
import pytest

from mammoseg.data.preprocess import assemble_blocks, block_origins, extract_block
from mammoseg.errors import ConfigError
from mammoseg.evaluate.sliding_window import (gaussian_importance, gaussian_importance_nd, iter_prediction_bands,
                                              sliding_window_labels, sliding_window_predict)


def _conv_model(shape, classes, padding, layers=2, seed=0):
    """Small fully convolutional net; `shape` may hold None (any size) for whole-image reference runs."""
    keras.utils.set_random_seed(seed)
    conv = keras.layers.Conv2D if len(shape) == 3 else keras.layers.Conv3D
    inp = keras.Input(shape)
    x = inp
    for _ in range(layers - 1):
        x = conv(4, 3, padding=padding, activation="relu")(x)
    return keras.Model(inp, conv(classes, 3, padding=padding)(x))


def _twin(model, shape):
    """Same weights, another input size."""
    other = _conv_model(shape, model.output_shape[-1], model.layers[1].padding, layers=len(model.layers) - 1)
    other.set_weights(model.get_weights())
    return other


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_same_model_on_image_of_tile_size_equals_whole_image(rng):
    model = _conv_model((24, 24, 2), 3, "same")
    image = rng.normal(size=(24, 24, 2)).astype("float32")
    whole = _softmax(keras.ops.convert_to_numpy(model(image[None]))[0])
    np.testing.assert_allclose(sliding_window_predict(model, image, overlap=0.5), whole, atol=1e-6)


def test_valid_model_bands_straddling_batches_equal_whole_image(rng):
    """Batches that span several rows of tiles, rows that overlap, an image not a multiple of the stride."""
    model = _conv_model((14, 14, 1), 4, "valid")  # output 10, margin 2
    image = rng.normal(size=(41, 23, 1)).astype("float32")
    padded = np.pad(image, ((2, 2), (2, 2), (0, 0)), mode="reflect")
    whole = _softmax(keras.ops.convert_to_numpy(_twin(model, (None, None, 1))(padded[None]))[0])
    for batch_size in (1, 5, 64):
        tops = []
        tiled = np.zeros_like(whole)
        for top, band in iter_prediction_bands(model, image, overlap=0.4, batch_size=batch_size):
            tops.append(top)
            tiled[top:top + len(band)] = band
        assert tops == sorted(tops) and tops[0] == 0
        np.testing.assert_allclose(tiled, whole, atol=1e-5)


def test_labels_equal_argmax_of_probabilities_and_gray_is_replicated(rng):
    model = _conv_model((16, 16, 3), 5, "same")
    gray = rng.normal(size=(37, 30, 1)).astype("float32")
    rgb = np.repeat(gray, 3, axis=-1)
    probs = sliding_window_predict(model, rgb, overlap=0.25, batch_size=3)
    labels = sliding_window_labels(model, gray, overlap=0.25, batch_size=3)
    assert labels.dtype == np.uint8 and labels.shape == (37, 30)
    np.testing.assert_array_equal(labels, probs.argmax(-1))


def test_single_channel_model_gets_sigmoid_and_threshold(rng):
    model = _conv_model((16, 16, 1), 1, "same", layers=1)
    image = rng.normal(size=(16, 16, 1)).astype("float32")
    logits = keras.ops.convert_to_numpy(model(image[None]))[0]
    probs = sliding_window_predict(model, image)
    np.testing.assert_allclose(probs, 1 / (1 + np.exp(-logits)), atol=1e-6)
    np.testing.assert_array_equal(sliding_window_labels(model, image, threshold=0.5), (logits[..., 0] > 0))


def test_flip_tta_of_mirror_symmetric_input_is_symmetric(rng):
    model = _conv_model((16, 16, 1), 3, "same")
    half = rng.normal(size=(20, 10, 1)).astype("float32")
    image = np.concatenate([half, half[:, ::-1]], axis=1)
    probs = sliding_window_predict(model, image, overlap=0.5, flip_tta=True)
    np.testing.assert_allclose(probs, probs[:, ::-1], atol=1e-5)


def test_gaussian_importance_nd_is_separable_and_matches_2d():
    np.testing.assert_array_equal(gaussian_importance_nd(12, 2), gaussian_importance(12))
    w3 = gaussian_importance_nd(9, 3)
    g = gaussian_importance_nd(9, 1)
    np.testing.assert_allclose(w3, np.einsum("i,j,k->ijk", g, g, g) / (g.max() ** 3), rtol=1e-6)
    assert w3[4, 4, 4] == 1.0


def test_3d_valid_model_tiled_equals_whole_volume(rng):
    model = _conv_model((10, 10, 10, 1), 2, "valid")  # output 6, margin 2
    volume = rng.normal(size=(13, 9, 11, 1)).astype("float32")
    padded = np.pad(volume, ((2, 2),) * 3 + ((0, 0),), mode="reflect")
    whole = _softmax(keras.ops.convert_to_numpy(_twin(model, (None, None, None, 1))(padded[None]))[0])
    np.testing.assert_allclose(sliding_window_predict(model, volume, overlap=0.5, batch_size=3), whole, atol=1e-5)


def test_3d_partition_layout_equals_independent_block_reassembly(rng):
    """layout='partition', constant padding: each block predicted alone and put back (pig-ct thesis rule)."""
    model = _conv_model((8, 8, 8, 1), 1, "same")
    volume = rng.normal(size=(11, 8, 17)).astype("float32")
    origins = block_origins(volume.shape, size=8, overlap=0.0)
    blocks = [keras.ops.convert_to_numpy(keras.ops.sigmoid(model(extract_block(volume, o, 8, -1.0)[None, ..., None])))
              [0, ..., 0] for o in origins]
    expected = assemble_blocks(blocks, origins, volume.shape)
    got = sliding_window_predict(model, volume[..., None], overlap=0.0, layout="partition", pad_mode="constant",
                                 pad_value=-1.0, blend="constant")[..., 0]
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_streamed_labels_never_hold_full_probability_array(rng):
    """13 classes on 1536 x 1280: full float32 probabilities would be 102 MB; the streamed path stays far below."""
    keras.utils.set_random_seed(0)
    inp = keras.Input((64, 64, 1))
    model = keras.Model(inp, keras.layers.Conv2D(13, 1)(inp))
    image = rng.normal(size=(1536, 1280, 1)).astype("float32")
    sliding_window_labels(model, image[:64, :64], batch_size=16)  # trace outside the measurement
    tracemalloc.start()
    labels = sliding_window_labels(model, image, batch_size=16)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    full = 1536 * 1280 * 13 * 4
    assert labels.shape == (1536, 1280)
    assert peak < full / 4, f"peak {peak / 1e6:.1f} MB"


@pytest.mark.parametrize("kwargs", [dict(overlap=1.0), dict(blend="box"), dict(layout="grid"),
                                    dict(pad_mode="wrap")])
def test_bad_options_are_config_errors(rng, kwargs):
    model = _conv_model((8, 8, 1), 2, "same", layers=1)
    with pytest.raises(ConfigError):
        sliding_window_predict(model, rng.normal(size=(9, 9, 1)).astype("float32"), **kwargs)


def test_channel_mismatch_is_config_error(rng):
    model = _conv_model((8, 8, 3), 2, "same", layers=1)
    with pytest.raises(ConfigError, match="channels"):
        sliding_window_predict(model, np.zeros((9, 9, 2), "float32"))
