"""Full-image inference by sliding window (nnU-Net-style Gaussian blending of overlapping tiles), 2-D or 3-D.

Works for 'same' models (output tile = input tile) and 'valid' models such as the thesis U-Net (572 -> 388): the
image is reflect-padded by the model's margin (input - output) / 2, so every output pixel sees real context and a
valid model's tiled prediction equals its whole-image prediction exactly.

Memory stays bounded on a 4096x3328 mammogram: tiles are visited row by row and blended into a buffer a little
taller than one tile; as soon as no later tile can touch a band of rows, the band is normalised and handed out
(`iter_prediction_bands`). `sliding_window_labels` turns each band into class ids at once, so the (H, W, C)
probability array never exists; padding is applied per tile through index maps, never to a copy of the image.
"""
from __future__ import annotations

import math
from collections import Counter
from itertools import product

import keras
import numpy as np

from ..errors import ConfigError

ACTIVATIONS = ("auto", "softmax", "sigmoid", None)  # None: the model already outputs probabilities
LAYOUTS = ("flush", "partition")
PAD_MODES = ("reflect", "constant")


def model_io_sizes(model: keras.Model) -> tuple[int, int]:
    """(input tile, output tile) of a model with a fixed square input size."""
    shape = model.input_shape
    if shape[1] is None or shape[1] != shape[2]:
        raise ConfigError(f"sliding window needs a fixed square model input, got {shape}")
    out = model.compute_output_shape((1, *shape[1:]))
    return int(shape[1]), int(out[1])


def model_tile_sizes(model: keras.Model) -> tuple[int, int, int]:
    """(spatial rank, input tile, output tile) of a model with a fixed square (2-D) or cubic (3-D) input."""
    spatial = tuple(model.input_shape[1:-1])
    if len(spatial) not in (2, 3) or None in spatial or len(set(spatial)) != 1:
        raise ConfigError(f"sliding window needs a fixed square or cubic model input, got {model.input_shape}")
    out = model.compute_output_shape((1, *model.input_shape[1:]))
    return len(spatial), int(spatial[0]), int(out[1])


def gaussian_importance(size: int, sigma_scale: float = 1 / 8) -> np.ndarray:
    """Centre-weighted tile weights: border pixels, which see the least context, count least."""
    return gaussian_importance_nd(size, 2, sigma_scale)


def gaussian_importance_nd(size: int, ndim: int, sigma_scale: float = 1 / 8) -> np.ndarray:
    """`gaussian_importance` for square (2-D) or cubic (3-D) tiles: a separable Gaussian, peak 1, no zeros."""
    r = np.arange(size) - (size - 1) / 2
    g = np.exp(-(r ** 2) / (2 * (size * sigma_scale) ** 2))
    w = g
    for _ in range(ndim - 1):
        w = np.multiply.outer(w, g)
    w /= w.max()
    return np.maximum(w, w[w > 0].min()).astype(np.float32)


def tile_starts(length: int, tile: int, stride: int) -> list[int]:
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile + 1, stride))
    if starts[-1] != length - tile:
        starts.append(length - tile)
    return starts


def _resolve_activation(activation, channels: int):
    if activation not in ACTIVATIONS:
        raise ConfigError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    if activation == "auto":  # one channel = binary logits (oulu-mass, pig-ct), several = class logits
        return "sigmoid" if channels == 1 else "softmax"
    return activation


def _predictor(model: keras.Model, activation="softmax"):
    """Compiled tiles -> probabilities function (activation applied in the graph)."""
    activation = _resolve_activation(activation, int(model.output_shape[-1]))

    def run(x):
        y = model(x, training=False)
        if activation == "softmax":
            return keras.ops.softmax(y, axis=-1)
        if activation == "sigmoid":
            return keras.ops.sigmoid(y)
        return y

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.function(run, reduce_retracing=True)
    return run


def _source_index(start: int, count: int, length: int, mode: str):
    """Indices into an axis of `length` for padded positions start .. start+count-1, and which are real."""
    i = np.arange(start, start + count)
    inside = (i >= 0) & (i < length)
    if inside.all():
        return i, None
    if mode == "reflect" and length > 1:  # numpy's 'reflect' (no edge repeat), folded as often as needed
        period = 2 * (length - 1)
        i = np.abs(i) % period
        return np.where(i >= length, period - i, i), None
    return np.clip(i, 0, length - 1), (inside if mode == "constant" else None)


