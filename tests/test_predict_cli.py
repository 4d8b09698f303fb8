"""`mammoseg predict`: label map + overlay from DICOM / PNG / TIFF, and one-line errors with exit status 2."""
import json

import numpy as np
import pytest

from mammoseg.cli import main
from mammoseg.evaluate.sliding_window import sliding_window_labels
from mammoseg.evaluate.test_set import prepare_image
from mammoseg.io.dicom import write_dicom
from mammoseg.io.raster import read_image, write_image
from mammoseg.models import build_model
from mammoseg.models.weights import save_weights

KWARGS = dict(num_classes=13, base_filters=4, depth=2, padding="same", norm="batch")
TILE = 32


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny U-Net with non-trivial batch-norm statistics, saved in both weight formats."""
    import keras

    keras.utils.set_random_seed(3)
    folder = tmp_path_factory.mktemp("weights")
    model = build_model("unet", input_shape=(TILE, TILE, 3), **KWARGS)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.moving_mean.assign(np.full(layer.moving_mean.shape, 0.1, np.float32))
    model.save_weights(str(folder / "best.weights.h5"))
    save_weights(model, folder / "best.npz")
    return model, folder


def _args(weights, out, *images, **extra):
    argv = ["predict", *map(str, images), "--model", "unet", "--weights", str(weights), "--model-kwargs",
            json.dumps(KWARGS), "--tile", str(TILE), "--out", str(out)]
    for key, value in extra.items():
        argv += [f"--{key.replace('_', '-')}"] + ([] if value is True else [str(value)])
    return argv


@pytest.mark.parametrize("suffix,weights", [(".png", "best.weights.h5"), (".dcm", "best.npz"),
                                            (".tif", "best.weights.h5")])
def test_predict_writes_labels_and_overlay(tmp_path, rng, trained, suffix, weights):
    model, folder = trained
    pixels = rng.integers(0, 4096, size=(45, 70)).astype(np.uint16)  # 12-bit: scaled by 4095
    path = tmp_path / f"case1{suffix}"
    write_dicom(path, pixels, bits_stored=12) if suffix == ".dcm" else write_image(path, pixels)
    assert main(_args(folder / weights, tmp_path / "out", path, overlap=0.5)) == 0
    labels = read_image(tmp_path / "out" / "case1_labels.png")
    overlay = read_image_rgb(tmp_path / "out" / "case1_overlay.png")
    expected = sliding_window_labels(model, prepare_image(pixels, 4095.0, 1), overlap=0.5)
    assert labels.dtype == np.uint8 and labels.shape == (45, 70)
    np.testing.assert_array_equal(labels, expected)
    assert overlay.shape == (45, 70, 3)


def read_image_rgb(path):
    import cv2

    return cv2.imread(str(path), cv2.IMREAD_COLOR)


def test_predict_with_tta_and_several_images(tmp_path, rng, trained):
    _, folder = trained
    paths = []
    for i, shape in enumerate([(33, 40), (64, 50)]):
        paths.append(write_image(tmp_path / f"img{i}.png", rng.integers(0, 255, size=shape).astype(np.uint8)))
    assert main(_args(folder / "best.weights.h5", tmp_path / "o", *paths, tta=True, batch_size=2)) == 0
    assert read_image(tmp_path / "o" / "img1_labels.png").shape == (64, 50)


def _error_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_missing_input_is_one_line_exit_2(tmp_path, capsys, trained):
    _, folder = trained
    assert main(_args(folder / "best.npz", tmp_path, tmp_path / "nope.dcm")) == 2
    line = _error_line(capsys)
    assert "nope.dcm" in line and "not found" in line


@pytest.mark.parametrize("name,content", [("bad.png", b"\x89PNG\r\n\x1a\n garbage"), ("bad.dcm", b"not dicom"),
                                          ("bad.jpg", b"whatever")])
def test_corrupt_input_is_one_line_exit_2(tmp_path, capsys, trained, name, content):
    _, folder = trained
    (tmp_path / name).write_bytes(content)
    assert main(_args(folder / "best.weights.h5", tmp_path, tmp_path / name)) == 2
    assert name in _error_line(capsys)


@pytest.mark.parametrize("weights", ["best.weights.h5", "best.npz"])
def test_weights_model_mismatch_is_one_line_exit_2(tmp_path, rng, capsys, trained, weights):
    _, folder = trained
    path = write_image(tmp_path / "x.png", rng.integers(0, 255, size=(40, 40)).astype(np.uint8))
    argv = _args(folder / weights, tmp_path, path)
    argv[argv.index("--model-kwargs") + 1] = json.dumps(dict(KWARGS, base_filters=8))
    assert main(argv) == 2
    line = _error_line(capsys)
    assert weights in line and ("do not fit" in line or "shape" in line)


def test_bad_model_kwargs_json_is_exit_2(tmp_path, capsys, trained):
    _, folder = trained
    path = write_image(tmp_path / "x.png", np.zeros((8, 8), np.uint8))
    argv = _args(folder / "best.npz", tmp_path, path)
    argv[argv.index("--model-kwargs") + 1] = "{base_filters: 4"
    assert main(argv) == 2
    assert "JSON" in _error_line(capsys)
