"""Raster images and binary masks on disk: PNG, PGM and TIFF, 8 or 16 bit (TIFF also float32).

Mammograms are stored as 12-16 bit grayscale, so every reader keeps the stored dtype instead of silently
down-converting to 8 bit (OpenCV's default). Bytes are decoded with `cv2.imdecode(..., IMREAD_UNCHANGED)` (the
decoder behind `cv2.imread`) after reading them with numpy, so that empty files and non-ASCII paths get a clear
error instead of a silent `None`. Every problem is reported as one `DataError(path, problem)`.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..errors import DataError
from .atomic import atomic_write_bytes

RASTER_SUFFIXES = (".png", ".pgm", ".tif", ".tiff")
# Dtypes each encoder stores losslessly; anything else OpenCV would silently convert.
_WRITABLE_DTYPES = {
    ".png": (np.uint8, np.uint16),
    ".pgm": (np.uint8, np.uint16),
    ".tif": (np.uint8, np.uint16, np.float32),
    ".tiff": (np.uint8, np.uint16, np.float32),
}
_READABLE_DTYPES = (np.uint8, np.uint16, np.float32, np.float64)


def _suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in RASTER_SUFFIXES:
        raise DataError(path, f"unsupported image format {suffix or '(no suffix)'!r}; "
                              f"expected one of {', '.join(RASTER_SUFFIXES)}")
    return suffix


def _to_gray(path: Path, pixels: np.ndarray) -> np.ndarray:
    """Accept colour files only when they are gray in disguise (equal channels, opaque alpha)."""
    if pixels.ndim == 2:
        return pixels
    if pixels.ndim != 3 or pixels.shape[2] not in (3, 4):
        raise DataError(path, f"expected a grayscale image, got array of shape {pixels.shape}")
    if pixels.shape[2] == 4:
        alpha = pixels[..., 3]
        opaque = 1.0 if pixels.dtype.kind == "f" else np.iinfo(pixels.dtype).max
        if not np.all(alpha == opaque):
            raise DataError(path, "image has a non-opaque alpha channel; expected grayscale")
    color = pixels[..., :3]
    if not (np.array_equal(color[..., 0], color[..., 1]) and np.array_equal(color[..., 0], color[..., 2])):
        raise DataError(path, "image is in colour (channels differ); expected grayscale")
    return np.ascontiguousarray(color[..., 0])


def read_image(path: str | Path) -> np.ndarray:
    """Read a 2-D grayscale image, keeping its stored dtype (uint8, uint16 or float)."""
    path = Path(path)
    suffix = _suffix(path)
    if not path.is_file():
        raise DataError(path, "file not found")
    try:
        raw = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise DataError(path, f"cannot read file: {exc.strerror or exc}") from None
    if raw.size == 0:
        raise DataError(path, "file is empty")
    try:
        pixels = cv2.imdecode(raw, cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:
        raise DataError(path, f"cannot decode image: {exc}") from None
    if pixels is None or pixels.size == 0:
        raise DataError(path, f"cannot decode image: not a valid {suffix[1:].upper()} file (corrupt or truncated)")
    if pixels.dtype not in _READABLE_DTYPES:
        raise DataError(path, f"unsupported pixel type {pixels.dtype}; expected uint8, uint16 or float")
    pixels = _to_gray(path, pixels)
    if pixels.dtype.kind == "f" and not np.all(np.isfinite(pixels)):
        raise DataError(path, "image contains NaN or infinite values")
    return pixels


def write_image(path: str | Path, array: np.ndarray) -> Path:
    """Encode a 2-D array in the format named by the suffix and write it atomically."""
    path = Path(path)
    suffix = _suffix(path)
    array = np.asarray(array)
    if array.ndim != 2:
        raise DataError(path, f"can only write 2-D grayscale arrays, got shape {array.shape}")
    allowed = _WRITABLE_DTYPES[suffix]
    if array.dtype not in allowed:
        names = ", ".join(np.dtype(d).name for d in allowed)
        raise DataError(path, f"cannot store dtype {array.dtype} losslessly as {suffix[1:].upper()}; use {names}")
    ok, encoded = cv2.imencode(suffix, np.ascontiguousarray(array))
    if not ok:
        raise DataError(path, "OpenCV failed to encode the image")
    return atomic_write_bytes(path, encoded.tobytes())


def write_mask(path: str | Path, mask: np.ndarray) -> Path:
    """Store a boolean mask the way annotation tools export it: uint8 with 0 and 255."""
    return write_image(path, np.where(np.asarray(mask, bool), 255, 0).astype(np.uint8))


def read_mask(path: str | Path, expected_shape: tuple[int, int] | None = None) -> np.ndarray:
    """Read a binary annotation map as a bool array; reject anything that is not clearly binary.

    Accepted values: 0 plus one positive value (e.g. {0, 1} or {0, 255}); a map may also be all 0 or all the
    positive value. Anything else (grey levels from anti-aliasing or lossy saving, negative values) is an error,
    because guessing a threshold would silently change the annotation.
    """
    path = Path(path)
    pixels = read_image(path)
    if expected_shape is not None and tuple(pixels.shape) != tuple(expected_shape):
        raise DataError(path, f"mask shape {tuple(pixels.shape)} does not match image shape {tuple(expected_shape)}")
    values = np.unique(pixels)
    positive = values[values != 0]
    if np.any(values < 0) or positive.size > 1:
        shown = ", ".join(str(v) for v in values[:6]) + (", ..." if values.size > 6 else "")
        raise DataError(path, f"mask is not binary: {values.size} distinct values ({shown}); "
                              "expected 0 and one positive value")
    return pixels != 0
