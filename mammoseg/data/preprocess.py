"""Offline preprocessing with numpy and OpenCV: CLAHE, breast crop and background removal, the `kth-cls` square
crop chain, the `oulu-mass` fit-to-square, resizing, gray->RGB, and the `pig-ct` plane slicing and 96³ blocks.

The breast crop itself (Otsu + largest component + margin) is `mammoseg.io.inbreast.breast_crop`, re-exported
here. Everything here works on single numpy arrays so that `data_prep` (offline) and evaluation code (plane fusion,
block reassembly) share one definition. Choices where the theses are silent are explained in docs/data-prep.md.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import cv2
import numpy as np

from ..errors import ConfigError
from ..io.inbreast import CropBox, breast_crop, breast_region  # noqa: F401  (breast_crop: re-exported)

# ------------------------------------------------------------------------------------------------- CLAHE
OPENCV_HIST_SIZE_8BIT = 256
OPENCV_HIST_SIZE_16BIT = 65536


@dataclass(frozen=True)
class ClaheParams:
    """CLAHE settings in scikit-image's terms (the thesis' "8x8 contextual regions, clip-limit 0.02").

    `clip_limit` is the largest share of a tile's pixels one histogram bin may hold (skimage's normalised clip
    limit); `tiles` is the (rows, columns) grid of contextual regions; `bins` the histogram bins (skimage: 256).
    """

    clip_limit: float = 0.02
    tiles: tuple[int, int] = (8, 8)
    bins: int = 256

    def __post_init__(self):
        if not 0.0 < self.clip_limit <= 1.0:
            raise ConfigError(f"CLAHE clip limit must be in (0, 1] (share of a tile's pixels), got {self.clip_limit}")
        if len(self.tiles) != 2 or min(self.tiles) < 1:
            raise ConfigError(f"CLAHE tiles must be two positive integers, got {self.tiles}")
        if not 2 <= self.bins <= OPENCV_HIST_SIZE_16BIT:
            raise ConfigError(f"CLAHE bins must be in [2, {OPENCV_HIST_SIZE_16BIT}], got {self.bins}")


KTH_CLS_CLAHE = ClaheParams(clip_limit=0.02, tiles=(8, 8), bins=256)  # seed 004 L1397-1401


def opencv_clip_limit(clip_limit: float, hist_size: int) -> float:
    """OpenCV's clipLimit for a skimage-style normalised clip limit.

    skimage clips every bin at `clip_limit * tile_pixels` counts; OpenCV clips at
    `clipLimit * tile_pixels / hist_size`. Equal counts need `clipLimit = clip_limit * hist_size`.
    """
    return float(clip_limit) * hist_size


def _spaced_levels(image: np.ndarray, bins: int) -> tuple[np.ndarray, int]:
    """Min-max stretch onto `bins` evenly spaced grey levels of the smallest OpenCV depth that holds them.

    OpenCV's histogram always has 256 (8-bit) or 65536 (16-bit) bins. Putting the `bins` levels `step` apart
    makes every used level its own bin, and OpenCV spreads the clipped excess evenly over all its bins, which
    over evenly spaced levels matches spreading it over `bins` bins as skimage does.
    """
    depth, top = (cv2.CV_8U, 255) if bins <= OPENCV_HIST_SIZE_8BIT else (cv2.CV_16U, 65535)
    step = top // (bins - 1)
    levels = cv2.normalize(image, None, 0, bins - 1, cv2.NORM_MINMAX, dtype=depth)
    if step > 1:
        levels = cv2.multiply(levels, step)
    return levels, (OPENCV_HIST_SIZE_8BIT if depth == cv2.CV_8U else OPENCV_HIST_SIZE_16BIT)


def clahe(image: np.ndarray, clip_limit: float = 0.02, tiles: tuple[int, int] = (8, 8), bins: int = 256) -> np.ndarray:
    """Contrast-limited adaptive histogram equalisation with OpenCV, in scikit-image's parameter semantics.

    Like `skimage.exposure.equalize_adapthist(image, kernel_size=(h // tiles[0], w // tiles[1]), clip_limit,
    nbins=bins)`: the image is min-max stretched, binned into `bins` grey levels, equalised per tile with each bin
    clipped at `clip_limit` x the tile's pixel count, interpolated bilinearly between tiles, and the result
    stretched to [0, 1]. Returns float32 in [0, 1]; a constant image gives zeros. Any numeric dtype is accepted
    (16-bit mammograms directly). With bins <= 256 OpenCV runs in 8 bits (output steps of 1/255), above in 16.
    """
    params = ClaheParams(clip_limit, tuple(int(t) for t in tiles), int(bins))
    image = np.asarray(image)
    if image.ndim != 2 or image.size == 0:
        raise ValueError(f"clahe needs a non-empty 2-D image, got shape {image.shape}")
    if image.dtype == bool or image.dtype.kind not in "uif":
        raise ValueError(f"clahe needs a numeric image, got dtype {image.dtype}")
    if image.dtype.kind == "f" and not np.isfinite(image).all():
        raise ValueError("clahe: image contains NaN or infinite values")
    if image.dtype not in (np.uint8, np.uint16, np.int16, np.float32, np.float64):
        image = image.astype(np.float64)
    levels, hist_size = _spaced_levels(image, params.bins)
    engine = cv2.createCLAHE(clipLimit=opencv_clip_limit(params.clip_limit, hist_size),
                             tileGridSize=(params.tiles[1], params.tiles[0]))  # OpenCV wants (columns, rows)
    return _stretch_to_unit(engine.apply(levels))


def _stretch_to_unit(levels: np.ndarray) -> np.ndarray:
    """Integer grey levels -> float32 min-max stretched to exactly [0, 1] (a constant image gives zeros).

    For 8-bit levels one `cv2.LUT` pass to float replaces min-max normalisation's convert-and-scale (cheaper, and
    the ends land on exactly 0.0 and 1.0, which `cv2.normalize` misses by rounding)."""
    low, high = (int(v) for v in cv2.minMaxLoc(levels)[:2])
    if levels.dtype == np.uint8:
        table = np.arange(256, dtype=np.float64) - low
        table = (table / (high - low) if high > low else table * 0.0).clip(0.0, 1.0).astype(np.float32)
        return cv2.LUT(levels, table)
    if high == low:
        return np.zeros(levels.shape, np.float32)
    return (levels.astype(np.float32) - np.float32(low)) / np.float32(high - low)  # x / x is exactly 1


# ------------------------------------------------------------------------------------------------- intensities
def scale_to_unit(image: np.ndarray) -> np.ndarray:
    """Per-image min-max scaling to float32 [0, 1] (kth-cls: "all values in an image ... in a range of [0, 1]");
    a constant image becomes zeros."""
    image = np.asarray(image, np.float32)
    low, high = float(image.min()), float(image.max())
    if high == low:
        return np.zeros_like(image)
    return (image - low) * np.float32(1.0 / (high - low))


def gray_to_rgb(image: np.ndarray) -> np.ndarray:
    """(..., H, W) -> (..., H, W, 3) by repeating the grey channel (ImageNet-style 3-channel encoders)."""
    image = np.asarray(image)
    return np.repeat(image[..., None], 3, axis=-1)


def remove_background(image: np.ndarray, region: np.ndarray | None = None, fill=None) -> np.ndarray:
    """Set every pixel outside the breast (`breast_region`, or the given bool map) to `fill` (default: the image
    minimum), which also removes labels and markers lying in the background."""
    image = np.asarray(image)
    region = breast_region(image) if region is None else np.asarray(region, bool)
    if region.shape != image.shape:
        raise ValueError(f"region shape {region.shape} differs from image shape {image.shape}")
    out = image.copy()
    out[~region] = image.min() if fill is None else fill
    return out


# ------------------------------------------------------------------------------------------------- resizing
def _check_shape(shape) -> tuple[int, int]:
    height, width = (int(s) for s in shape)
    if height < 1 or width < 1:
        raise ValueError(f"target shape must be positive, got {tuple(shape)}")
    return height, width


def resize_image(image: np.ndarray, shape: tuple[int, int], interpolation: int | None = None) -> np.ndarray:
    """Resize keeping the dtype: area averaging when shrinking (no aliasing), bilinear otherwise."""
    height, width = _check_shape(shape)
    image = np.asarray(image)
    if image.shape[:2] == (height, width):
        return image.copy()
    if interpolation is None:
        shrinking = height <= image.shape[0] and width <= image.shape[1]
        interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(image, (width, height), interpolation=interpolation)


def resize_label(label: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of a label map (pixel-centre aligned, so no new ids and no half-pixel shift)."""
    height, width = _check_shape(shape)
    return cv2.resize(np.asarray(label), (width, height), interpolation=cv2.INTER_NEAREST_EXACT)


