import numpy as np
import pytest
from scipy import ndimage
from skimage.exposure import equalize_adapthist

from mammoseg.data.preprocess import (ClaheParams, KthClsParams, assemble_blocks, block_origins, clahe,
                                      extract_block, fit_to_square, gray_to_rgb, kth_cls_preprocess,
                                      opencv_clip_limit, pad_to_multiple, plane_stack, random_block_origin,
                                      remove_background, resize_image, resize_label, resize_mask, scale_to_unit,
                                      square_crop_box, volume_from_plane_stack)
from mammoseg.errors import ConfigError


def synthetic_mammogram(shape, rng) -> np.ndarray:
    """12-bit breast half-ellipse on the left edge, smooth texture, one bright mass, dark noisy background."""
    h, w = shape
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = np.sqrt(((y - h / 2) / (0.45 * h)) ** 2 + (x / (0.8 * w)) ** 2)
    tissue = np.clip(1.2 - r, 0, 1) + 0.3 * ndimage.gaussian_filter(rng.standard_normal(shape), h / 40)
    mass = np.exp(-(((y - 0.6 * h) / (0.05 * h)) ** 2 + ((x - 0.3 * w) / (0.05 * h)) ** 2))
    image = np.where(r < 1, 1500 + 1800 * tissue + 900 * mass, 120) + 25 * rng.standard_normal(shape)
    return np.clip(image, 0, 4095).astype(np.uint16)


# ------------------------------------------------------------------------------------------------- CLAHE
@pytest.mark.parametrize("bins", [256, 1024])
def test_clahe_agrees_with_skimage_on_a_synthetic_mammogram(rng, bins):
    image = synthetic_mammogram((512, 416), rng)
    ours = clahe(image, clip_limit=0.02, tiles=(8, 8), bins=bins)
    reference = equalize_adapthist(image, clip_limit=0.02, nbins=bins)  # default kernel: 1/8 of each side
    assert ours.dtype == np.float32 and ours.shape == image.shape
    assert ours.min() == 0.0 and ours.max() == 1.0
    assert np.corrcoef(ours.ravel(), reference.ravel())[0, 1] > 0.99
    assert np.abs(ours - reference).mean() < 0.02


def test_clip_limit_semantics_by_hand():
    # One tile of 32x32 = 1024 px: 512 at level 0, 256 at 128, 256 at 255. Clip at 0.25 x 1024 = 256 counts:
    # bin 0 loses 256, spread as 1 count over each of the 256 bins -> cdf(0) = 257, cdf(128) = 257 + 127 + 257
    # = 641, cdf(255) = 1024. LUT = round(cdf * 255 / 1024) = 64, 160, 255; stretched: 0, 96/191, 1.
    image = np.zeros((32, 32), np.uint8)
    image[16:24], image[24:] = 128, 255
    out = clahe(image, clip_limit=0.25, tiles=(1, 1))
    np.testing.assert_allclose(np.unique(out), [0.0, 96 / 191, 1.0], rtol=1e-6)
    assert opencv_clip_limit(0.02, 256) == pytest.approx(5.12)


def test_clahe_input_dtypes_and_errors(rng):
    image = synthetic_mammogram((64, 48), rng)
    as_float = clahe(image.astype(np.float64) / 4095.0)
    np.testing.assert_allclose(as_float, clahe(image), atol=1.5 / 255)  # same bins up to rounding
    assert not clahe(np.full((16, 16), 7, np.uint16)).any()
    with pytest.raises(ConfigError, match="clip limit"):
        clahe(image, clip_limit=2.0)
    with pytest.raises(ValueError, match="NaN"):
        clahe(np.full((8, 8), np.nan))
    with pytest.raises(ConfigError, match="bins"):
        ClaheParams(bins=1)


# ------------------------------------------------------------------------------------------------- basics
def test_scale_rgb_and_background_removal():
    image = np.array([[10, 20], [30, 50]], np.uint16)
    np.testing.assert_allclose(scale_to_unit(image), [[0, 0.25], [0.5, 1.0]])
    assert not scale_to_unit(np.full((3, 3), 5)).any()
    rgb = gray_to_rgb(image)
    assert rgb.shape == (2, 2, 3) and (rgb[..., 2] == image).all()
    region = np.array([[True, False], [True, True]])
    np.testing.assert_array_equal(remove_background(image, region), [[10, 10], [30, 50]])


