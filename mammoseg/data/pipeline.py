"""tf.data input pipeline of `kth-seg` §4.3: crop-store arrays -> augmented, normalised, batched tensors.

Every random decision is a *stateless* function of (seed, epoch, position in epoch), so an epoch's batches are the
same whether training ran straight through or was killed and resumed: exact resume needs no iterator state.

Training element: random crop of `input_size` from a stored crop, horizontal flip p=0.5 (image and label),
random contrast p=0.5 (image only), grayscale -> RGB, scaling to [-0.5, 0.5] by `max_value`.
Validation element: the centre crop of `input_size`, no augmentation.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from ..errors import ConfigError


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


def _seed(cfg: PipelineConfig, epoch, position, salt: int):
    return tf.stack([tf.cast(cfg.seed * 1000003 + salt, tf.int64),
                     tf.cast(epoch, tf.int64) * 1_000_000_007 + tf.cast(position, tf.int64)])


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


def _check(images: np.ndarray, labels: np.ndarray, cfg: PipelineConfig) -> None:
    if images.shape != labels.shape or images.ndim != 3:
        raise ConfigError(f"images {images.shape} and labels {labels.shape} must both be (N, H, W)")
    if min(images.shape[1:]) < cfg.input_size:
        raise ConfigError(f"stored crops {images.shape[1:]} are smaller than the model input {cfg.input_size}")
    if len(images) == 0:
        raise ConfigError("no crops to train on")


def steps_per_epoch(num_examples: int, batch_size: int) -> int:
    return max(1, num_examples // batch_size)


def train_dataset(images: np.ndarray, labels: np.ndarray, cfg: PipelineConfig, start_epoch: int = 0) -> tf.data.Dataset:
    """Endless dataset of augmented batches; epoch e's order is a stateless shuffle seeded by (seed, e)."""
    _check(images, labels, cfg)
    n = len(images)
    per_epoch = steps_per_epoch(n, cfg.batch_size) * cfg.batch_size  # drop the remainder, fixed epoch length
    images_t, labels_t = tf.constant(images), tf.constant(labels)

    def epoch_elements(epoch):
        order = tf.random.experimental.stateless_shuffle(tf.range(n), seed=_seed(cfg, epoch, 0, 0))[:per_epoch]
        return tf.data.Dataset.from_tensor_slices(order).enumerate().map(lambda pos, idx: (epoch, pos, idx))

    def load(epoch, pos, idx):
        return _finish(*_augment(images_t[idx], labels_t[idx], cfg, epoch, pos), cfg)

    ds = tf.data.Dataset.range(start_epoch, 2**62).flat_map(epoch_elements)
    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.batch(cfg.batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def eval_dataset(images: np.ndarray, labels: np.ndarray, cfg: PipelineConfig) -> tf.data.Dataset:
    """Finite dataset of centre crops (no augmentation), last partial batch kept."""
    _check(images, labels, cfg)
    s = cfg.input_size
    top, left = (images.shape[1] - s) // 2, (images.shape[2] - s) // 2
    ds = tf.data.Dataset.from_tensor_slices((images[:, top:top + s, left:left + s], labels[:, top:top + s, left:left + s]))
    ds = ds.map(lambda x, y: _finish(x, y, cfg), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(cfg.batch_size).prefetch(tf.data.AUTOTUNE)