class _TileReader:
    """Input tiles of `image` around output origins: the margin of a valid model and the grid's overhang are read
    through index maps (reflect / edge / constant), so the image itself is never padded or copied."""

    def __init__(self, image: np.ndarray, tile_in: int, margin: int, mode: str, pad_value: float):
        self.image, self.tile_in, self.margin, self.mode, self.pad_value = image, tile_in, margin, mode, pad_value

    def __call__(self, origin) -> np.ndarray:
        starts = [o - self.margin for o in origin]
        lengths = self.image.shape[:-1]
        if all(s >= 0 and s + self.tile_in <= n for s, n in zip(starts, lengths)):
            return self.image[tuple(slice(s, s + self.tile_in) for s in starts)]
        index = [_source_index(s, self.tile_in, n, self.mode) for s, n in zip(starts, lengths)]
        tile = self.image[np.ix_(*[i for i, _ in index])]
        for axis, (_, inside) in enumerate(index):
            if inside is not None and not inside.all():
                tile = tile if tile.flags.writeable and tile.dtype.kind == "f" else tile.astype(np.float32)
                tile[(slice(None),) * axis + (~inside,)] = self.pad_value
        return tile


def _check_options(overlap, blend, layout, pad_mode, image, ndim):
    if not 0 <= overlap < 1:
        raise ConfigError(f"overlap must be in [0, 1), got {overlap}")
    if blend not in ("gaussian", "constant"):
        raise ConfigError(f"blend must be 'gaussian' or 'constant', got {blend!r}")
    if layout not in LAYOUTS:
        raise ConfigError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    if pad_mode not in PAD_MODES:
        raise ConfigError(f"pad_mode must be one of {PAD_MODES}, got {pad_mode!r}")
    if image.ndim != ndim + 1:
        names = "(H, W, channels)" if ndim == 2 else "(D, H, W, channels)"
        raise ConfigError(f"image must be {names} for this model, got shape {image.shape}")


def iter_prediction_bands(model: keras.Model, image: np.ndarray, overlap: float = 0.25, batch_size: int = 4,
                          blend: str = "gaussian", flip_tta: bool = False, predictor=None, *,
                          activation="auto", layout: str = "flush", pad_mode: str = "reflect",
                          pad_value: float = 0.0):
    """Yield (first row, probabilities of a band of rows) over a prepared image (*spatial, channels), top to bottom.

    layout "flush": tiles every tile x (1 - overlap), the last one flush with the image end (images smaller than a
    tile are padded). layout "partition" (pig-ct 3-D, seed 003 L1584-1587): tiles side by side from the origin,
    the last one running past the end into padding. pad_mode "reflect" pads with the mirrored image (edge
    replication when the image is too small to mirror), "constant" with `pad_value` (air for CT). A one-channel
    image is replicated per tile when the model takes several channels (gray -> RGB, as in training).
    """
    for top, weighted_sum, weight_sum in _blended_bands(model, image, overlap, batch_size, blend, flip_tta,
                                                        predictor, activation, layout, pad_mode, pad_value):
        yield top, weighted_sum / weight_sum[..., None]


