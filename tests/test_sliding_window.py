import keras
import numpy as np
import pytest

from mammoseg.evaluate.sliding_window import gaussian_importance, sliding_window_predict, tile_starts


def _valid_model(tile, channels=1, classes=3, seed=0):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((tile, tile, channels))
    x = keras.layers.Conv2D(4, 3, padding="valid", activation="relu")(inp)
    x = keras.layers.Conv2D(classes, 3, padding="valid")(x)
    return keras.Model(inp, x)


def _whole_image_probs(model_builder, image, margin):
    padded = np.pad(image, ((margin, margin), (margin, margin), (0, 0)), mode="reflect")
    big = model_builder(padded.shape[0], padded.shape[1])
    return keras.ops.convert_to_numpy(keras.ops.softmax(big(padded[None]), axis=-1))[0]


def test_tile_starts_cover_everything():
    assert tile_starts(10, 4, 3) == [0, 3, 6]
    assert tile_starts(10, 4, 4) == [0, 4, 6]
    assert tile_starts(3, 4, 2) == [0]


def test_gaussian_importance_peaks_in_centre():
    w = gaussian_importance(16)
    assert w.shape == (16, 16) and w.max() == 1 and w[0, 0] > 0 and w[7, 7] > w[0, 7] > w[0, 0]


@pytest.mark.parametrize("overlap,blend", [(0.0, "constant"), (0.5, "gaussian")])
def test_valid_model_tiled_equals_whole_image(rng, overlap, blend):
    tile = 20  # output 16, margin 2
    model = _valid_model(tile)
    image = rng.normal(size=(37, 45, 1)).astype("float32")

    def builder(h, w):
        inp = keras.Input((h, w, 1))
        x = keras.layers.Conv2D(4, 3, padding="valid", activation="relu")(inp)
        x = keras.layers.Conv2D(3, 3, padding="valid")(x)
        m = keras.Model(inp, x)
        m.set_weights(model.get_weights())
        return m

    tiled = sliding_window_predict(model, image, overlap=overlap, blend=blend, batch_size=3)
    whole = _whole_image_probs(builder, image, margin=2)
    assert tiled.shape == (37, 45, 3)
    np.testing.assert_allclose(tiled, whole, atol=1e-5)


def test_image_smaller_than_tile_and_flip_tta(rng):
    model = _valid_model(20)
    image = rng.normal(size=(10, 13, 1)).astype("float32")
    probs = sliding_window_predict(model, image, flip_tta=True)
    assert probs.shape == (10, 13, 3)
    np.testing.assert_allclose(probs.sum(-1), 1, atol=1e-5)