def test_resizing_keeps_dtype_ids_and_small_masks():
    image = np.arange(64, dtype=np.uint16).reshape(8, 8)
    assert resize_image(image, (4, 4)).dtype == np.uint16
    assert resize_image(image.astype(np.float32), (4, 4))[0, 0] == (0 + 1 + 8 + 9) / 4  # area average of 2x2
    label = np.repeat(np.arange(4, dtype=np.uint8), 4).reshape(4, 4)
    assert set(np.unique(resize_label(label, (7, 9)))) == {0, 1, 2, 3}
    mask = np.zeros((40, 40), bool)
    mask[3, 5] = True  # 1/100 of an output pixel at 4x4: would vanish at a 0.5 threshold
    assert resize_mask(mask, (4, 4)).sum() == 1 and resize_mask(mask, (4, 4))[0, 0]
    big = np.zeros((40, 40), bool)
    big[:20] = True
    np.testing.assert_array_equal(resize_mask(big, (4, 4)), np.repeat([[True], [True], [False], [False]], 4, 1))


# ------------------------------------------------------------------------------------------------- kth-cls
def test_square_crop_box_by_hand():
    image = np.zeros((100, 40), np.uint16)
    image[80, 10] = 1000  # centre of mass (80, 10)
    box = square_crop_box(image, "mass")
    assert (box.bottom - box.top, box.right - box.left) == (40, 40)
    assert box.top == round(80 - 39 / 2) and box.left == 0  # centred on row 80 (clamped columns)
    image[:] = 0
    image[2, 20] = 1000  # centre of mass near the top: the box is clamped to the image
    assert square_crop_box(image, "mass").top == 0
    assert square_crop_box(image, "centre").top == 30  # (100 - 40) / 2
    with pytest.raises(ConfigError, match="mode"):
        square_crop_box(image, "middle")


def test_kth_cls_chain_shapes_and_ranges(rng):
    image = synthetic_mammogram((300, 200), rng)
    mask = np.zeros(image.shape, bool)
    mask[170:190, 50:70] = True
    sample = kth_cls_preprocess(image, mask)  # thesis defaults: 1024 work size, CLAHE 8x8 / 0.02, 128 out
    assert sample.image.shape == (128, 128) and sample.image.dtype == np.float32
    assert 0.0 <= sample.image.min() < 0.05 and 0.95 < sample.image.max() <= 1.0
    assert sample.mask.shape == (128, 128) and sample.mask.dtype == bool
    assert sample.box.bottom - sample.box.top == 200 and sample.box.right - sample.box.left == 200
    # 400 ROI pixels of a 200-px square scaled to 1024 and 128
    assert sample.roi_pixels_work == pytest.approx(400 * (1024 / 200) ** 2, rel=0.1)
    assert sample.mask.sum() == pytest.approx(400 * (128 / 200) ** 2, rel=0.15)
    no_mask = kth_cls_preprocess(image, None, KthClsParams(work_size=256, out_size=32))
    assert no_mask.mask is None and no_mask.image.shape == (32, 32)


def test_kth_cls_roi_outside_the_square_is_reported(rng):
    image = synthetic_mammogram((300, 200), rng)
    mask = np.zeros(image.shape, bool)
    mask[0:10, 0:10] = True  # the centre-of-mass square starts near row 50, so this ROI is cut away
    sample = kth_cls_preprocess(image, mask, KthClsParams(work_size=256, out_size=32))
    assert sample.box.top > 10 and sample.roi_pixels_work == 0 and not sample.mask.any()