def resize_mask(mask: np.ndarray, shape: tuple[int, int], interpolation: int | None = None) -> np.ndarray:
    """Resize a binary mask as coverage (area or bilinear, like the image) thresholded at 0.5, as bool.

    A non-empty mask never vanishes: if no output pixel reaches 0.5, the best-covered pixels are kept.
    """
    mask = np.asarray(mask, bool)
    coverage = resize_image(mask.astype(np.float32), shape, interpolation)
    out = coverage >= 0.5
    if mask.any() and not out.any():
        out = coverage >= coverage.max()
    return out


# ------------------------------------------------------------------------------------------------- kth-cls
CROP_MODES = ("mass", "centre")


def square_crop_box(image: np.ndarray, mode: str = "mass") -> CropBox:
    """Square of side min(H, W): centred on the intensity centre of mass ("mass", our reading of seed 004
    L1378-1381) or on the image centre ("centre"); always inside the image."""
    if mode not in CROP_MODES:
        raise ConfigError(f"square crop mode must be one of {CROP_MODES}, got {mode!r}")
    image = np.asarray(image)
    height, width = image.shape
    side = min(height, width)
    cy, cx = (height - 1) / 2, (width - 1) / 2
    if mode == "mass":
        weights = image.astype(np.float64) - float(image.min())
        total = weights.sum()
        if total > 0:
            cy = float(weights.sum(axis=1) @ np.arange(height)) / total
            cx = float(weights.sum(axis=0) @ np.arange(width)) / total
    top = int(np.clip(round(cy - (side - 1) / 2), 0, height - side))
    left = int(np.clip(round(cx - (side - 1) / 2), 0, width - side))
    return CropBox(top, top + side, left, left + side)


