"""In-graph (TensorFlow) crop-centre and example samplers: the rules of `mammoseg.data.sampling`, as tf ops.

Each draw is a pure function of a stateless seed (shape [2]), so the pipeline can key it on (seed, epoch, position)
and resume exactly. Samplers:

* `class_balanced_centre` - the `kth-seg` rule (thesis L868-877) on any 2-D label tensor: a class uniformly among
  the eligible labels present, then a pixel of that class uniformly; a uniform centre (chosen id -1) when no label
  is eligible. O(H*W) per draw (a bincount and a cumulative count + searchsorted), no precomputation.
* `CentreIndex` - the same rule in O(1) per draw over a fixed set of label maps (full mammograms or a crop store's
  larger crops): the pixels of every eligible label are sorted once at construction, the numpy `LabelIndex` way.
* `uniform_centre` - any pixel with equal probability.
* `foreground_forced` - nnU-Net's foreground oversampling: the last B - round(B * (1 - fraction)) slots of every
  batch (nnU-Net v2's rule) take a class-balanced centre over the foreground labels, the others a uniform one.
* `ClassBalancedIndex` - `kth-cls` rebalancing (L1415-1420): a class with probability 1/K, then an example of it
  uniformly, with replacement.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import tensorflow as tf

from ..errors import DataError
from .sampling import MAMMO_EXCLUDE_IDS, UNIFORM_FALLBACK, LabelIndex


def _random_ints(seed, count: int):
    """`count` full-range int64 draws; `% n` of one is uniform on [0, n) up to a bias below n / 2**63."""
    return tf.random.stateless_uniform([count], seed, minval=None, maxval=None, dtype=tf.int64)


def _below(draw, n):
    """A uniform index in [0, n) from one full-range draw (0 when n == 0, so it is always a safe index)."""
    n = tf.cast(n, tf.int64)
    return tf.math.floormod(draw, tf.maximum(n, 1))


def _pick_eligible(counts, draw):
    """(chosen id, any eligible) for `counts` (K,) whose ineligible entries are 0: an id uniformly among the others.

    A -1 sentinel after the candidates keeps the gather in range when there are none.
    """
    candidates = tf.concat([tf.where(counts > 0)[:, 0], tf.constant([UNIFORM_FALLBACK], tf.int64)], 0)
    n = tf.size(candidates, out_type=tf.int64) - 1
    return tf.gather(candidates, _below(draw, n)), n > 0


def _as_yx(flat_index, width):
    width = tf.cast(width, tf.int64)
    flat_index = tf.cast(flat_index, tf.int64)
    return flat_index // width, flat_index % width


def uniform_centre(height, width, seed):
    """(cy, cx) int64, uniform over the pixels of a height x width image."""
    draw = _random_ints(seed, 1)[0]
    return _as_yx(_below(draw, tf.cast(height, tf.int64) * tf.cast(width, tf.int64)), width)


def _eligible_mask(exclude_ids: Iterable[int], num_ids: int) -> np.ndarray:
    mask = np.ones(num_ids, bool)
    for i in exclude_ids:
        if 0 <= int(i) < num_ids:
            mask[int(i)] = False
    return mask


def class_balanced_centre(label_map, seed, exclude_ids: Iterable[int] = MAMMO_EXCLUDE_IDS, num_ids: int = 256):
    """(cy, cx, chosen id) by the thesis rule on a 2-D integer label tensor; chosen = -1 for a uniform centre.

    Ids >= `num_ids` are never chosen (256 covers every uint8 label map).
    """
    label_map = tf.convert_to_tensor(label_map)
    width = tf.shape(label_map)[1]
    flat = tf.cast(tf.reshape(label_map, [-1]), tf.int32)
    counts = tf.math.bincount(flat, minlength=num_ids, maxlength=num_ids, dtype=tf.int64)
    counts = tf.where(tf.constant(_eligible_mask(exclude_ids, num_ids)), counts, 0)
    draws = _random_ints(seed, 3)
    chosen, found = _pick_eligible(counts, draws[0])
    # k-th pixel (raster order) of the chosen label: first position where the running count reaches k + 1
    k = _below(draws[1], tf.gather(counts, tf.maximum(chosen, 0)))
    running = tf.cumsum(tf.cast(tf.equal(flat, tf.cast(chosen, tf.int32)), tf.int64))
    pixel = tf.searchsorted(running, tf.reshape(k + 1, [1]), side="left")[0]
    fallback = _below(draws[2], tf.size(flat, out_type=tf.int64))
    cy, cx = _as_yx(tf.where(found, tf.cast(pixel, tf.int64), fallback), width)
    return cy, cx, tf.where(found, chosen, UNIFORM_FALLBACK)


class CentreIndex:
    """Pixel lists of the eligible labels of N label maps, as tensors, for O(1) class-balanced draws.

    Built once with numpy (the numpy `LabelIndex` of each map); only eligible labels are stored, so the excluded
    background and mammary gland, most of a mammogram, cost nothing: memory is 4 bytes per eligible pixel.
    """

    def __init__(self, label_maps: Sequence[np.ndarray] | np.ndarray, exclude_ids: Iterable[int] = MAMMO_EXCLUDE_IDS):
        exclude_ids = tuple(int(i) for i in exclude_ids)
        indices = [LabelIndex(m) for m in label_maps]
        if not indices:
            raise DataError(None, "no label maps to sample centres from")
        num_ids = max(max(ix.labels) for ix in indices) + 1
        counts = np.zeros((len(indices), num_ids), np.int64)
        pixel_lists = []
        for row, index in enumerate(indices):
            for label_id in index.eligible(exclude_ids):
                counts[row, label_id] = index.count(label_id)
                pixel_lists.append(index.pixels(label_id))
        pixels = np.concatenate(pixel_lists + [np.zeros(1, np.int64)])  # + a pad: gathers stay in range w/o labels
        starts = (np.cumsum(counts.ravel()) - counts.ravel()).reshape(counts.shape)
        self.exclude_ids = exclude_ids
        self.shapes = np.array([ix.shape for ix in indices], np.int64)
        self.counts = tf.constant(counts)
        self.starts = tf.constant(starts)
        self.pixels = tf.constant(pixels.astype(np.int32 if pixels.max(initial=0) < 2**31 else np.int64))
        self._shapes = tf.constant(self.shapes)

    def __len__(self) -> int:
        return len(self.shapes)

    def shape_of(self, image_index):
        """(height, width) int64 of label map `image_index`."""
        shape = tf.gather(self._shapes, image_index)
        return shape[0], shape[1]

    def uniform(self, image_index, seed):
        """A uniform centre of label map `image_index` (chosen id -1)."""
        cy, cx = uniform_centre(*self.shape_of(image_index), seed)
        return cy, cx, tf.constant(UNIFORM_FALLBACK, tf.int64)

    def centre(self, image_index, seed):
        """(cy, cx, chosen id) by the thesis rule for label map `image_index`; chosen = -1: uniform fallback."""
        height, width = self.shape_of(image_index)
        counts = tf.gather(self.counts, image_index)
        draws = _random_ints(seed, 3)
        chosen, found = _pick_eligible(counts, draws[0])
        safe = tf.maximum(chosen, 0)
        offset = _below(draws[1], tf.gather(counts, safe))
        pixel = tf.gather(self.pixels, tf.gather(tf.gather(self.starts, image_index), safe) + offset)
        fallback = _below(draws[2], height * width)
        cy, cx = _as_yx(tf.where(found, tf.cast(pixel, tf.int64), fallback), width)
        return cy, cx, tf.where(found, chosen, UNIFORM_FALLBACK)


def forced_foreground_slots(batch_size: int, fraction: float) -> int:
    """How many slots of each batch nnU-Net v2 forces to foreground: B - round(B * (1 - fraction))."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"foreground fraction must lie in [0, 1], got {fraction}")
    return int(batch_size) - int(round(batch_size * (1.0 - fraction)))


