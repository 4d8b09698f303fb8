import math

import numpy as np
import pytest
from scipy import ndimage

from mammoseg.data.augment import (ElasticParams, displacement_field, elastic_crop, elastic_params_for,
                                   elastic_transform, extract_crop, gaussian_smooth_periodic, warp_pair)
from mammoseg.errors import DataError


def _block_labels(shape=(64, 64), block=8, seed=0):
    """Piecewise-constant label map: blocks of random MAMMO13 ids."""
    ids = np.random.default_rng(seed).integers(0, 13, size=(shape[0] // block, shape[1] // block))
    return np.kron(ids, np.ones((block, block), np.int64)).astype(np.uint8)


# ------------------------------------------------------------------------------------------------ crop extraction
@pytest.mark.parametrize("size", [5, 6])
def test_interior_crop_is_a_slice_centred_at_half_size(size):
    array = np.arange(20 * 30).reshape(20, 30)
    crop = extract_crop(array, 10, 12, size)
    y0, x0 = 10 - size // 2, 12 - size // 2
    np.testing.assert_array_equal(crop, array[y0:y0 + size, x0:x0 + size])
    assert crop[size // 2, size // 2] == array[10, 12]


def test_border_crops_are_padded():
    array = np.arange(1, 101, dtype=np.uint16).reshape(10, 10)
    corner = extract_crop(array, 0, 0, 6, pad_value=0)
    np.testing.assert_array_equal(corner[3:, 3:], array[:3, :3])
    assert not corner[:3].any() and not corner[:, :3].any()
    far = extract_crop(array, 9, 9, 7, pad_value=77)
    np.testing.assert_array_equal(far[:4, :4], array[6:, 6:])
    assert (far[4:] == 77).all() and (far[:, 4:] == 77).all() and far.dtype == np.uint16
    big = extract_crop(array, 5, 5, 16, pad_value=999)  # crop larger than the image
    np.testing.assert_array_equal(big[3:13, 3:13], array)
    assert (big == 999).sum() == 16 * 16 - 100


# ------------------------------------------------------------------------------------------------ elastic
def test_default_parameters_are_simard_scaled_to_the_crop():
    assert elastic_params_for(28) == ElasticParams(alpha=34.0, sigma=4.0)
    p = elastic_params_for(256)
    assert math.isclose(p.sigma, 4 * 256 / 28) and math.isclose(p.alpha, 34 * (256 / 28) ** 2)


def test_periodic_smoothing_matches_scipy_wrap():
    noise = np.random.default_rng(0).uniform(-1, 1, (40, 36))
    expected = ndimage.gaussian_filter(noise, 3.0, mode="wrap", truncate=10)
    np.testing.assert_allclose(gaussian_smooth_periodic(noise, 3.0), expected, atol=1e-6)


def test_field_strength_matches_theory():
    """Smoothed U(-1,1) noise has std sqrt(1/3) * ||g||_2 with ||g||_2^2 ~ 1/(4 pi sigma^2) for a 2-D Gaussian g."""
    alpha, sigma = 34.0, 4.0
    field = displacement_field((256, 256), np.random.default_rng(0), alpha, sigma)
    expected = alpha * math.sqrt(1 / 3) / (2 * math.sqrt(math.pi) * sigma)
    assert field.shape == (2, 256, 256)
    assert abs(field.std() / expected - 1) < 0.05 and abs(field.mean()) < 0.1 * expected


def test_elastic_keeps_label_ids_and_dtypes(rng):
    label = _block_labels()
    image = rng.integers(0, 4096, label.shape).astype(np.uint16)
    p = elastic_params_for(64)
    warped_image, warped_label = elastic_transform(image, label, rng, p.alpha, p.sigma)
    assert warped_image.dtype == np.uint16 and warped_label.dtype == np.uint8
    assert set(np.unique(warped_label)) <= set(np.unique(label))
    assert (warped_label != label).mean() > 0.05  # it did deform


def test_image_and_label_are_warped_by_the_same_field():
    label = _block_labels()
    image = label.astype(np.uint16) * 1000
    p = elastic_params_for(64)
    warped_image, warped_label = elastic_transform(image, label, np.random.default_rng(5), p.alpha, p.sigma)
    field = displacement_field(label.shape, np.random.default_rng(5), p.alpha, p.sigma)  # the same draw
    # Output pixels whose bilinear footprint (the 2x2 input block around the sample point) is one label.
    sy, sx = np.indices(label.shape) + field
    y0, x0 = np.floor(sy).astype(int), np.floor(sx).astype(int)
    inside = (y0 >= 0) & (x0 >= 0) & (y0 < label.shape[0] - 1) & (x0 < label.shape[1] - 1)
    y0, x0 = np.clip(y0, 0, label.shape[0] - 2), np.clip(x0, 0, label.shape[1] - 2)
    block = np.stack([label[y0, x0], label[y0 + 1, x0], label[y0, x0 + 1], label[y0 + 1, x0 + 1]])
    uniform = inside & (block == block[0]).all(axis=0)
    assert uniform.mean() > 0.6
    np.testing.assert_array_equal(warped_label[uniform], block[0][uniform])
    np.testing.assert_array_equal(warped_image[uniform], warped_label[uniform].astype(np.uint16) * 1000)


def test_same_seed_same_warp_and_other_seed_differs(rng):
    label = _block_labels()
    image = rng.random(label.shape).astype(np.float32)
    p = elastic_params_for(64)
    a = elastic_transform(image, label, np.random.default_rng(1), p.alpha, p.sigma)
    b = elastic_transform(image, label, np.random.default_rng(1), p.alpha, p.sigma)
    c = elastic_transform(image, label, np.random.default_rng(2), p.alpha, p.sigma)
    assert a[0].dtype == np.float32
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_zero_strength_elastic_crop_is_the_plain_crop(rng):
    label = _block_labels((40, 48))
    image = rng.integers(1, 60000, label.shape).astype(np.uint16)
    for cy, cx in [(20, 24), (0, 0), (39, 47), (3, 45)]:
        warped = elastic_crop(image, label, cy, cx, 16, rng, ElasticParams(alpha=0.0, sigma=3.0), 0, 5)
        np.testing.assert_array_equal(warped[0], extract_crop(image, cy, cx, 16, 0))
        np.testing.assert_array_equal(warped[1], extract_crop(label, cy, cx, 16, 5))


def test_elastic_crop_reads_real_content_across_the_crop_edge():
    """A deformed crop of a constant interior region stays constant: no reflected or padded values sneak in."""
    label = np.zeros((200, 200), np.uint8)
    label[60:140, 60:140] = 4
    image = np.where(label == 4, 3000, 10).astype(np.uint16)
    p = elastic_params_for(32)
    crop_image, crop_label = elastic_crop(image, label, 100, 100, 32, np.random.default_rng(0), p)
    assert (crop_label == 4).all() and (crop_image == 3000).all()


def test_mismatched_image_and_label_raise():
    with pytest.raises(DataError, match="differ in size"):
        warp_pair(np.zeros((4, 4)), np.zeros((4, 5), np.uint8), np.zeros((2, 4, 4)))
