"""Augmentation: offline (numpy/scipy) crop extraction and elastic deformation for the crop datasets.

The thesis applies "an elastic transformation as the one described in [36]" (Simard et al. 2003) to 25% of the
generated crops (L879-886), image and annotation together, but gives no alpha or sigma. Simard's recipe: two
per-pixel displacement fields drawn from U(-1, 1), each smoothed by a Gaussian of standard deviation sigma (pixels)
and scaled by alpha; the output pixel (y, x) takes the input value at (y + dy, x + dx).

Our defaults (`elastic_params_for`) keep Simard's MNIST setting (alpha=34, sigma=4 on 28-px digits) *relative to
the crop size*, so that a 256 and a 1500 crop are deformed alike: sigma = s * 4/28 and alpha = 34 * (s/28)**2
(the RMS displacement grows as alpha/sigma, hence alpha ~ s**2 keeps it a fixed fraction, about 5%, of the crop).

This module is numpy/scipy only and imports no TensorFlow. An in-graph elastic transform (tf ops) can be added in
a section of its own below, reusing `ElasticParams` and `elastic_params_for`; parameters and docs: docs/data-crops.md.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import fft as sp_fft
from scipy import ndimage

from ..errors import DataError

# Simard et al. 2003, MNIST (28 x 28): sigma = 4 px, alpha = 34.
_SIMARD_SIZE, _SIMARD_SIGMA, _SIMARD_ALPHA = 28, 4.0, 34.0


@dataclass(frozen=True)
class ElasticParams:
    alpha: float  # displacement scale (pixels per unit of smoothed U(-1, 1) noise)
    sigma: float  # Gaussian smoothing of the noise (pixels)


def elastic_params_for(crop_size: int) -> ElasticParams:
    """Simard's MNIST deformation scaled to a `crop_size` crop (thesis silent; see the module docstring)."""
    scale = float(crop_size) / _SIMARD_SIZE
    return ElasticParams(alpha=_SIMARD_ALPHA * scale**2, sigma=_SIMARD_SIGMA * scale)


# ----------------------------------------------------------------------------------------------- crop extraction
def crop_origin(centre: int, size: int) -> int:
    """First index of a window of `size` whose centre (index size // 2) lies at `centre`."""
    return int(centre) - int(size) // 2


def extract_crop(array: np.ndarray, cy: int, cx: int, size: int, pad_value=0) -> np.ndarray:
    """The (size, size) window centred on (cy, cx) (centre at index size // 2); outside the image is `pad_value`.

    Padding rather than clamping the window keeps the sampled pixel at the crop centre, so the thesis' centre
    distribution is preserved for pixels near the border.
    """
    array = np.asarray(array)
    out = np.full((size, size) + array.shape[2:], pad_value, dtype=array.dtype)
    y0, x0 = crop_origin(cy, size), crop_origin(cx, size)
    src_y = slice(max(y0, 0), min(y0 + size, array.shape[0]))
    src_x = slice(max(x0, 0), min(x0 + size, array.shape[1]))
    if src_y.start < src_y.stop and src_x.start < src_x.stop:
        out[src_y.start - y0:src_y.stop - y0, src_x.start - x0:src_x.stop - x0] = array[src_y, src_x]
    return out


