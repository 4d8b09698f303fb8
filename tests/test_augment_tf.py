import math

import cv2
import numpy as np
import pytest
import tensorflow as tf
from scipy import ndimage

from mammoseg.data.augment import ElasticParams, displacement_field, elastic_params_for, extract_crop, warp_pair
from mammoseg.data.augment_tf import (ColourDistortion, ImageBank, adjust_contrast_where, clahe,
                                      coarse_elastic_plan, distort_colour, elastic_fields, elastic_warp,
                                      random_elastic, random_rotation_angles, rotate, rotation_maps,
                                      simard_rms)
from mammoseg.data.pipeline import CropPipelineConfig, crop_dataset
from mammoseg.errors import DataError


def _block_labels(shape=(64, 64), block=8, seed=0):
    ids = np.random.default_rng(seed).integers(0, 13, size=(shape[0] // block, shape[1] // block))
    return np.kron(ids, np.ones((block, block), np.int64)).astype(np.uint8)


# ------------------------------------------------------------------------------------------------ sampling maps
def test_bank_reads_match_scipy_grid_constant(rng):
    """Bilinear / nearest reads with constant padding equal scipy's map_coordinates(mode="grid-constant")."""
    images = [rng.random((13, 17)).astype(np.float32), rng.random((9, 21)).astype(np.float32)]
    bank = ImageBank(images, fill=0.25)
    ys = rng.uniform(-4, 25, (2, 30, 30)).astype(np.float32)
    xs = rng.uniform(-4, 25, (2, 30, 30)).astype(np.float32)
    bilinear = bank.bilinear(tf.constant([0, 1]), ys, xs).numpy()
    nearest = bank.nearest(tf.constant([1, 0]), ys, xs).numpy()
    for b, image in enumerate(images):
        expected = ndimage.map_coordinates(image.astype(np.float64), [ys[b], xs[b]], order=1, mode="grid-constant",
                                           cval=0.25)
        np.testing.assert_allclose(bilinear[b], expected, atol=1e-5)
    for b, image in enumerate(images[::-1]):
        expected = ndimage.map_coordinates(image, [ys[b], xs[b]], order=0, mode="grid-constant", cval=0.25)
        np.testing.assert_array_equal(nearest[b], expected)


def test_rotation_by_a_right_angle_is_rot90():
    labels = _block_labels((32, 32), block=4)[None]
    images = labels.astype(np.float32) * 10
    image, label = rotate(images, labels, tf.constant([math.pi / 2]))
    np.testing.assert_array_equal(label.numpy()[0], np.rot90(labels[0], k=-1))
    np.testing.assert_allclose(image.numpy()[0], np.rot90(images[0], k=-1), atol=1e-3)


def test_small_rotations_keep_label_ids_and_share_one_map():
    """Image and label are read at the same rotated coordinates: bilinear / nearest equal scipy's at those points."""
    angles = random_rotation_angles(tf.constant([3, 4], tf.int64), count=200, max_degrees=5.0).numpy()
    assert np.abs(angles).max() <= math.radians(5.0) and np.abs(angles).max() > math.radians(4.0)
    labels = np.stack([_block_labels(seed=s) for s in range(4)])
    images = labels.astype(np.float32) * 100 + 3
    image, label = rotate(images, labels, angles[:4], image_fill=3.0, label_fill=0)
    ys, xs = (m.numpy() for m in rotation_maps(64, 64, angles[:4]))
    assert set(np.unique(label.numpy())) <= set(np.unique(labels))
    for b in range(4):
        expected = ndimage.map_coordinates(images[b], [ys[b], xs[b]], order=1, mode="grid-constant", cval=3.0)
        np.testing.assert_allclose(image.numpy()[b], expected, atol=1e-3)
        nearest = ndimage.map_coordinates(labels[b], [ys[b], xs[b]], order=0, mode="grid-constant", cval=0)
        assert (label.numpy()[b] != nearest).mean() < 1e-3  # float32 vs float64 at exact .5 ties


# ------------------------------------------------------------------------------------------------ elastic
def test_warp_equals_scipy_warp_pair_for_the_same_field(rng):
    labels = np.stack([_block_labels(seed=s) for s in range(2)])
    images = rng.random(labels.shape).astype(np.float32)
    p = elastic_params_for(64)
    fields = np.stack([displacement_field((64, 64), np.random.default_rng(s), p.alpha, p.sigma) for s in range(2)])
    image, label = elastic_warp(images, labels, fields.astype(np.float32))
    for b in range(2):
        ref_image, ref_label = warp_pair(images[b], labels[b], fields[b])
        np.testing.assert_allclose(image.numpy()[b], ref_image, atol=1e-4)
        assert (label.numpy()[b] != ref_label).mean() < 1e-3  # float32 vs float64 rounding at exact .5 ties


@pytest.mark.parametrize("size,params", [(64, elastic_params_for(64)), (96, ElasticParams(alpha=34.0, sigma=4.0)),
                                         (48, ElasticParams(alpha=8.0, sigma=1.5))])
def test_field_statistics_match_the_offline_transform(size, params):
    """Same (alpha, sigma): RMS displacement within 10% of the numpy field's, and the same correlation at lag sigma."""
    n = 40
    plan = coarse_elastic_plan(size, params)
    ours = elastic_fields(plan, tf.random.stateless_normal((n,) + plan.noise_shape, [5, 6])).numpy()
    theirs = np.stack([displacement_field((size, size), np.random.default_rng(i), params.alpha, params.sigma)
                       for i in range(n)])
    assert ours.shape == theirs.shape == (n, 2, size, size)
    rms_ours, rms_theirs = np.sqrt(np.mean(ours**2)), np.sqrt(np.mean(theirs**2))
    assert abs(rms_ours / rms_theirs - 1) < 0.10
    assert abs(rms_ours / simard_rms(params.alpha, params.sigma) - 1) < 0.10
    lag = int(round(params.sigma))

    def correlation(f):
        return np.mean(f[..., lag:] * f[..., :-lag]) / np.mean(f**2)

    assert abs(correlation(ours) - correlation(theirs)) < 0.05
    assert abs(correlation(ours) - math.exp(-lag**2 / (4 * params.sigma**2))) < 0.05


def test_random_elastic_is_seeded_and_keeps_labels(rng):
    labels = np.stack([_block_labels(seed=s) for s in range(3)])
    images = labels.astype(np.float32)
    p = elastic_params_for(64)
    a = random_elastic(images, labels, tf.constant([1, 2], tf.int64), p)
    b = random_elastic(images, labels, tf.constant([1, 2], tf.int64), p)
    c = random_elastic(images, labels, tf.constant([1, 3], tf.int64), p)
    np.testing.assert_array_equal(a[1].numpy(), b[1].numpy())
    assert not np.array_equal(a[1].numpy(), c[1].numpy())
    assert set(np.unique(a[1].numpy())) <= set(np.unique(labels))
    assert (a[1].numpy() != labels).mean() > 0.05  # it did deform
    assert not np.array_equal(a[1].numpy()[0], a[1].numpy()[1])  # one field per element


# ------------------------------------------------------------------------------------------------ crop pipeline
def _crop_config(**kw):
    defaults = dict(crop_size=16, batch_size=4, max_value=1.0, rgb=False, contrast_p=0.0, crops_per_image=4,
                    seed=3, sampler="uniform")
    return CropPipelineConfig(**{**defaults, **kw})


def _numbered_images(shapes):
    """Images whose pixels hold distinct numbers 1, 2, ... across all images (0 is the pad value)."""
    sizes = [h * w for h, w in shapes]
    starts = np.cumsum([0] + sizes[:-1])
    return ([(np.arange(n) + 1 + s).reshape(shape).astype(np.int32) for n, s, shape in zip(sizes, starts, shapes)],
            starts)


def test_unaugmented_crops_equal_padded_numpy_crops():
    shapes = [(30, 40), (25, 20)]
    images, starts = _numbered_images(shapes)
    labels = [(im % 7).astype(np.uint8) for im in images]
    cfg = _crop_config(elastic_p=0.0, flip_p=0.0)
    for x, y in crop_dataset(images, labels, cfg).take(4):
        for crop, label in zip(np.rint(x.numpy()[..., 0] + 0.5).astype(np.int64), y.numpy()):
            number = crop[8, 8] - 1  # the centre pixel (index size // 2) tells which pixel was sampled
            source = int(number >= starts[1])
            cy, cx = divmod(number - starts[source], shapes[source][1])
            np.testing.assert_array_equal(crop, extract_crop(images[source], cy, cx, 16, 0))
            np.testing.assert_array_equal(label, extract_crop(labels[source], cy, cx, 16, 0))


def test_flip_mirrors_the_crop():
    images, labels = _numbered_images([(40, 40)])[0], [_block_labels((40, 40), block=4)]
    plain = next(iter(crop_dataset(images, labels, _crop_config(elastic_p=0.0, flip_p=0.0))))
    flipped = next(iter(crop_dataset(images, labels, _crop_config(elastic_p=0.0, flip_p=1.0))))
    np.testing.assert_array_equal(flipped[0].numpy(), plain[0].numpy()[:, :, ::-1])
    np.testing.assert_array_equal(flipped[1].numpy(), plain[1].numpy()[:, :, ::-1])


def test_elastic_crops_keep_labels_and_alignment():
    """image = 300 * label + 7 before the warp; wherever a crop pixel decodes to a whole label, it is that label."""
    labels = [_block_labels((96, 96), block=16, seed=s) for s in range(3)]
    images = [lab.astype(np.uint16) * 300 + 7 for lab in labels]
    cfg = _crop_config(crop_size=32, max_value=4095.0, elastic_p=1.0, sampler="class_balanced", rgb=True)
    steps = 0
    for x, y in crop_dataset(images, labels, cfg).take(3):
        x, y = x.numpy(), y.numpy()
        assert x.shape == (4, 32, 32, 3) and y.dtype == np.int32
        np.testing.assert_array_equal(x[..., 0], x[..., 2])
        assert set(np.unique(y)) <= set(np.unique(labels)) | {0}
        code = ((x[..., 0].astype(np.float64) + 0.5) * 4095 - 7) / 300
        clean = np.abs(code - np.round(code)) < 3e-6  # unmixed by the bilinear read (float32 error ~1e-6)
        assert clean.mean() > 0.5
        np.testing.assert_array_equal(y[clean], np.round(code[clean]).astype(int))
        steps += 1
    assert steps == 3


def test_crop_pipeline_is_deterministic_resumable_and_varies():
    labels = [_block_labels((48, 48), seed=s) for s in range(2)]
    images = [lab.astype(np.float32) for lab in labels]
    cfg = _crop_config(elastic_p=0.5, sampler="class_balanced", crops_per_image=4)  # 2 steps per epoch
    run = [y.numpy() for _, y in crop_dataset(images, labels, cfg).take(6)]
    again = [y.numpy() for _, y in crop_dataset(images, labels, cfg).take(6)]
    resumed = [y.numpy() for _, y in crop_dataset(images, labels, cfg, start_epoch=2).take(2)]
    for a, b in zip(run, again):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(run[4:], resumed):
        np.testing.assert_array_equal(a, b)
    flat = np.concatenate(run)
    assert len({c.tobytes() for c in flat}) == len(flat)  # every position draws its own crop


def test_contrast_formula():
    x = tf.constant([[0.2, 0.4, 0.9], [0.1, 0.1, 0.4]])
    out = adjust_contrast_where(x, tf.constant([True, False]), tf.constant([2.0, 2.0])).numpy()
    mean = 0.5
    np.testing.assert_allclose(out[0], np.clip((np.array([0.2, 0.4, 0.9]) - mean) * 2 + mean, 0, 1), atol=1e-6)
    np.testing.assert_allclose(out[1], [0.1, 0.1, 0.4])


# ------------------------------------------------------------------------------------------------ colour
def test_colour_distortion_seeded_bounded_and_optional(rng):
    image = tf.constant(rng.random((16, 16, 3)), tf.float32)
    seed = tf.constant([7, 8], tf.int64)
    a, b = distort_colour(image, seed).numpy(), distort_colour(image, seed).numpy()
    np.testing.assert_array_equal(a, b)
    assert a.min() >= 0 and a.max() <= 1
    np.testing.assert_array_equal(distort_colour(image, seed, ColourDistortion(p=0.0)).numpy(), image.numpy())
    always = distort_colour(image, seed, ColourDistortion(p=1.0)).numpy()
    assert not np.allclose(always, image.numpy())
    gray = tf.tile(image[..., :1], [1, 1, 3])  # saturation cannot colour a gray image
    out = distort_colour(gray, seed, ColourDistortion(p=1.0)).numpy()
    np.testing.assert_allclose(out[..., 0], out[..., 1], atol=1e-5)


# ------------------------------------------------------------------------------------------------ CLAHE
# Documented tolerance: at most 1 grey level on at most 0.1% of pixels (float rounding of the tile blend); on
# every case below the match is in fact exact.
@pytest.mark.parametrize("dtype,top", [(np.uint8, 255), (np.uint16, 4095)])
@pytest.mark.parametrize("shape,clip,grid", [((96, 80), 2.0, (8, 8)), ((101, 77), 40.0, (8, 8)),
                                             ((64, 90), 3.0, (4, 6)), ((72, 72), 0.0, (8, 8))])
def test_clahe_matches_opencv(rng, dtype, top, shape, clip, grid):
    rows = np.arange(shape[0])[:, None] / shape[0]
    image = ((0.3 * np.sin(6 * rows) + 0.4 + 0.3 * rng.random(shape)) * top).astype(dtype)
    expected = cv2.createCLAHE(clipLimit=clip, tileGridSize=(grid[1], grid[0])).apply(image)
    ours = clahe(image, clip, grid).numpy()
    assert ours.dtype == image.dtype
    diff = np.abs(ours.astype(np.int64) - expected.astype(np.int64))
    assert diff.max() <= 1 and (diff > 0).mean() <= 1e-3


def test_clahe_rejects_float_images():
    with pytest.raises(DataError, match="uint8 or uint16"):
        clahe(np.zeros((16, 16), np.float32))
