"""Full-image inference by sliding window (nnU-Net-style Gaussian blending of overlapping tiles).

Works for 'same' models (output tile = input tile) and 'valid' models such as the thesis U-Net (572 -> 388): the
image is reflect-padded by the model's margin (input - output) / 2, so every output pixel sees real context and a
valid model's tiled prediction equals its whole-image prediction exactly.
"""
from __future__ import annotations

import math

import keras
import numpy as np

from ..errors import ConfigError


def model_io_sizes(model: keras.Model) -> tuple[int, int]:
    """(input tile, output tile) of a model with a fixed square input size."""
    shape = model.input_shape
    if shape[1] is None or shape[1] != shape[2]:
        raise ConfigError(f"sliding window needs a fixed square model input, got {shape}")
    out = model.compute_output_shape((1, *shape[1:]))
    return int(shape[1]), int(out[1])


def gaussian_importance(size: int, sigma_scale: float = 1 / 8) -> np.ndarray:
    """Centre-weighted tile weights: border pixels, which see the least context, count least."""
    r = np.arange(size) - (size - 1) / 2
    g = np.exp(-(r ** 2) / (2 * (size * sigma_scale) ** 2))
    w = np.outer(g, g)
    w /= w.max()
    return np.maximum(w, w[w > 0].min()).astype(np.float32)


def tile_starts(length: int, tile: int, stride: int) -> list[int]:
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile + 1, stride))
    if starts[-1] != length - tile:
        starts.append(length - tile)
    return starts


def _predictor(model: keras.Model):
    def run(x):
        return keras.ops.softmax(model(x, training=False), axis=-1)

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.function(run, reduce_retracing=True)
    return run


def sliding_window_predict(model: keras.Model, image: np.ndarray, overlap: float = 0.25, batch_size: int = 4,
                           blend: str = "gaussian", flip_tta: bool = False, predictor=None) -> np.ndarray:
    """Class probabilities (H, W, C) for a prepared image (H, W, channels), already normalised."""
    if not 0 <= overlap < 1:
        raise ConfigError(f"overlap must be in [0, 1), got {overlap}")
    if image.ndim != 3:
        raise ConfigError(f"image must be (H, W, channels), got shape {image.shape}")
    tile_in, tile_out = model_io_sizes(model)
    margin = (tile_in - tile_out) // 2
    h, w = image.shape[:2]
    # pad so that the output grid covers at least one tile, then by the model's margin on every side
    ph, pw = max(0, tile_out - h), max(0, tile_out - w)
    padded = np.pad(image, ((margin, margin + ph), (margin, margin + pw), (0, 0)), mode="reflect"
                    if min(h, w) > margin + max(ph, pw) else "edge")
    H, W = h + ph, w + pw
    stride = max(1, int(math.floor(tile_out * (1 - overlap))))
    weight = gaussian_importance(tile_out) if blend == "gaussian" else np.ones((tile_out, tile_out), np.float32)
    predict = predictor or _predictor(model)
    acc = None
    norm = np.zeros((H, W), np.float32)
    boxes = [(y, x) for y in tile_starts(H, tile_out, stride) for x in tile_starts(W, tile_out, stride)]
    for i in range(0, len(boxes), batch_size):
        chunk = boxes[i:i + batch_size]
        batch = np.stack([padded[y:y + tile_in, x:x + tile_in] for y, x in chunk]).astype(np.float32)
        probs = np.asarray(predict(batch))
        if flip_tta:
            probs = 0.5 * (probs + np.asarray(predict(batch[:, :, ::-1].copy()))[:, :, ::-1])
        if acc is None:
            acc = np.zeros((H, W, probs.shape[-1]), np.float32)
        for (y, x), p in zip(chunk, probs):
            acc[y:y + tile_out, x:x + tile_out] += p * weight[..., None]
            norm[y:y + tile_out, x:x + tile_out] += weight
    return (acc / norm[..., None])[:h, :w]
