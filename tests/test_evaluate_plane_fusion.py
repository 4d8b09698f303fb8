"""pig-ct: plane fusion, thesis IoU, per-plane and block inference on volumes (constructed inputs)."""
import keras
import numpy as np
import pytest

from mammoseg.errors import ConfigError
from mammoseg.evaluate.plane_fusion import (PLANE_COMBINATIONS, fuse_planes, iou_table_rows, mean_probability,
                                            scan_ious, volume_iou)
from mammoseg.evaluate.volume_inference import predict_plane, predict_planes, predict_volume_blocks


def test_volume_iou_hand_counted_and_thesis_epsilon():
    mask = np.zeros((2, 3, 3), bool)
    mask[0, :2, :2] = True  # 4 voxels
    pred = np.zeros_like(mask)
    pred[0, 1:3, 1:3] = True  # 4 voxels, 1 shared
    assert volume_iou(mask, pred) == pytest.approx((1 + 1e-6) / (7 + 1e-6))
    empty = np.zeros_like(mask)
    assert volume_iou(empty, empty) == 1.0  # thesis: all-background slice predicted empty
    assert volume_iou(empty, pred) == pytest.approx(1e-6 / (4 + 1e-6))
    # 0/1 integers behave as booleans (the thesis' '+' on ints would give Dice / 2 = 0.125 here)
    assert volume_iou(mask.astype(int), pred.astype(int)) == pytest.approx(1 / 7, rel=1e-5)


def test_mean_fusion_thresholds_the_average_probability():
    t = np.array([[[0.9, 0.2, 0.6, 0.5]]], np.float32)
    s = np.array([[[0.3, 0.2, 0.6, 0.4]]], np.float32)
    c = np.array([[[0.4, 0.95, 0.0, 0.7]]], np.float32)
    # means: 0.5333, 0.45, 0.4, 0.5333
    np.testing.assert_array_equal(fuse_planes([t, s, c]), [[[True, False, False, True]]])
    # two planes: means 0.6, 0.2, 0.6, 0.45
    np.testing.assert_array_equal(fuse_planes([t, s]), [[[True, False, True, False]]])
    np.testing.assert_allclose(mean_probability([t, s, c]), (t + s + c) / 3, rtol=1e-6)


def test_vote_fusion_is_majority_with_ties_to_the_mean():
    t = np.array([0.9, 0.6, 0.05, 0.9], np.float32)
    s = np.array([0.1, 0.2, 0.55, 0.6], np.float32)
    c = np.array([0.6, 0.3, 0.51, 0.1], np.float32)
    # votes (> 0.5): [2, 1, 2, 2] of 3 -> majority; voxel 2 has mean 0.37, so the mean rule says no there
    np.testing.assert_array_equal(fuse_planes([t, s, c], rule="vote"), [True, False, True, True])
    np.testing.assert_array_equal(fuse_planes([t, s, c], rule="mean"), [True, False, False, True])
    # two planes: votes [1, 1, 1, 2]; the ties go to the mean [0.5, 0.4, 0.3, 0.75] > 0.5
    np.testing.assert_array_equal(fuse_planes([t, s], rule="vote"), [False, False, False, True])
    with pytest.raises(ConfigError):
        fuse_planes([t, s], rule="max")
    with pytest.raises(ConfigError, match="shapes"):
        fuse_planes([t, s[:2]])


