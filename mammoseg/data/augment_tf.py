"""In-graph (TensorFlow) augmentation: elastic deformation, flips, small rotations, colour distortion and CLAHE.

Everything here is a TensorFlow op that runs inside `tf.data` with no Python in the hot path. Random ops take a
stateless `seed` (shape [2] int tensor, as `tf.random.stateless_*`), so the pipeline can derive it from
(seed, epoch, position) and an interrupted run resumes on exactly the same augmentations.

Geometric transforms are *coordinate maps*: for every output pixel, the (fractional) source position to read.
Elastic displacement, a horizontal flip and a rotation compose into one map, and `ImageBank.bilinear` /
`ImageBank.nearest` then read a whole batch with four (image) and one (label) `tf.gather` calls. Image and label
are always read through the same map, the label by nearest neighbour so no new ids appear. On CPU, wrap the batch
step in `tf.function(jit_compile=True)`: XLA's fused gathers are ~4x faster than TensorFlow's gather kernel.

Elastic fields follow Simard et al. (2003) like the offline `mammoseg.data.augment`: the same `ElasticParams`
(alpha, sigma) give the same displacement statistics. Instead of smoothing per-pixel noise at full resolution, the
noise sits on a lattice sigma/2 px apart and the Gaussian is evaluated from the lattice to every pixel (two small
matmuls, see `CoarseElasticPlan`); docs/data-crops.md, section "In-graph versions", gives the correspondence.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from ..errors import DataError
from .augment import ElasticParams

BORDER_MODES = ("constant", "reflect")


# ------------------------------------------------------------------------------------------------ sampling maps
def _index_dtype(size) -> tf.DType:
    """int32 indices when a flat buffer of `size` elements is addressable by them (faster gathers), else int64."""
    return tf.int32 if size is not None and size < 2**31 - 1 else tf.int64


def _column(values, dtype):
    """A per-element value as a (B, 1, 1) tensor, to broadcast against (B, h, w) coordinate maps."""
    return tf.reshape(tf.cast(values, dtype), [-1, 1, 1])


class ImageBank:
    """2-D images of any sizes in one flat tensor, each framed by a 1-px ring of `fill`, for batched reads.

    Reads clamp coordinates into [-1, size] per axis, so any position outside an image lands on its ring: constant
    padding costs one clamp instead of a validity mask per neighbour. Build it from numpy (`ImageBank(arrays)`, a
    bank of full mammograms, once) or in-graph from a (B, H, W) batch (`ImageBank.from_batch`).
    """

    def __init__(self, arrays=None, fill=0, *, _tensors=None):
        if _tensors is not None:
            self.flat, self.base, self.height, self.width = _tensors
            return
        if isinstance(arrays, np.ndarray) and arrays.ndim == 3:
            arrays = list(arrays)
        arrays = [np.asarray(a) for a in arrays]
        if not arrays or any(a.ndim != 2 for a in arrays):
            raise DataError(None, "an image bank needs one or more 2-D arrays")
        framed = [np.pad(a, 1, constant_values=np.asarray(fill).astype(a.dtype)) for a in arrays]
        sizes = np.array([f.size for f in framed], np.int64)
        dtype = _index_dtype(int(sizes.sum())).as_numpy_dtype
        self.flat = tf.constant(np.concatenate([f.ravel() for f in framed]))
        self.base = tf.constant((np.cumsum(sizes) - sizes).astype(dtype))
        self.height = tf.constant(np.array([a.shape[0] for a in arrays], dtype))
        self.width = tf.constant(np.array([a.shape[1] for a in arrays], dtype))

    @classmethod
    def from_batch(cls, batch, fill=0) -> "ImageBank":
        batch = tf.convert_to_tensor(batch)
        shape = tf.shape(batch)
        count, height, width = shape[0], shape[1], shape[2]
        framed = tf.pad(batch, [[0, 0], [1, 1], [1, 1]], constant_values=tf.cast(fill, batch.dtype))
        return cls(_tensors=(tf.reshape(framed, [-1]), tf.range(count) * (height + 2) * (width + 2),
                             tf.fill([count], height), tf.fill([count], width)))

    def _geometry(self, index):
        dtype = self.base.dtype
        height, width = (_column(tf.gather(v, index), dtype) for v in (self.height, self.width))
        # flat position of pixel (0, 0): past the top ring row and the left ring column
        origin = _column(tf.gather(self.base, index), dtype) + width + 3
        return origin, height, width

    def bilinear(self, index, ys, xs):
        """float32 (B, h, w): image `index[b]` read bilinearly at (ys[b], xs[b]); outside: the fill value."""
        origin, height, width = self._geometry(index)
        ys = tf.clip_by_value(ys, -1.0, tf.cast(height, tf.float32))
        xs = tf.clip_by_value(xs, -1.0, tf.cast(width, tf.float32))
        y0 = tf.minimum(tf.floor(ys), tf.cast(height - 1, tf.float32))
        x0 = tf.minimum(tf.floor(xs), tf.cast(width - 1, tf.float32))
        fy, fx = ys - y0, xs - x0
        stride = width + 2
        top_left = origin + tf.cast(y0, origin.dtype) * stride + tf.cast(x0, origin.dtype)

        def read(offset):
            return tf.cast(tf.gather(self.flat, top_left + offset), tf.float32)

        a, b, c, d = read(0), read(1), read(stride), read(stride + 1)
        top, bottom = a + (b - a) * fx, c + (d - c) * fx
        return top + (bottom - top) * fy

    def nearest(self, index, ys, xs):
        """(B, h, w) of the bank's dtype: nearest pixel (rounding half up, like scipy's order=0); outside: fill."""
        origin, height, width = self._geometry(index)
        iy = tf.floor(tf.clip_by_value(ys, -1.0, tf.cast(height, tf.float32)) + 0.5)
        ix = tf.floor(tf.clip_by_value(xs, -1.0, tf.cast(width, tf.float32)) + 0.5)
        return tf.gather(self.flat, origin + tf.cast(iy, origin.dtype) * (width + 2) + tf.cast(ix, origin.dtype))


def _reflect(index, size):
    """Half-sample symmetric reflection (scipy's mode="reflect": d c b a | a b c d | d c b a)."""
    period = 2 * size
    wrapped = tf.math.floormod(index, period)
    return tf.where(wrapped >= size, period - 1 - wrapped, wrapped)


def _reflect_read(batch, ys, xs, order: int):
    """Bilinear (order 1, float32) or nearest (order 0, dtype kept) reads of a (B, H, W) batch, scipy's reflect."""
    batch = tf.convert_to_tensor(batch)
    shape = tf.shape(batch)
    height, width = shape[1], shape[2]
    flat = tf.reshape(batch, [-1])
    base = _column(tf.range(shape[0]) * height * width, tf.int32)

    def read(iy, ix):
        return tf.gather(flat, base + _reflect(iy, height) * width + _reflect(ix, width))

    if order == 0:
        return read(tf.cast(tf.floor(ys + 0.5), tf.int32), tf.cast(tf.floor(xs + 0.5), tf.int32))
    y0f, x0f = tf.floor(ys), tf.floor(xs)
    fy, fx = ys - y0f, xs - x0f
    y0, x0 = tf.cast(y0f, tf.int32), tf.cast(x0f, tf.int32)
    a, b, c, d = (tf.cast(read(y0 + dy, x0 + dx), tf.float32) for dy, dx in ((0, 0), (0, 1), (1, 0), (1, 1)))
    top, bottom = a + (b - a) * fx, c + (d - c) * fx
    return top + (bottom - top) * fy


def _warp(batch, ys, xs, mode: str, fill, order: int):
    """Reads of a (B, H, W) batch at (B, h, w) coordinates: order 1 bilinear, order 0 nearest neighbour."""
    if mode not in BORDER_MODES:
        raise ValueError(f"border mode must be one of {BORDER_MODES}, got {mode!r}")
    if mode == "reflect":
        return _reflect_read(batch, ys, xs, order=order)
    bank = ImageBank.from_batch(batch, fill)
    read = bank.bilinear if order == 1 else bank.nearest
    return read(tf.range(tf.shape(bank.base)[0]), ys, xs)


def warp_images(images, ys, xs, mode: str = "constant", fill=0.0):
    """Bilinear reads of a (B, H, W) batch at (B, h, w) coordinates (no labels to carry along)."""
    return _warp(images, ys, xs, mode, fill, order=1)


def warp_labels(labels, ys, xs, mode: str = "constant", fill=0):
    """Nearest-neighbour reads of a (B, H, W) label batch: no new ids can appear."""
    return _warp(labels, ys, xs, mode, fill, order=0)


def remap(images, labels, ys, xs, mode: str = "constant", image_fill=0.0, label_fill=0):
    """Read a (B, H, W) image batch bilinearly and its labels by nearest neighbour at the same coordinates."""
    return warp_images(images, ys, xs, mode, image_fill), warp_labels(labels, ys, xs, mode, label_fill)


def identity_grid(height: int, width: int):
    """(ys, xs), each (1, height, width) float32: output pixel (y, x) reads source (y, x)."""
    ys, xs = tf.meshgrid(tf.range(height, dtype=tf.float32), tf.range(width, dtype=tf.float32), indexing="ij")
    return ys[None], xs[None]


def flip_maps_where(flip, ys, xs):
    """Mirror the coordinate maps of the elements where `flip` (B,) is true: a horizontal flip of the output."""
    flip = tf.reshape(tf.cast(flip, tf.bool), [-1, 1, 1])
    return tf.where(flip, tf.reverse(ys, [2]), ys), tf.where(flip, tf.reverse(xs, [2]), xs)


def rotation_maps(height: int, width: int, angles):
    """Maps that rotate each (height, width) output by `angles` (B,) radians about the image centre."""
    ys, xs = identity_grid(height, width)
    cy, cx = (tf.cast(height, tf.float32) - 1.0) / 2.0, (tf.cast(width, tf.float32) - 1.0) / 2.0
    cos = tf.reshape(tf.cos(tf.cast(angles, tf.float32)), [-1, 1, 1])
    sin = tf.reshape(tf.sin(tf.cast(angles, tf.float32)), [-1, 1, 1])
    dy, dx = ys - cy, xs - cx
    return cy + cos * dy - sin * dx, cx + sin * dy + cos * dx


def rotate(images, labels, angles, image_fill=0.0, label_fill=0):
    """Rotate a (B, H, W) batch and its labels by `angles` (B,) radians; uncovered corners take the fill values."""
    shape = tf.shape(images)
    ys, xs = rotation_maps(shape[1], shape[2], angles)
    return remap(images, labels, ys, xs, "constant", image_fill, label_fill)


def random_rotation_angles(seed, count: int = 1, max_degrees: float = 5.0):
    """`count` angles (radians) uniform in [-max_degrees, +max_degrees] (kth-cls: ±5°, L1404-1406)."""
    limit = math.radians(max_degrees)
    return tf.random.stateless_uniform([count], seed, minval=-limit, maxval=limit)


# ------------------------------------------------------------------------------------------------ elastic
def simard_rms(alpha: float, sigma: float) -> float:
    """Per-axis RMS displacement of the offline field: alpha * sqrt(1/3) * ||G_sigma||_2 (U(-1, 1) noise).

    On a pixel grid ||G_sigma||_2 = erf(pi sigma) / (2 sqrt(pi) sigma), which is 1 / (2 sqrt(pi) sigma) to within
    1e-4 relative for sigma >= 1.
    """
    return alpha * math.sqrt(1.0 / 3.0) * math.erf(math.pi * sigma) / (2.0 * math.sqrt(math.pi) * sigma)


def _lattice_kernel(length: int, sigma: float, spacing: float, reach: float) -> np.ndarray:
    """(length, nodes): Gaussian weight of each lattice node (spacing apart, `reach` beyond both ends) per pixel."""
    count = int(math.ceil((length - 1 + 2 * reach) / spacing)) + 1
    nodes = -reach + spacing * np.arange(count)
    return np.exp(-0.5 * ((np.arange(length)[:, None] - nodes[None, :]) / sigma) ** 2)


@dataclass(frozen=True, eq=False)
class CoarseElasticPlan:
    """How to draw a Simard displacement field of `shape` cheaply, with the statistics of the offline one.

    The offline field is alpha * (G_sigma * white U(-1, 1) noise): a stationary Gaussian field with covariance
    rms^2 * exp(-r^2 / (4 sigma^2)). Here white N(0, 1) noise sits on a coarse lattice (nodes sigma/2, at least 1,
    px apart, reaching 4 sigma past the field's edges) and the Gaussian G_sigma is evaluated from every node to
    every pixel: field = matrix_y @ noise @ matrix_x.T, two small matmuls per field, no full-resolution blur and no
    interpolation. Sum_k g(y - y_k) g(y' - y_k) over a lattice equals the continuous integral up to terms of
    order exp(-pi^2 sigma^2 / spacing^2) = exp(-4 pi^2) ~ 7e-18 (Poisson summation), so the covariance is the
    offline one; `gain` (folded into matrix_y) sets the per-axis RMS to `simard_rms(alpha, sigma)`. Cost:
    (2 (S / sigma + 8))^2 noise values and ~2 S^2 (2 S / sigma + 16) multiply-adds per field pair of an S x S crop.
    """
    shape: tuple[int, int]
    params: ElasticParams
    matrix_y: np.ndarray  # (H, rows), gain included
    matrix_x: np.ndarray  # (W, cols)

    @property
    def noise_shape(self) -> tuple[int, int, int]:
        """(2 fields, rows, cols) of lattice noise for one field pair."""
        return (2, self.matrix_y.shape[1], self.matrix_x.shape[1])

    @property
    def rms(self) -> float:
        return simard_rms(self.params.alpha, self.params.sigma)


def coarse_elastic_plan(shape, params: ElasticParams, nodes_per_sigma: float = 2.0) -> CoarseElasticPlan:
    """The plan for fields of `shape` (int or (H, W)) with `params`; lattice nodes sigma / nodes_per_sigma apart."""
    if params.alpha < 0 or params.sigma <= 0:
        raise ValueError(f"elastic alpha must be >= 0 and sigma > 0, got {params}")
    shape = (int(shape), int(shape)) if np.isscalar(shape) else tuple(int(n) for n in shape)
    spacing = max(1.0, params.sigma / nodes_per_sigma)
    ky, kx = (_lattice_kernel(n, params.sigma, spacing, 4.0 * params.sigma) for n in shape)
    # variance of one field at a pixel = sum_k ky[y, k]^2 * sum_k kx[x, k]^2; the mean over pixels is normalised
    node_std = math.sqrt(float(np.mean(np.sum(ky**2, axis=1))) * float(np.mean(np.sum(kx**2, axis=1))))
    gain = simard_rms(params.alpha, params.sigma) / node_std
    return CoarseElasticPlan(shape=shape, params=params, matrix_y=(ky * gain).astype(np.float32),
                             matrix_x=kx.astype(np.float32))


def elastic_noise(plan: CoarseElasticPlan, seed):
    """The lattice N(0, 1) noise of one field pair (small: draw it per element, then batch)."""
    return tf.random.stateless_normal(plan.noise_shape, seed)


def elastic_fields(plan: CoarseElasticPlan, noise, strength=None):
    """(B, 2, H, W) displacements (dy, dx) in pixels, laid out like `augment.displacement_field`, from
    (B, 2, rows, cols) lattice noise. `strength` (B,) scales each element's field (0.0: no deformation).
    """
    noise = tf.convert_to_tensor(noise, tf.float32)
    if strength is not None:
        noise = noise * tf.reshape(tf.cast(strength, tf.float32), [-1, 1, 1, 1])
    rows = tf.einsum("yi,bcij->bcyj", tf.constant(plan.matrix_y), noise)
    return tf.matmul(rows, tf.constant(plan.matrix_x), transpose_b=True)


def elastic_warp(images, labels, fields, mode: str = "reflect", image_fill=0.0, label_fill=0):
    """output[y, x] = input[y + dy, x + dx] for a (B, H, W) batch and (B, 2, H, W) fields: `augment.warp_pair`'s
    in-graph twin. Image bilinear (float32 out), label nearest (dtype kept), one shared field; with
    `mode="reflect"` (scipy's reflect) and the same field the result equals `warp_pair` (tested).
    """
    fields = tf.convert_to_tensor(fields, tf.float32)
    shape = tf.shape(images)
    ys, xs = identity_grid(shape[1], shape[2])
    return remap(images, labels, ys + fields[:, 0], xs + fields[:, 1], mode, image_fill, label_fill)


def random_elastic(images, labels, seed, params: ElasticParams, mode: str = "reflect"):
    """Elastic deformation of a (B, H, W) batch (static H, W), one field per element, all from one seed."""
    images = tf.convert_to_tensor(images)
    plan = coarse_elastic_plan(tuple(images.shape[1:3]), params)
    noise = tf.random.stateless_normal(tf.concat([tf.shape(images)[:1], plan.noise_shape], 0), seed)
    return elastic_warp(images, labels, elastic_fields(plan, noise), mode)


# ------------------------------------------------------------------------------------------------ intensity
def adjust_contrast_where(x, apply, factor):
    """(x - mean) * factor + mean, clipped to [0, 1], for the elements of a [0, 1] batch where `apply` (B,)."""
    keep = [-1] + [1] * (x.shape.rank - 1)
    mean = tf.reduce_mean(x, axis=list(range(1, x.shape.rank)), keepdims=True)
    contrasted = tf.clip_by_value((x - mean) * tf.reshape(factor, keep) + mean, 0.0, 1.0)
    return tf.where(tf.reshape(tf.cast(apply, tf.bool), keep), contrasted, x)


@dataclass(frozen=True)
class ColourDistortion:
    """Cityscapes training distortions of `kth-seg` (L1410-1416): each applied with probability `p`.

    The thesis gives no ranges; these are TensorFlow's usual tutorial values (our choice, docs/data-crops.md).
    """
    p: float = 0.5
    saturation: tuple[float, float] = (0.8, 1.2)
    max_brightness_delta: float = 0.2  # on the [0, 1] scale
    contrast: tuple[float, float] = (0.8, 1.2)


def distort_colour(image, seed, cfg: ColourDistortion = ColourDistortion()):
    """Random saturation, brightness and contrast (in the thesis' order) of one RGB image in [0, 1]."""
    image = tf.convert_to_tensor(image, tf.float32)
    coins_seed, sat_seed, bright_seed, con_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 4))
    coins = tf.random.stateless_uniform([3], coins_seed) < cfg.p
    saturated = tf.image.stateless_random_saturation(image, *cfg.saturation, seed=sat_seed)
    image = tf.where(coins[0], saturated, image)
    brightened = tf.image.stateless_random_brightness(image, cfg.max_brightness_delta, seed=bright_seed)
    image = tf.where(coins[1], brightened, image)
    contrasted = tf.image.stateless_random_contrast(image, *cfg.contrast, seed=con_seed)
    image = tf.where(coins[2], contrasted, image)
    return tf.clip_by_value(image, 0.0, 1.0)


