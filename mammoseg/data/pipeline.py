"""tf.data input pipeline of `kth-seg` §4.3: crop-store arrays -> augmented, normalised, batched tensors.

Every random decision is a *stateless* function of (seed, epoch, position in epoch), so an epoch's batches are the
same whether training ran straight through or was killed and resumed: exact resume needs no iterator state.

Training element: random crop of `input_size` from a stored crop, horizontal flip p=0.5 (image and label),
random contrast p=0.5 (image only), grayscale -> RGB, scaling to [-0.5, 0.5] by `max_value`.
Validation element: the centre crop of `input_size`, no augmentation.

`images` / `labels` are in-memory arrays (copied into the graph once) or crops left on disk
(`mammoseg.io.store.open_crop_store`: np.memmap or H5CropArray), read one batch of indices per Python call, so a
store larger than memory trains with memory bounded by a few batches. Both give bit-identical batches: the
indices, seeds and per-element augmentation are the same; only the gather differs.

Two more training pipelines draw their examples in-graph (`mammoseg.data.sampling_tf`, `mammoseg.data.augment_tf`):
`crop_dataset` cuts class-balanced / uniform / foreground-oversampled crops on the fly from full label maps (or a
crop store's larger crops), with elastic deformation, flip and contrast; `classification_dataset` gives `kth-cls`
class-balanced batches with flip, rotation and optional CLAHE. Same stateless seeding, so both resume exactly.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from ..errors import ConfigError
from .augment import ElasticParams, elastic_params_for
from .augment_tf import (ImageBank, adjust_contrast_where, clahe, coarse_elastic_plan, elastic_fields,
                         elastic_noise, flip_maps_where, random_rotation_angles, rotation_maps, warp_images)
from .sampling import MAMMO_EXCLUDE_IDS
from .sampling_tf import CentreIndex, ClassBalancedIndex, foreground_forced, uniform_centre


@dataclass(frozen=True)
class PipelineConfig:
    input_size: int
    batch_size: int  # global batch
    max_value: float  # intensity that maps to +0.5 (e.g. 4095 for 12-bit data stored in uint16)
    rgb: bool = True
    flip_p: float = 0.5
    contrast_p: float = 0.5
    contrast_range: tuple[float, float] = (0.8, 1.2)  # thesis silent: tf.image.random_contrast's usual range
    seed: int = 0


def intensity_max(images: np.ndarray) -> float:
    """Smallest 2**k - 1 covering the data: 12-bit data in uint16 scales by 4095, not 65535."""
    top = float(np.max(images)) if images.size else 1.0
    bits = max(1, int(np.ceil(np.log2(top + 1))))
    return float(2 ** bits - 1)


def normalise(image, max_value: float, rgb: bool = True):
    """(…,H,W) or (…,H,W,1) intensities -> float32 in [-0.5, 0.5], 3 channels if rgb."""
    x = tf.cast(image, tf.float32) / max_value - 0.5
    if x.shape.rank is not None and (x.shape[-1] != 1 or x.shape.rank == 2):
        x = x[..., None]
    return tf.image.grayscale_to_rgb(x) if rgb else x


def element_seed(seed: int, epoch, position, salt: int):
    """The stateless seed of one random decision: a function of (seed, epoch, position in epoch, salt) only."""
    return tf.stack([tf.cast(seed * 1000003 + salt, tf.int64),
                     tf.cast(epoch, tf.int64) * 1_000_000_007 + tf.cast(position, tf.int64)])


def _seed(cfg: PipelineConfig, epoch, position, salt: int):
    return element_seed(cfg.seed, epoch, position, salt)


def _augment(image, label, cfg: PipelineConfig, epoch, position):
    s = cfg.input_size
    h, w = tf.shape(image)[0], tf.shape(image)[1]
    offs = tf.random.stateless_uniform([2], _seed(cfg, epoch, position, 1), minval=0, maxval=2**30, dtype=tf.int64)
    top = tf.cast(offs[0] % tf.cast(h - s + 1, tf.int64), tf.int32)
    left = tf.cast(offs[1] % tf.cast(w - s + 1, tf.int64), tf.int32)
    image = image[top:top + s, left:left + s]
    label = label[top:top + s, left:left + s]
    u = tf.random.stateless_uniform([3], _seed(cfg, epoch, position, 2))
    flip = u[0] < cfg.flip_p
    image = tf.where(flip, tf.reverse(image, [1]), image)
    label = tf.where(flip, tf.reverse(label, [1]), label)
    x = tf.cast(image, tf.float32) / cfg.max_value
    lo, hi = cfg.contrast_range
    factor = lo + (hi - lo) * u[2]
    mean = tf.reduce_mean(x)
    x = tf.where(u[1] < cfg.contrast_p, tf.clip_by_value((x - mean) * factor + mean, 0.0, 1.0), x)
    return x * cfg.max_value, label


def _finish(image, label, cfg: PipelineConfig):
    s = cfg.input_size
    x = normalise(tf.reshape(image, [s, s]), cfg.max_value, cfg.rgb)
    return x, tf.cast(tf.reshape(label, [s, s]), tf.int32)


def _check(images, labels, cfg: PipelineConfig) -> None:
    if tuple(images.shape) != tuple(labels.shape) or images.ndim != 3:
        raise ConfigError(f"images {images.shape} and labels {labels.shape} must both be (N, H, W)")
    if min(images.shape[1:]) < cfg.input_size:
        raise ConfigError(f"stored crops {images.shape[1:]} are smaller than the model input {cfg.input_size}")
    if len(images) == 0:
        raise ConfigError("no crops to train on")


def steps_per_epoch(num_examples: int, batch_size: int) -> int:
    return max(1, num_examples // batch_size)


def _crop_reader(images, labels, rows: slice = slice(None), cols: slice = slice(None)):
    """fn(indices (k,)) -> (images, labels) (k, h, w) tensors of the `rows` x `cols` window of those crops.

    Plain in-memory arrays become graph constants and a tf.gather; anything else (memmap, H5CropArray) is read
    by one numpy call per batch of indices, so the store is never loaded whole and no Python runs per element.
    """
    if type(images) is np.ndarray and type(labels) is np.ndarray:
        images_t, labels_t = tf.constant(images[:, rows, cols]), tf.constant(labels[:, rows, cols])
        return lambda indices: (tf.gather(images_t, indices), tf.gather(labels_t, indices))
    window = (None, len(range(*rows.indices(images.shape[1]))), len(range(*cols.indices(images.shape[2]))))
    dtypes = [tf.as_dtype(np.dtype(images.dtype)), tf.as_dtype(np.dtype(labels.dtype))]

    def read(indices):
        return (np.ascontiguousarray(images[indices, rows, cols]), np.ascontiguousarray(labels[indices, rows, cols]))

    def gather(indices):
        image, label = tf.numpy_function(read, [indices], dtypes, stateful=False)
        image.set_shape(window)
        label.set_shape(window)
        return image, label

    return gather


def train_dataset(images, labels, cfg: PipelineConfig, start_epoch: int = 0) -> tf.data.Dataset:
    """Endless dataset of augmented batches; epoch e's order is a stateless shuffle seeded by (seed, e).

    The epoch's indices are batched, each batch of crops read at once (`_crop_reader`), then split again so every
    element is augmented on its own, exactly as the in-memory pipeline does.
    """
    _check(images, labels, cfg)
    n = len(images)
    per_epoch = steps_per_epoch(n, cfg.batch_size) * cfg.batch_size  # drop the remainder, fixed epoch length
    read = _crop_reader(images, labels)

    def epoch_elements(epoch):
        order = tf.random.experimental.stateless_shuffle(tf.range(n), seed=_seed(cfg, epoch, 0, 0))[:per_epoch]
        return tf.data.Dataset.from_tensor_slices(order).enumerate().map(lambda pos, idx: (epoch, pos, idx))

    def augment(epoch, pos, image, label):
        return _finish(*_augment(image, label, cfg, epoch, pos), cfg)

    ds = tf.data.Dataset.range(start_epoch, 2**62).flat_map(epoch_elements)
    ds = ds.batch(cfg.batch_size, drop_remainder=True)  # per_epoch is a multiple: batches never straddle epochs
    ds = ds.map(lambda epoch, pos, idx: (epoch, pos, *read(idx)), num_parallel_calls=tf.data.AUTOTUNE,
                deterministic=True)
    ds = ds.unbatch().map(augment, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.batch(cfg.batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def eval_dataset(images, labels, cfg: PipelineConfig) -> tf.data.Dataset:
    """Finite dataset of centre crops (no augmentation), last partial batch kept."""
    _check(images, labels, cfg)
    s = cfg.input_size
    top, left = (images.shape[1] - s) // 2, (images.shape[2] - s) // 2
    read = _crop_reader(images, labels, slice(top, top + s), slice(left, left + s))

    def finish(indices):
        image, label = read(indices)
        return normalise(image[..., None], cfg.max_value, cfg.rgb), tf.cast(label, tf.int32)

    ds = tf.data.Dataset.range(len(images)).batch(cfg.batch_size)
    return ds.map(finish, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(tf.data.AUTOTUNE)


# ------------------------------------------------------------------------------------------ on-the-fly crops
SAMPLERS = ("class_balanced", "uniform", "foreground")
_SALT_ORDER, _SALT_CENTRE, _SALT_COINS, _SALT_FIELD = 10, 11, 12, 13


@dataclass(frozen=True)
class CropPipelineConfig:
    """Crops drawn in-graph from full images: `kth-seg`'s crop datasets (§4.1) made on the fly, plus §4.3's flip."""
    crop_size: int
    batch_size: int  # global batch
    max_value: float
    sampler: str = "class_balanced"  # | "uniform" | "foreground" (nnU-Net oversampling)
    exclude_ids: tuple[int, ...] = MAMMO_EXCLUDE_IDS  # never a centre class; for "foreground": the background ids
    foreground_fraction: float = 0.33  # nnU-Net v2's oversample_foreground_percent
    crops_per_image: int = 50  # an epoch visits every image this often (thesis: ~50 crops per image, docs)
    elastic_p: float = 0.25  # thesis L879-886
    elastic: ElasticParams | None = None  # None: elastic_params_for(crop_size)
    flip_p: float = 0.5
    contrast_p: float = 0.5
    contrast_range: tuple[float, float] = (0.8, 1.2)
    rgb: bool = True
    image_pad: float = 0.0  # outside the image: dark air, as in the offline crops
    label_pad: int = 0  # background
    seed: int = 0
    xla: bool = True  # compile the per-batch crop cutting with XLA (same numbers up to float rounding)


def _as_maps(arrays, what: str) -> list[np.ndarray]:
    maps = list(arrays) if isinstance(arrays, np.ndarray) and arrays.ndim == 3 else [np.asarray(a) for a in arrays]
    if not maps or any(np.ndim(m) != 2 for m in maps):
        raise ConfigError(f"need one or more 2-D {what}s, as an (N, H, W) array or a list")
    return maps


def _crop_maps(cy, cx, size: int, flip, fields=None):
    """Source coordinates of (B, size, size) crops centred at (cy, cx) (centre index size // 2), mirrored where
    `flip`. The mirror is a reversed x grid; the field is added in the output frame. Elastic-then-flip would
    mirror the field too, but the field's law is mirror-symmetric, so the crops are distributed identically.
    """
    steps = tf.range(size, dtype=tf.float32)
    ys = tf.cast(cy - size // 2, tf.float32)[:, None, None] + steps[None, :, None]
    flip = tf.cast(flip, tf.bool)
    left = tf.cast(cx - size // 2, tf.float32) + tf.where(flip, float(size - 1), 0.0)
    xs = left[:, None, None] + tf.where(flip, -1.0, 1.0)[:, None, None] * steps[None, None, :]
    if fields is None:
        shape = tf.stack([tf.shape(ys)[0], size, size])
        return tf.broadcast_to(ys, shape), tf.broadcast_to(xs, shape)
    return ys + fields[:, 0], xs + fields[:, 1]


def _check_crop_config(cfg: CropPipelineConfig) -> None:
    if cfg.sampler not in SAMPLERS:
        raise ConfigError(f"sampler must be one of {SAMPLERS}, got {cfg.sampler!r}")
    if cfg.crop_size <= 0 or cfg.batch_size <= 0 or cfg.crops_per_image <= 0:
        raise ConfigError("crop_size, batch_size and crops_per_image must be positive")


def _centre_sampler(cfg: CropPipelineConfig, labels, shapes: np.ndarray):
    """fn(position, image index, seed) -> (cy, cx) for the configured sampler."""
    shapes_t = tf.constant(shapes)

    def uniform(b, seed):
        return uniform_centre(shapes_t[b, 0], shapes_t[b, 1], seed)

    if cfg.sampler == "uniform":
        return lambda pos, b, seed: uniform(b, seed)
    index = CentreIndex(labels, cfg.exclude_ids)
    if cfg.sampler == "class_balanced":
        return lambda pos, b, seed: index.centre(b, seed)[:2]

    def foreground(pos, b, seed):
        forced = foreground_forced(pos, cfg.batch_size, cfg.foreground_fraction)
        fy, fx, _ = index.centre(b, seed)
        uy, ux = uniform(b, seed)
        return tf.where(forced, fy, uy), tf.where(forced, fx, ux)

    return foreground


def crop_dataset(images, labels, cfg: CropPipelineConfig, start_epoch: int = 0) -> tf.data.Dataset:
    """Endless batches of crops sampled, cut and augmented in-graph from full images (any sizes) and label maps.

    Per element (cheap, parallel map): an image from the epoch's stateless shuffle, a centre by `cfg.sampler`, the
    flip / elastic / contrast coins and the lattice noise of the elastic field. Per batch (one map after
    `.batch()`): the elastic fields (two matmuls), one coordinate map per crop (centre + displacement, mirrored
    when flipped), four bilinear gathers for the images and one nearest gather for the labels straight from the
    image bank (outside an image: the pad values, like the offline crops), contrast, [-0.5, 0.5] scaling and
    gray -> RGB.
    """
    _check_crop_config(cfg)
    image_maps, label_maps = _as_maps(images, "image"), _as_maps(labels, "label map")
    if [m.shape for m in image_maps] != [m.shape for m in label_maps]:
        raise ConfigError("images and label maps differ in number or size")
    if not all(np.issubdtype(m.dtype, np.integer) for m in label_maps):
        raise ConfigError("label maps must be integer arrays")
    shapes = np.array([m.shape for m in label_maps], np.int64)
    centre = _centre_sampler(cfg, label_maps, shapes)
    plan = coarse_elastic_plan(cfg.crop_size, cfg.elastic or elastic_params_for(cfg.crop_size))
    image_bank, label_bank = ImageBank(image_maps, cfg.image_pad), ImageBank(label_maps, cfg.label_pad)
    n, s = len(shapes), cfg.crop_size
    per_epoch = steps_per_epoch(n * cfg.crops_per_image, cfg.batch_size) * cfg.batch_size
    lo, hi = cfg.contrast_range

    def epoch_elements(epoch):
        visits = tf.range(n * cfg.crops_per_image, dtype=tf.int64) % n
        order = tf.random.experimental.stateless_shuffle(visits, seed=element_seed(cfg.seed, epoch, 0, _SALT_ORDER))
        return tf.data.Dataset.from_tensor_slices(order[:per_epoch]).enumerate().map(
            lambda pos, b: (epoch, pos, b))

    def draw(epoch, pos, b):
        cy, cx = centre(pos, b, element_seed(cfg.seed, epoch, pos, _SALT_CENTRE))
        u = tf.random.stateless_uniform([4], element_seed(cfg.seed, epoch, pos, _SALT_COINS))
        element = {"image": b, "cy": cy, "cx": cx, "flip": u[0] < cfg.flip_p, "elastic": u[1] < cfg.elastic_p,
                   "contrast": u[2] < cfg.contrast_p, "contrast_factor": lo + (hi - lo) * u[3]}
        if cfg.elastic_p > 0:
            element["noise"] = elastic_noise(plan, element_seed(cfg.seed, epoch, pos, _SALT_FIELD))
        return element

    def cut(el):
        fields = elastic_fields(plan, el["noise"], tf.cast(el["elastic"], tf.float32)) if cfg.elastic_p > 0 else None
        ys, xs = _crop_maps(el["cy"], el["cx"], s, el["flip"], fields)
        image = image_bank.bilinear(el["image"], ys, xs) / cfg.max_value
        label = label_bank.nearest(el["image"], ys, xs)
        if cfg.contrast_p > 0:
            image = adjust_contrast_where(image, el["contrast"], el["contrast_factor"])
        return normalise(image, 1.0, rgb=False), tf.cast(label, tf.int32)

    # XLA fuses the coordinate arithmetic with the gathers (~4x faster than TF's own gather kernel on CPU); the
    # gray -> RGB copy stays outside, where XLA would otherwise recompute the gathers once per channel.
    cut_batch = tf.function(cut, jit_compile=True) if cfg.xla else cut

    def render(el):
        image, label = cut_batch(el)
        return (tf.image.grayscale_to_rgb(image) if cfg.rgb else image), label

    ds = tf.data.Dataset.range(start_epoch, 2**62).flat_map(epoch_elements)
    ds = ds.map(draw, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.batch(cfg.batch_size, drop_remainder=True)
    ds = ds.map(render, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE)


# ------------------------------------------------------------------------------------------ classification
_SALT_CLASS, _SALT_GEOMETRY = 20, 21


@dataclass(frozen=True)
class ClassifierPipelineConfig:
    """`kth-cls` training input (L1404-1420): class-balanced draws, random flip and rotation, [0, 1] scaling."""
    batch_size: int
    steps_per_epoch: int  # thesis: 5000 steps of 50 images per "epoch"
    max_value: float  # intensity mapped to 1.0
    flip_p: float = 0.5
    max_rotation_deg: float = 5.0
    clahe_clip: float | None = None  # OpenCV clipLimit of an in-pipeline CLAHE (uint8/uint16 images); None: off
    clahe_grid: tuple[int, int] = (8, 8)
    seed: int = 0


def classification_dataset(images: np.ndarray, class_ids, cfg: ClassifierPipelineConfig,
                           start_epoch: int = 0) -> tf.data.Dataset:
    """Endless (x (B, H, W, 1) float32 in [0, 1], class id (B,) int32) batches with P(class) = 1/K per example.

    Rotated corners are filled with 0 (the dark surroundings of a mammogram; thesis silent).
    """
    images = np.asarray(images)
    if images.ndim != 3 or len(images) != len(class_ids):
        raise ConfigError(f"images must be (N, H, W) with one class id each, got {images.shape} and "
                          f"{len(class_ids)} ids")
    balanced = ClassBalancedIndex(class_ids)
    images_t = tf.constant(images)
    per_epoch = cfg.steps_per_epoch * cfg.batch_size

    def epoch_elements(epoch):
        return tf.data.Dataset.range(per_epoch).map(lambda pos: (epoch, pos))

    def draw(epoch, pos):
        index, class_id = balanced.draw(element_seed(cfg.seed, epoch, pos, _SALT_CLASS))
        image = images_t[index]
        if cfg.clahe_clip is not None:
            image = clahe(image, cfg.clahe_clip, cfg.clahe_grid)
        geometry_seed = element_seed(cfg.seed, epoch, pos, _SALT_GEOMETRY)
        flip = tf.random.stateless_uniform([], geometry_seed) < cfg.flip_p
        angle = random_rotation_angles(tf.random.experimental.stateless_fold_in(geometry_seed, 1), 1,
                                       cfg.max_rotation_deg)[0]
        return image, tf.cast(class_id, tf.int32), flip, angle

    def render(image, class_id, flip, angle):
        ys, xs = rotation_maps(images.shape[1], images.shape[2], angle)
        ys, xs = flip_maps_where(flip, ys, xs)
        x = warp_images(image, ys, xs, "constant", 0.0) / cfg.max_value
        return x[..., None], class_id

    ds = tf.data.Dataset.range(start_epoch, 2**62).flat_map(epoch_elements)
    ds = ds.map(draw, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.batch(cfg.batch_size, drop_remainder=True)
    ds = ds.map(render, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE)
