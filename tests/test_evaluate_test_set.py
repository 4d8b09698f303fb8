"""evaluate_cases / save_overlays find each case's image as the readers do: any raster suffix, 16 bit kept."""
import cv2
import keras
import numpy as np
import pytest

from mammoseg.errors import DataError
from mammoseg.evaluate.test_set import evaluate_cases, save_overlays
from mammoseg.io.raster import read_image, write_image
from mammoseg.labels import BINARY

MAX_VALUE = 65535.0
SIZE = 16


def threshold_model() -> keras.Model:
    """Logits (0, x) per pixel: class 1 exactly where the scaled input x = v / MAX_VALUE - 0.5 is positive."""
    inputs = keras.Input((SIZE, SIZE, 1))
    conv = keras.layers.Conv2D(2, 1)
    model = keras.Model(inputs, conv(inputs))
    conv.set_weights([np.array([0.0, 1.0], np.float32).reshape(1, 1, 1, 2), np.zeros(2, np.float32)])
    return model


def write_case(root, name: str, suffix: str, rng) -> np.ndarray:
    """A 16-bit image whose foreground sits just above half range: an 8-bit read (<= 255) would lose it."""
    label = (rng.random((24, 20)) < 0.4).astype(np.uint8)
    image = np.where(label == 1, 40000, 30000).astype(np.uint16)
    write_image(root / name / f"image{suffix}", image)
    write_image(root / name / "label.png", label)
    return label


def test_cases_with_16_bit_tif_and_pgm_images_are_found_and_read_at_full_depth(tmp_path, rng):
    truth = {"a": write_case(tmp_path, "a", ".tif", rng), "b": write_case(tmp_path, "b", ".pgm", rng)}
    assert read_image(tmp_path / "a" / "image.tif").dtype == np.uint16
    result = evaluate_cases(threshold_model(), tmp_path, ["a", "b"], MAX_VALUE, BINARY)
    for case, label in truth.items():
        np.testing.assert_array_equal(result["predictions"][case], label)
    expected = np.array([[sum(np.sum(t == 0) for t in truth.values()), 0],
                         [0, sum(np.sum(t == 1) for t in truth.values())]])
    np.testing.assert_array_equal(result["confusion_matrix"], expected)
    assert result["metrics"]["pixel_accuracy"] == pytest.approx(1.0)
    save_overlays(tmp_path, ["a", "b"], result["predictions"], tmp_path / "overlays", BINARY)
    overlay = cv2.imread(str(tmp_path / "overlays" / "a_overlay.png"), cv2.IMREAD_UNCHANGED)
    assert overlay.shape == (24, 40, 3)  # truth and prediction side by side on the image


def test_a_case_with_two_images_is_one_clear_error(tmp_path, rng):
    write_case(tmp_path, "a", ".tif", rng)
    write_image(tmp_path / "a" / "image.png", np.zeros((24, 20), np.uint16))
    with pytest.raises(DataError, match="several images"):
        evaluate_cases(threshold_model(), tmp_path, ["a"], MAX_VALUE, BINARY)