# ------------------------------------------------------------------------------------------------ CLAHE
def _clahe_histogram_size(dtype: tf.DType) -> int:
    if dtype == tf.uint8:
        return 256
    if dtype == tf.uint16:
        return 65536
    raise DataError(None, f"CLAHE needs a uint8 or uint16 image, got {dtype.name}")


def _clip_and_redistribute(hist, clip, hist_size: int):
    """OpenCV's clipping: cut bins at `clip`, spread the excess evenly, the remainder on every `step`-th bin."""
    excess = tf.reduce_sum(tf.maximum(hist - clip, 0), axis=1, keepdims=True)
    hist = tf.minimum(hist, clip)
    batch, residual = excess // hist_size, excess % hist_size
    step = tf.maximum(hist_size // tf.maximum(residual, 1), 1)
    bins = tf.range(hist_size, dtype=hist.dtype)[None]
    extra = tf.cast((bins % step == 0) & (bins // step < residual), hist.dtype)
    return hist + batch + extra


def _tile_coordinates(length, tile, tiles: int):
    """OpenCV's interpolation weights along one axis: lower/upper tile index and the upper weight, float32."""
    t = tf.cast(tf.range(length), tf.float32) * (1.0 / tf.cast(tile, tf.float32)) - 0.5
    low = tf.floor(t)
    weight = t - low
    low = tf.cast(low, tf.int32)
    return tf.maximum(low, 0), tf.minimum(low + 1, tiles - 1), weight


def clahe(image, clip_limit: float = 40.0, tile_grid: tuple[int, int] = (8, 8)):
    """Contrast-limited adaptive histogram equalisation of one 2-D uint8/uint16 image, OpenCV's algorithm.

    Same meaning of the arguments as `cv2.createCLAHE(clipLimit, tileGridSize=(cols, rows))` except that
    `tile_grid` is (rows, cols); matches OpenCV to within 1 grey level (tests/test_augment_tf.py). The image is
    padded bottom/right by reflect-101 to a multiple of the grid for the histograms (OpenCV pads both axes as soon as
    one is not divisible, and so do we); per-tile histograms are clipped at clip_limit * tile_area / bins (at
    least 1), mapped through their cumulative sums, and each pixel blends the maps of its four nearest tile centres.
    """
    image = tf.convert_to_tensor(image)
    hist_size = _clahe_histogram_size(image.dtype)
    rows, cols = (int(n) for n in tile_grid)
    if image.shape.rank != 2:
        raise DataError(None, f"CLAHE needs a 2-D image, got shape {image.shape}")
    values = tf.cast(image, tf.int32)
    height, width = tf.shape(values)[0], tf.shape(values)[1]
    divisible = tf.logical_and(height % rows == 0, width % cols == 0)
    pad_y = tf.where(divisible, 0, rows - height % rows)
    pad_x = tf.where(divisible, 0, cols - width % cols)
    padded = tf.pad(values, [[0, pad_y], [0, pad_x]], mode="REFLECT")
    tile_h, tile_w = (height + pad_y) // rows, (width + pad_x) // cols
    tiles = tf.reshape(tf.transpose(tf.reshape(padded, [rows, tile_h, cols, tile_w]), [0, 2, 1, 3]),
                       [rows * cols, tile_h * tile_w])
    binned = tiles + tf.range(rows * cols)[:, None] * hist_size
    hist = tf.reshape(tf.math.bincount(tf.reshape(binned, [-1]), minlength=rows * cols * hist_size,
                                       maxlength=rows * cols * hist_size), [rows * cols, hist_size])
    area = tile_h * tile_w
    if clip_limit > 0:
        clip = tf.maximum(tf.cast(clip_limit * tf.cast(area, tf.float64) / hist_size, tf.int32), 1)
        hist = _clip_and_redistribute(hist, clip, hist_size)
    scale = tf.constant(hist_size - 1, tf.float32) / tf.cast(area, tf.float32)
    lut = tf.clip_by_value(tf.round(tf.cast(tf.cumsum(hist, axis=1), tf.float32) * scale), 0, hist_size - 1)
    lut = tf.reshape(lut, [-1])

    y1, y2, wy = _tile_coordinates(height, tile_h, rows)
    x1, x2, wx = _tile_coordinates(width, tile_w, cols)

    def mapped(ty, tx):
        return tf.gather(lut, (ty[:, None] * cols + tx[None, :]) * hist_size + values)

    wx, wy = wx[None, :], wy[:, None]
    top = mapped(y1, x1) * (1.0 - wx) + mapped(y1, x2) * wx
    bottom = mapped(y2, x1) * (1.0 - wx) + mapped(y2, x2) * wx
    out = top * (1.0 - wy) + bottom * wy
    return tf.cast(tf.clip_by_value(tf.round(out), 0, hist_size - 1), image.dtype)