@dataclass(frozen=True)
class KthClsParams:
    """Seed 004 §4.1: square crop -> bilinear 1024² -> [0, 1] -> CLAHE(8x8, 0.02) -> 128² model input."""

    crop_mode: str = "mass"
    work_size: int = 1024
    out_size: int = 128
    clahe: ClaheParams = KTH_CLS_CLAHE

    def __post_init__(self):
        if self.crop_mode not in CROP_MODES:
            raise ConfigError(f"crop mode must be one of {CROP_MODES}, got {self.crop_mode!r}")
        if self.work_size < 1 or self.out_size < 1:
            raise ConfigError(f"sizes must be positive, got work {self.work_size}, out {self.out_size}")


class KthClsSample(NamedTuple):
    image: np.ndarray  # (out, out) float32 in [0, 1]
    mask: np.ndarray | None  # (out, out) bool ROI mask, None when no mask was given
    box: CropBox  # the square crop in the source image
    roi_pixels_work: int  # ROI pixels at work_size, after the crop (0: the crop cut the ROI away)


def kth_cls_preprocess(image: np.ndarray, mask: np.ndarray | None = None,
                       params: KthClsParams = KthClsParams()) -> KthClsSample:
    """The kth-cls input chain on one mammogram (and its ROI mask, which gets the same geometry)."""
    image = np.asarray(image)
    if image.ndim != 2 or image.size == 0:
        raise ValueError(f"kth_cls_preprocess needs a non-empty 2-D image, got shape {image.shape}")
    if mask is not None and np.shape(mask) != image.shape:
        raise ValueError(f"mask shape {np.shape(mask)} differs from image shape {image.shape}")
    box = square_crop_box(image, params.crop_mode)
    work = (params.work_size, params.work_size)
    out = (params.out_size, params.out_size)
    square = resize_image(image[box.slices], work, cv2.INTER_LINEAR)  # the thesis: "bilinear interpolation"
    equalised = clahe(scale_to_unit(square), params.clahe.clip_limit, params.clahe.tiles, params.clahe.bins)
    small = np.clip(resize_image(equalised, out), 0.0, 1.0)
    if mask is None:
        return KthClsSample(small, None, box, 0)
    work_mask = resize_mask(np.asarray(mask, bool)[box.slices], work, cv2.INTER_LINEAR)
    return KthClsSample(small, resize_mask(work_mask, out), box, int(work_mask.sum()))