# ------------------------------------------------------------------------------------------------- oulu-mass
@pytest.mark.parametrize("side, content_left", [("left", 0), ("right", 32)])
def test_fit_to_square_pads_away_from_the_chest_wall(side, content_left):
    image = np.full((100, 50), 900, np.uint16)
    mask = np.zeros((100, 50), bool)
    mask[50:60, 0:10] = True
    square, square_mask, fit = fit_to_square(image, 64, mask, chest_wall=side)
    assert square.shape == (64, 64) and square.dtype == np.uint16
    assert fit.scale == 0.64 and (fit.height, fit.width, fit.left) == (64, 32, content_left)
    content = np.zeros((64, 64), bool)
    content[:, content_left:content_left + 32] = True
    assert (square[content] == 900).all() and (square[~content] == 0).all()
    ys, xs = np.nonzero(square_mask)  # rows 50..59 -> [32, 38.4): rows 32..37 covered >= 0.5; columns 0..5
    assert (ys.min(), ys.max(), xs.min(), xs.max()) == (32, 37, content_left, content_left + 5)


# ------------------------------------------------------------------------------------------------- pig-ct
def test_plane_stacks_have_the_thesis_shapes_and_invert():
    volume = np.arange(10 * 6 * 4).reshape(10, 6, 4)  # (z, y, x)
    transverse, sagittal, coronal = (plane_stack(volume, p) for p in ("transverse", "sagittal", "coronal"))
    assert transverse.shape == (10, 6, 4) and sagittal.shape == (4, 6, 10) and coronal.shape == (6, 4, 10)
    np.testing.assert_array_equal(transverse[3], volume[3])
    np.testing.assert_array_equal(sagittal[2], volume[:, :, 2].T)  # rows y (height), columns z (length)
    np.testing.assert_array_equal(coronal[5], volume[:, 5, :].T)  # rows x, columns z
    for plane, stack in (("transverse", transverse), ("sagittal", sagittal), ("coronal", coronal)):
        np.testing.assert_array_equal(volume_from_plane_stack(stack, plane), volume)
    with pytest.raises(ConfigError, match="axial"):
        plane_stack(volume, "axial")


def test_pad_to_multiple_pads_the_end():
    padded = pad_to_multiple(np.ones((2, 5, 10)), 4, axes=(1, 2), value=-1000)
    assert padded.shape == (2, 8, 12)
    assert (padded[:, :5, :10] == 1).all() and (padded[:, 5:] == -1000).all() and (padded[:, :, 10:] == -1000).all()
    assert pad_to_multiple(np.ones((2, 512, 640)), 64, axes=(1, 2)).shape == (2, 512, 640)


def test_thesis_tiling_partitions_the_volume():
    origins = block_origins((512, 512, 700), 96)
    starts = sorted({o[0] for o in origins})
    assert starts == [0, 96, 192, 288, 384, 480] and len(origins) == 6 * 6 * 8  # 512 = 5 x 96 + 32 -> 6 blocks
    shape = (5, 7, 9)
    coverage = np.zeros((8, 8, 12), int)
    for z, y, x in block_origins(shape, 4):
        coverage[z:z + 4, y:y + 4, x:x + 4] += 1
    assert (coverage == 1).all()  # a partition of the padded volume: every voxel exactly once


def test_overlapping_blocks_cover_and_reassemble(rng):
    volume = rng.normal(size=(9, 10, 11)).astype(np.float32)
    origins = block_origins(volume.shape, 4, overlap=0.5)
    assert all(o[i] + 4 <= volume.shape[i] for o in origins for i in range(3))  # no padding needed
    blocks = [extract_block(volume, o, 4, pad_value=np.nan) for o in origins]
    np.testing.assert_allclose(assemble_blocks(blocks, origins, volume.shape), volume, rtol=1e-6)
    plain = block_origins(volume.shape, 4)
    padded_blocks = [extract_block(volume, o, 4, pad_value=-1000) for o in plain]
    assert padded_blocks[-1][-1, -1, -1] == -1000  # past the end: air
    np.testing.assert_allclose(assemble_blocks(padded_blocks, plain, volume.shape), volume, rtol=1e-6)
    with pytest.raises(ValueError, match="cover"):
        assemble_blocks(blocks[:1], origins[:1], volume.shape)


def test_random_block_origin_stays_inside(rng):
    for _ in range(50):
        z, y, x = random_block_origin((100, 96, 50), 96, rng)
        assert 0 <= z <= 4 and y == 0 and x == 0