# ----------------------------------------------------------------------------------------------- elastic (offline)
def gaussian_smooth_periodic(field: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of a 2-D array with periodic borders, by FFT: its cost does not grow with sigma.

    scipy.ndimage.gaussian_filter is a direct convolution whose kernel reaches ~8 sigma; with sigma ~ 200 px for a
    1500 crop that is seconds per field, the FFT route is milliseconds.
    """
    fy = sp_fft.fftfreq(field.shape[0])[:, None]
    fx = sp_fft.rfftfreq(field.shape[1])[None, :]
    transfer = np.exp(-2.0 * math.pi**2 * sigma**2 * (fy**2 + fx**2)).astype(np.float32)
    return sp_fft.irfft2(sp_fft.rfft2(field) * transfer, s=field.shape)


def displacement_field(shape: tuple[int, int], rng: np.random.Generator, alpha: float,
                       sigma: float) -> np.ndarray:
    """(2, H, W) Simard displacements (dy, dx): U(-1, 1) noise, Gaussian-smoothed, times alpha.

    The noise is drawn on a grid extended by at least 3 sigma on every side (up to an FFT-friendly length) before
    the periodic blur and then cut back, so the wrap-around of the FFT does not correlate opposite field edges.
    """
    if alpha < 0 or sigma <= 0:
        raise ValueError(f"elastic alpha must be >= 0 and sigma > 0, got alpha={alpha}, sigma={sigma}")
    margin = int(math.ceil(3 * sigma))
    big = tuple(sp_fft.next_fast_len(int(n) + 2 * margin, real=True) for n in shape)
    noise = rng.random((2,) + big, dtype=np.float32) * 2.0 - 1.0  # U[-1, 1); float32 halves FFT time and memory
    inner = (slice(margin, margin + shape[0]), slice(margin, margin + shape[1]))
    return np.stack([gaussian_smooth_periodic(n, sigma)[inner] for n in noise]) * alpha


def _sample(array: np.ndarray, coords: np.ndarray, order: int) -> np.ndarray:
    """Interpolate `array` at `coords` and return the input dtype (integers rounded and clipped)."""
    if order == 0:  # nearest: values are copied, never mixed, so the dtype is kept exactly
        return ndimage.map_coordinates(array, coords, order=0, mode="reflect")
    values = ndimage.map_coordinates(array.astype(np.float64), coords, order=order, mode="reflect")
    if np.issubdtype(array.dtype, np.integer):
        info = np.iinfo(array.dtype)
        values = np.clip(np.rint(values), info.min, info.max)
    return values.astype(array.dtype)


def warp_pair(image: np.ndarray, label: np.ndarray, field: np.ndarray, offset: int = 0):
    """Warp image (bilinear) and label (nearest) with one field; output[y, x] = input[y + off + dy, x + off + dx].

    The output has the field's shape; `offset` lets the input be a larger window around it (see `elastic_crop`).
    """
    image, label = np.asarray(image), np.asarray(label)
    if image.shape[:2] != label.shape[:2]:
        raise DataError(None, f"image {image.shape} and label {label.shape} differ in size")
    if image.ndim != 2 or label.ndim != 2:
        raise DataError(None, f"elastic transform expects 2-D gray image and label, got {image.shape}, {label.shape}")
    grid = np.indices(field.shape[1:], dtype=np.float64)
    coords = grid + offset + field
    return _sample(image, coords, order=1), _sample(label, coords, order=0)


def elastic_transform(image: np.ndarray, label: np.ndarray, rng: np.random.Generator, alpha: float,
                      sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Simard elastic deformation of a whole 2-D image and its label map (same field; borders reflected)."""
    field = displacement_field(np.shape(image)[:2], rng, alpha, sigma)
    return warp_pair(image, label, field)


def elastic_crop(image: np.ndarray, label: np.ndarray, cy: int, cx: int, size: int, rng: np.random.Generator,
                 params: ElasticParams, image_pad=0, label_pad=0) -> tuple[np.ndarray, np.ndarray]:
    """An elastically deformed (size, size) crop centred on (cy, cx) of a full image and label map.

    The field lives on the crop grid; the window read from the image is grown by the largest displacement, so
    pixels pulled in across the crop edge are real image content (or border padding), never reflections.
    """
    field = displacement_field((size, size), rng, params.alpha, params.sigma)
    margin = int(math.ceil(np.abs(field).max())) + 1
    window = size + 2 * margin  # centre index window // 2 == size // 2 + margin
    image_window = extract_crop(image, cy, cx, window, image_pad)
    label_window = extract_crop(label, cy, cx, window, label_pad)
    return warp_pair(image_window, label_window, field, offset=margin)