def _blended_bands(model, image, overlap, batch_size, blend, flip_tta, predictor, activation, layout, pad_mode,
                   pad_value):
    """(first row, weighted sum of probabilities, sum of weights) per finished band; the arrays are views into
    the blending buffer, valid until the next item is requested."""
    image = np.asarray(image)
    ndim, tile_in, tile_out = model_tile_sizes(model)
    _check_options(overlap, blend, layout, pad_mode, image, ndim)
    model_channels = int(model.input_shape[-1])
    if image.shape[-1] not in (1, model_channels):
        raise ConfigError(f"image has {image.shape[-1]} channels, the model takes {model_channels}")
    margin = (tile_in - tile_out) // 2
    lengths = image.shape[:-1]
    stride = max(1, int(math.floor(tile_out * (1 - overlap))))
    if layout == "partition":
        starts = [list(range(0, n, tile_out)) for n in lengths]
    else:
        starts = [tile_starts(max(n, tile_out), tile_out, stride) for n in lengths]
    covered = [s[-1] + tile_out for s in starts]
    mode = pad_mode
    if mode == "reflect" and min(lengths) <= margin + max(c - n for c, n in zip(covered, lengths)):
        mode = "edge"  # too small to mirror once
    read = _TileReader(image, tile_in, margin, mode, pad_value)
    weight = gaussian_importance_nd(tile_out, ndim) if blend == "gaussian" else np.ones((tile_out,) * ndim,
                                                                                           np.float32)
    predict = predictor or _predictor(model, activation)

    origins = list(product(*starts))  # row-major: every tile of a row of tiles before the next row
    batches = [origins[i:i + batch_size] for i in range(0, len(origins), batch_size)]
    per_row = Counter(o[0] for o in origins)
    row_starts = starts[0]
    # rows still open while a batch is blended: from its first tile's row to its last tile's end
    capacity = min(covered[0], tile_out + max(b[-1][0] - b[0][0] for b in batches))
    norm = np.zeros((capacity, *covered[1:]), np.float32)
    acc = scratch = None
    base, next_row, done = 0, 0, Counter()
    for batch in batches:
        tiles = np.empty((len(batch), *(tile_in,) * ndim, model_channels), np.float32)
        for i, origin in enumerate(batch):
            tiles[i] = read(origin)  # one pass: dtype conversion and gray -> model channels by broadcasting
        probs = np.asarray(predict(tiles))
        if flip_tta:
            probs = 0.5 * (probs + np.flip(np.asarray(predict(np.flip(tiles, -2).copy())), -2))
        if acc is None:
            acc = np.zeros((capacity, *covered[1:], probs.shape[-1]), np.float32)
            scratch = np.empty(probs.shape[1:], np.float32)
        for origin, p in zip(batch, probs):
            region = (slice(origin[0] - base, origin[0] - base + tile_out),) + tuple(
                slice(o, o + tile_out) for o in origin[1:])
            acc[region] += np.multiply(p, weight[..., None], out=scratch)
            norm[region] += weight
            done[origin[0]] += 1
        while next_row < len(row_starts) and done[row_starts[next_row]] == per_row[row_starts[next_row]]:
            top = row_starts[next_row]
            bottom = row_starts[next_row + 1] if next_row + 1 < len(row_starts) else covered[0]
            real = min(bottom, lengths[0]) - top
            if real > 0:
                crop = (slice(0, real),) + tuple(slice(0, n) for n in lengths[1:])
                yield top, acc[crop], norm[crop]
            shift = bottom - base
            keep = capacity - shift
            if keep > 0:
                acc[:keep] = acc[shift:]  # numpy copies overlapping ranges safely
                norm[:keep] = norm[shift:]
            acc[max(keep, 0):] = 0
            norm[max(keep, 0):] = 0
            base = bottom
            next_row += 1


def sliding_window_predict(model: keras.Model, image: np.ndarray, overlap: float = 0.25, batch_size: int = 4,
                           blend: str = "gaussian", flip_tta: bool = False, predictor=None, *,
                           activation="auto", layout: str = "flush", pad_mode: str = "reflect",
                           pad_value: float = 0.0, dtype=np.float32) -> np.ndarray:
    """Class probabilities (*spatial, C) for a prepared image (*spatial, channels), already normalised.

    Softmax over several output channels, sigmoid for a single one (activation="auto"); see
    `iter_prediction_bands` for the other options. `dtype=np.float16` halves the result's memory.
    """
    out = None
    for top, band in iter_prediction_bands(model, image, overlap, batch_size, blend, flip_tta, predictor,
                                           activation=activation, layout=layout, pad_mode=pad_mode,
                                           pad_value=pad_value):
        if out is None:
            out = np.empty((*np.shape(image)[:-1], band.shape[-1]), dtype)
        out[top:top + len(band)] = band
    return out


def probabilities_to_labels(probs: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """uint8 class ids: argmax over the channels, or probability > threshold for a single channel."""
    if probs.shape[-1] == 1:
        return (probs[..., 0] > threshold).astype(np.uint8)
    return probs.argmax(-1).astype(np.uint8)


def sliding_window_labels(model: keras.Model, image: np.ndarray, overlap: float = 0.25, batch_size: int = 4,
                          blend: str = "gaussian", flip_tta: bool = False, predictor=None, *,
                          threshold: float = 0.5, activation="auto", layout: str = "flush",
                          pad_mode: str = "reflect", pad_value: float = 0.0) -> np.ndarray:
    """uint8 label map of `sliding_window_predict`, computed band by band: memory ~ one band, not (H, W, C).

    Several channels: argmax of the weighted sums (dividing every channel of a pixel by the same positive weight
    cannot change it, so it is skipped); one channel: normalised probability > threshold.
    """
    labels = np.empty(np.shape(image)[:-1], np.uint8)
    for top, weighted_sum, weight_sum in _blended_bands(model, image, overlap, batch_size, blend, flip_tta,
                                                        predictor, activation, layout, pad_mode, pad_value):
        rows = slice(top, top + len(weighted_sum))
        if weighted_sum.shape[-1] == 1:
            labels[rows] = weighted_sum[..., 0] > threshold * weight_sum
        else:
            labels[rows] = weighted_sum.argmax(-1)
    return labels
