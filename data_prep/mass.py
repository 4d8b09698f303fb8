"""Build the `oulu-mass` training set (seed 002 §3.1, L751-756 and L831-839): every mammogram of an INbreast-like
dataset cropped to the breast and "resized and padded to 512x512", stored as 16-bit PNG.

Input: the layout of `mammoseg.io.inbreast` (images/<id>.{dcm,png,...}, masks/<id>.png, meta.csv). DICOMs go
through the display pipeline (VOI LUT, MONOCHROME1) as the thesis did before writing PNGs (L785-786, L797-799).
Output: the same layout, so the result is itself an oulu-mass dataset:
    <out>/images/<id>.png     size x size, the source dtype (16-bit mammograms stay 16-bit)
    <out>/masks/<id>.png      0 / 255, one per case (all 0 without a mass)
    <out>/meta.csv            id, split, has_mass and the source's other columns
    <out>/manifest.csv        per case: source files, breast box, scale, padding, chest-wall side, mass pixels
    <out>/prep-config.json    the options used
The folder is written under a temporary name and renamed into place when every case succeeded.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mammoseg.data.preprocess import fit_to_square, remove_background
from mammoseg.errors import ConfigError, DataError
from mammoseg.io.dicom import LEFT, chest_wall_side
from mammoseg.io.inbreast import CropBox, breast_crop, load_record, read_mass_dataset
from mammoseg.io.raster import write_image, write_mask

from .outputs import atomic_dir, progress, write_csv, write_json

MASS_SIZE = 512  # seed 002 L753-754


@dataclass(frozen=True)
class MassPrepParams:
    size: int = MASS_SIZE
    breast_crop: bool = True  # "cropping and padding the images to 512x512" (L833-834)
    margin: float = 0.02  # box margin (share of the image size) that gives back the skin line Otsu misses
    remove_background: bool = False  # not in the thesis; blanks labels/markers outside the breast

    def __post_init__(self):
        if self.size < 1:
            raise ConfigError(f"size must be positive, got {self.size}")
        if not 0.0 <= self.margin < 0.5:
            raise ConfigError(f"breast-box margin must be in [0, 0.5), got {self.margin}")


def prepare_mass_case(image: np.ndarray, mask: np.ndarray, params: MassPrepParams):
    """(image, bool mask, manifest fields) of one case after breast crop, background removal and fit-to-square."""
    height, width = image.shape
    box = breast_crop(image, mask, params.margin).box if params.breast_crop else CropBox(0, height, 0, width)
    image, mask = image[box.slices], mask[box.slices]
    if params.remove_background:
        image = remove_background(image)
    side = chest_wall_side(image) or LEFT
    square, square_mask, fit = fit_to_square(image, params.size, mask, chest_wall=side, pad_value=0)
    fields = {"crop_top": box.top, "crop_bottom": box.bottom, "crop_left": box.left, "crop_right": box.right,
              "scale": fit.scale, "pad_left": fit.left, "content_height": fit.height, "content_width": fit.width,
              "chest_wall": side}
    return square, square_mask, fields


def build_mass_set(root: str | Path, out_dir: str | Path, params: MassPrepParams = MassPrepParams(),
                   overwrite: bool = False, progress_bar: bool = True) -> pd.DataFrame:
    """Preprocess every case of the dataset at `root` into `out_dir`; returns the manifest."""
    records = read_mass_dataset(root)
    rows, meta = [], []
    with atomic_dir(out_dir, overwrite) as tmp:
        for record in progress(records, desc="oulu-mass", unit="image", enabled=progress_bar):
            image, mask = load_record(record)
            if image.dtype not in (np.uint8, np.uint16):
                raise DataError(record.image_path, f"pixel type {image.dtype} cannot be stored as PNG; the thesis "
                                                   "stores 16-bit PNG (convert the image to uint16 first)")
            square, square_mask, fields = prepare_mass_case(image, mask, params)
            write_image(tmp / "images" / f"{record.id}.png", square)
            write_mask(tmp / "masks" / f"{record.id}.png", square_mask)
            meta.append({"id": record.id, "split": record.split, "has_mass": int(record.has_mass), **record.extra})
            rows.append({"id": record.id, "split": record.split, "has_mass": int(record.has_mass),
                         "source": str(record.image_path),
                         "mask_source": "" if record.mask_path is None else str(record.mask_path),
                         "source_height": image.shape[0], "source_width": image.shape[1], **fields,
                         "mass_pixels_source": int(mask.sum()), "mass_pixels": int(square_mask.sum())})
        manifest = pd.DataFrame(rows)
        write_csv(tmp / "meta.csv", pd.DataFrame(meta))
        write_csv(tmp / "manifest.csv", manifest)
        write_json(tmp / "prep-config.json", {"root": str(root), **asdict(params)})
    return manifest