def test_scan_ious_follow_the_thesis_columns():
    mask = np.zeros((4, 4, 4), bool)
    mask[:2] = True  # 32 voxels
    perfect = mask.astype(np.float32)
    half = np.zeros_like(perfect)
    half[:1] = 1.0  # 16 voxels, all inside
    probs = {"transverse": perfect, "sagittal": half, "coronal": 1 - perfect}
    ious = scan_ious(mask, probs, block_probabilities=half)
    assert list(ious) == [*PLANE_COMBINATIONS, "3D"]
    assert ious["transverse"] == pytest.approx(1.0)
    assert ious["sagittal"] == pytest.approx(0.5, rel=1e-6)
    assert ious["coronal"] == pytest.approx(0.0, abs=1e-7)
    # t+s: mean 1.0 on slice 0, 0.5 on slice 1 (not > 0.5) -> slice 0 only
    assert ious["transverse+sagittal"] == pytest.approx(0.5, rel=1e-6)
    # t+c: mean 0.5 everywhere -> empty prediction
    assert ious["transverse+coronal"] == pytest.approx(0.0, abs=1e-7)
    # combined: slice 0 mean 2/3, slice 1 mean 1/3, slices 2-3 mean 1/3 -> slice 0
    assert ious["combined"] == pytest.approx(0.5, rel=1e-6)
    assert ious["3D"] == pytest.approx(0.5, rel=1e-6)
    header, rows = iou_table_rows({"pigA": ious, "pigB": {"transverse": 0.5}})
    assert header[0] == "Scan" and rows[-1][0] == "mean"
    assert rows[-1][1] == pytest.approx(0.75)  # transverse mean over the two scans
    assert rows[-1][header.index("sagittal")] == pytest.approx(0.5, rel=1e-6)  # pigB has no sagittal: skipped


def _pointwise(shape, seed=0):
    """1x1 convolution: its prediction at a voxel depends on that voxel only, so any orientation error shows."""
    keras.utils.set_random_seed(seed)
    conv = keras.layers.Conv2D if len(shape) == 3 else keras.layers.Conv3D
    inp = keras.Input(shape)
    model = keras.Model(inp, conv(1, 1)(inp))
    model.layers[1].set_weights([np.full(model.layers[1].kernel.shape, 2.0, np.float32), np.array([-1.0], "float32")])
    return model


def _expected(volume):
    return 1 / (1 + np.exp(-(2.0 * volume - 1.0)))


@pytest.mark.parametrize("plane", ["transverse", "sagittal", "coronal"])
def test_predict_plane_free_size_model_keeps_orientation(rng, plane):
    volume = rng.uniform(size=(5, 7, 9)).astype(np.float32)
    probs = predict_plane(_pointwise((None, None, 1)), volume, plane, batch_size=2, pad_multiple=8)
    assert probs.shape == volume.shape
    np.testing.assert_allclose(probs, _expected(volume), atol=1e-6)


def test_predict_plane_fixed_size_model_uses_sliding_window(rng):
    volume = rng.uniform(size=(6, 10, 12)).astype(np.float32)
    probs = predict_planes({"sagittal": _pointwise((8, 8, 1)), "coronal": _pointwise((8, 8, 1))}, volume)
    for p in probs.values():
        np.testing.assert_allclose(p, _expected(volume), atol=1e-6)


def test_predict_plane_pads_slices_to_the_multiple(rng):
    """A 'same' 3x3 model sees the air padding at the slice end: the thesis' zero-padding to multiples of 64."""
    keras.utils.set_random_seed(1)
    inp = keras.Input((None, None, 1))
    model = keras.Model(inp, keras.layers.Conv2D(1, 3, padding="same")(inp))
    volume = rng.uniform(size=(3, 5, 6)).astype(np.float32)
    padded = np.pad(volume, ((0, 0), (0, 3), (0, 2)), constant_values=-1.0)  # 5 -> 8, 6 -> 8
    expected = keras.ops.convert_to_numpy(keras.ops.sigmoid(model(padded[..., None])))[:, :5, :6, 0]
    probs = predict_plane(model, volume, "transverse", pad_multiple=8, pad_value=-1.0)
    np.testing.assert_allclose(probs, expected, atol=1e-6)


@pytest.mark.parametrize("overlap", [0.0, 0.5])
def test_block_inference_of_pointwise_model(rng, overlap):
    volume = rng.uniform(size=(9, 6, 13)).astype(np.float32)
    probs = predict_volume_blocks(_pointwise((4, 4, 4, 1)), volume, overlap=overlap)
    np.testing.assert_allclose(probs, _expected(volume), atol=1e-6)


def test_block_inference_rejects_2d_model(rng):
    with pytest.raises(ConfigError, match="3-D"):
        predict_volume_blocks(_pointwise((4, 4, 1)), np.zeros((4, 4, 4), np.float32))