# ------------------------------------------------------------------------------------------------- oulu-mass
class SquareFit(NamedTuple):
    """How `fit_to_square` mapped the source: source (y, x) -> (y * scale + top, x * scale + left)."""

    scale: float
    top: int
    left: int
    height: int  # size of the resized content before padding
    width: int


def fit_to_square(image: np.ndarray, size: int, mask: np.ndarray | None = None, chest_wall: str = "left",
                  pad_value=0):
    """Resize so the longer side is `size` (aspect kept), then pad to size x size: below, and on the side away
    from the chest wall, so the breast stays against its image edge. Returns (image, mask or None, SquareFit)."""
    if chest_wall not in ("left", "right"):
        raise ConfigError(f"chest wall side must be 'left' or 'right', got {chest_wall!r}")
    image = np.asarray(image)
    height, width = image.shape
    scale = size / max(height, width)
    new_h, new_w = max(1, round(height * scale)), max(1, round(width * scale))
    resized = resize_image(image, (new_h, new_w))
    left = size - new_w if chest_wall == "right" else 0
    fit = SquareFit(scale, 0, left, new_h, new_w)

    def place(array, fill):
        canvas = np.full((size, size), fill, dtype=array.dtype)
        canvas[:new_h, left:left + new_w] = array
        return canvas

    square_mask = None if mask is None else place(resize_mask(mask, (new_h, new_w)), False)
    return place(resized, pad_value), square_mask, fit


# ------------------------------------------------------------------------------------------------- pig-ct
PLANES = ("transverse", "sagittal", "coronal")
# Volumes are (z, y, x): z along the pig, y vertical, x left-right. A plane stack is (slice, rows, columns):
# transverse (z | y, x) = 512 x 512; sagittal (x | y, z) and coronal (y | x, z) = 512 x length (seed 003 L1286-1290).
_PLANE_AXES = {"transverse": (0, 1, 2), "sagittal": (2, 1, 0), "coronal": (1, 2, 0)}


def _plane_axes(plane: str) -> tuple[int, int, int]:
    try:
        return _PLANE_AXES[plane]
    except KeyError:
        raise ConfigError(f"unknown plane {plane!r}; expected one of {', '.join(PLANES)}") from None


def plane_stack(volume: np.ndarray, plane: str) -> np.ndarray:
    """All slices of one plane as a (n, rows, columns) view of the (z, y, x) volume."""
    volume = np.asarray(volume)
    if volume.ndim != 3:
        raise ValueError(f"expected a (z, y, x) volume, got shape {volume.shape}")
    return np.transpose(volume, _plane_axes(plane))


