"""pig-ct inference over whole CT volumes: slice-wise 2-D networks per plane, and 3-D networks on blocks.

Inputs are (z, y, x) volumes already windowed / scaled as in training (`mammoseg.io.volume.hu_window`); outputs are
probability volumes in the same (z, y, x) orientation, so planes can be fused voxel by voxel (`plane_fusion`).

2-D (seed 003 L1575-1582): each network predicts every slice of its plane and the slices are stacked back. A
network built with free spatial dimensions (`input_shape=(None, None, 1)`) sees each whole slice zero-padded at its
end to the next multiple of 64 (L1446-1454; the pad value is the air value, docs/evaluation.md), as in training,
and slices are batched; a network with a fixed input size is run by sliding window over each slice instead.

3-D (L1584-1587): the volume is partitioned into blocks of the network's size, the last block of an axis running
past the end into air; `overlap > 0` instead overlaps blocks and averages them (the thesis' future work, L1955).
"""
from __future__ import annotations

import numpy as np

from ..data.preprocess import pad_to_multiple, plane_stack
from ..errors import ConfigError
from .sliding_window import _predictor, sliding_window_predict

THESIS_PAD_MULTIPLE = 64  # 2**6 for the six poolings of the 2-D network (L1446-1454)


def _check_volume(volume) -> np.ndarray:
    volume = np.asarray(volume)
    if volume.ndim != 3:
        raise ConfigError(f"expected a (z, y, x) volume, got shape {volume.shape}")
    return volume


def _squeeze_single(probs: np.ndarray) -> np.ndarray:
    return probs[..., 0] if probs.shape[-1] == 1 else probs


def _has_free_size(model) -> bool:
    return None in tuple(model.input_shape[1:-1])


def predict_plane(model, volume, plane: str, batch_size: int = 4, pad_multiple: int = THESIS_PAD_MULTIPLE,
                  pad_value: float = 0.0, activation="auto", overlap: float = 0.25, blend: str = "gaussian",
                  dtype=np.float32) -> np.ndarray:
    """Probabilities (z, y, x) (or (z, y, x, C)) of a 2-D network applied to every slice of one plane."""
    volume = _check_volume(volume)
    stack = plane_stack(volume, plane)  # (n, rows, cols) view
    channels = int(model.input_shape[-1])
    out = None
    if _has_free_size(model):
        predict = _predictor(model, activation)
        for i in range(0, len(stack), batch_size):
            batch = pad_to_multiple(stack[i:i + batch_size].astype(np.float32), pad_multiple, axes=(1, 2),
                                    value=pad_value)
            probs = np.asarray(predict(np.repeat(batch[..., None], channels, axis=-1)))
            if out is None:
                out = np.empty((*volume.shape, probs.shape[-1]), dtype)
            _write_slices(out, plane, i, probs[:, :stack.shape[1], :stack.shape[2]])
        return _squeeze_single(out)
    for i, section in enumerate(stack):
        probs = sliding_window_predict(model, section[..., None], overlap=overlap, batch_size=batch_size,
                                       blend=blend, activation=activation, pad_mode="constant", pad_value=pad_value)
        if out is None:
            out = np.empty((*volume.shape, probs.shape[-1]), dtype)
        _write_slices(out, plane, i, probs[None])
    return _squeeze_single(out)


def _write_slices(out, plane, first, probs) -> None:
    """Store slice predictions (k, rows, cols, C) into the (z, y, x, C) volume through the plane's view."""
    for c in range(probs.shape[-1]):
        plane_stack(out[..., c], plane)[first:first + len(probs)] = probs[..., c]


def predict_planes(models: dict, volume, **options) -> dict[str, np.ndarray]:
    """{plane: probability volume} for {plane: network} (the thesis' three plane networks)."""
    return {plane: predict_plane(model, volume, plane, **options) for plane, model in models.items()}


def predict_volume_blocks(model, volume, overlap: float = 0.0, batch_size: int = 2, blend: str = "constant",
                          pad_value: float = 0.0, activation="auto", flip_tta: bool = False,
                          dtype=np.float32) -> np.ndarray:
    """Probabilities (z, y, x) (or (z, y, x, C)) of a 3-D network over blocks of its input size.

    overlap 0: the thesis' partition (no overlap, the overhang padded with `pad_value`); overlap > 0: blocks every
    size x (1 - overlap), the last flush with the end, blended with `blend` weights ('constant' = plain average).
    """
    volume = _check_volume(volume)
    if len(model.input_shape) != 5:
        raise ConfigError(f"block inference needs a 3-D network, got input shape {model.input_shape}")
    probs = sliding_window_predict(model, volume[..., None], overlap=overlap, batch_size=batch_size, blend=blend,
                                   flip_tta=flip_tta, activation=activation,
                                   layout="partition" if overlap == 0 else "flush", pad_mode="constant",
                                   pad_value=pad_value, dtype=dtype)
    return _squeeze_single(probs)