def foreground_forced(position, batch_size: int, fraction: float):
    """True for the element at `position` of an epoch when its batch slot is a forced-foreground one (last slots)."""
    first_forced = int(batch_size) - forced_foreground_slots(batch_size, fraction)
    return tf.math.floormod(tf.cast(position, tf.int64), int(batch_size)) >= first_forced


class ClassBalancedIndex:
    """Class-balanced example draws for classification: P(class) = 1/K over the K classes present."""

    def __init__(self, class_ids: Sequence[int] | np.ndarray):
        class_ids = np.asarray(class_ids)
        if class_ids.ndim != 1 or class_ids.size == 0 or not np.issubdtype(class_ids.dtype, np.integer):
            raise DataError(None, f"class ids must be a non-empty 1-D integer array, got {class_ids.dtype} "
                                  f"{class_ids.shape}")
        self.classes, counts = np.unique(class_ids, return_counts=True)
        order = np.argsort(class_ids, kind="stable")  # examples grouped by class, in input order within a class
        self._order = tf.constant(order.astype(np.int64))
        self._counts = tf.constant(counts.astype(np.int64))
        self._starts = tf.constant((np.cumsum(counts) - counts).astype(np.int64))
        self._classes = tf.constant(self.classes.astype(np.int64))

    def draw(self, seed):
        """(example index, its class id): a class uniformly, then one of its examples uniformly."""
        draws = _random_ints(seed, 2)
        k = _below(draws[0], len(self.classes))
        example = tf.gather(self._order, tf.gather(self._starts, k) + _below(draws[1], tf.gather(self._counts, k)))
        return example, tf.gather(self._classes, k)