def volume_from_plane_stack(stack: np.ndarray, plane: str) -> np.ndarray:
    """Inverse of `plane_stack`: slice-wise predictions of one plane back to (z, y, x)."""
    return np.transpose(np.asarray(stack), np.argsort(_plane_axes(plane)))


def padded_length(length: int, multiple: int) -> int:
    return -(-int(length) // multiple) * multiple


def pad_to_multiple(array: np.ndarray, multiple: int, axes, value=0) -> np.ndarray:
    """Pad the given axes at their end up to the next multiple (seed 003 L1446-1454: 512x600 -> 512x640)."""
    if multiple < 1:
        raise ConfigError(f"pad multiple must be positive, got {multiple}")
    array = np.asarray(array)
    widths = [(0, 0)] * array.ndim
    for axis in axes:
        widths[axis] = (0, padded_length(array.shape[axis], multiple) - array.shape[axis])
    if not any(after for _, after in widths):
        return array
    return np.pad(array, widths, constant_values=value)


def _axis_starts(length: int, size: int, stride: int) -> list[int]:
    """Block starts along one axis: every `stride`, with the last block ending at the end (or padded past it
    when the axis is shorter than one block)."""
    if length <= size:
        return [0]
    starts = list(range(0, length - size + 1, stride))
    if starts[-1] + size < length:
        starts.append(length - size if stride < size else starts[-1] + stride)
    return starts


def block_origins(shape, size: int = 96, overlap: float = 0.0) -> list[tuple[int, int, int]]:
    """Origins of the blocks that tile a (z, y, x) volume.

    overlap 0 (the thesis, L1584-1587): a plain partition; an axis that is not a multiple of `size` gets one more
    block reaching past its end, which `extract_block` pads (512 = 5 x 96 + 32 -> 6 blocks). overlap > 0: starts
    every size x (1 - overlap) voxels and a last block flush with the end, so nothing needs padding.
    """
    if size < 1:
        raise ConfigError(f"block size must be positive, got {size}")
    if not 0.0 <= overlap < 1.0:
        raise ConfigError(f"block overlap must be in [0, 1), got {overlap}")
    stride = size if overlap == 0 else max(1, int(round(size * (1.0 - overlap))))
    per_axis = [_axis_starts(int(n), size, stride) for n in shape]
    return [(z, y, x) for z in per_axis[0] for y in per_axis[1] for x in per_axis[2]]


def extract_block(volume: np.ndarray, origin, size: int, pad_value=0) -> np.ndarray:
    """The size³ block at `origin`; parts outside the volume are `pad_value` (air for CT, 0 for labels)."""
    volume = np.asarray(volume)
    block = np.full((size,) * 3, pad_value, dtype=volume.dtype)
    src = tuple(slice(o, min(o + size, n)) for o, n in zip(origin, volume.shape))
    dst = tuple(slice(0, s.stop - s.start) for s in src)
    block[dst] = volume[src]
    return block


def assemble_blocks(blocks, origins, shape) -> np.ndarray:
    """Put block predictions back into a (z, y, x) float32 volume, averaging where blocks overlap."""
    total = np.zeros(shape, np.float32)
    count = np.zeros(shape, np.uint16)
    for block, origin in zip(blocks, origins):
        block = np.asarray(block)
        dst = tuple(slice(o, min(o + block.shape[i], n)) for i, (o, n) in enumerate(zip(origin, shape)))
        src = tuple(slice(0, d.stop - d.start) for d in dst)
        total[dst] += block[src]
        count[dst] += 1
    if not count.all():
        raise ValueError("the blocks do not cover the whole volume")
    return total / count


def random_block_origin(shape, size: int, rng: np.random.Generator) -> tuple[int, int, int]:
    """A uniformly random block inside the volume (origin 0 along axes shorter than the block)."""
    return tuple(int(rng.integers(0, max(0, int(n) - size) + 1)) for n in shape)
