"""CT volumes for the `pig-ct` thesis: a folder of DICOM slices or a `.npy` array, in Hounsfield units.

Volumes are (z, y, x) float32 HU with z the slice axis (transverse slices are (y, x) = 512 x 512 in the thesis).
The thesis states no HU windowing or normalisation (seed 003 §3.1, §4.3.2); `hu_window` defaults to the range
its Table 3.1 spans, air (-1000 HU) to bone/metal (+1000 HU), mapped to [0, 1] (docs/data-readers.md).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError
from .dicom import apply_modality, check_finite, header_errors, read_dataset, stored_pixels

# The pig-ct dataset layout, one folder per scan: `<root>/<scan>/volume.npy` or `<root>/<scan>/ct/*.dcm` (the CT),
# `<root>/<scan>/label.npy` or `<root>/<scan>/label/` (the label volume), `<root>/splits.csv`. Defined here, beside
# the readers of those files, for the synthetic writer and the data_prep reader alike.
CT_VOLUME_FILE, CT_DICOM_DIR = "volume.npy", "ct"
CT_LABEL_FILE, CT_LABEL_DIR = "label.npy", "label"
CT_VOLUME_NAMES = (CT_VOLUME_FILE, CT_DICOM_DIR)  # exactly one of them per scan folder
CT_LABEL_NAMES = (CT_LABEL_FILE, CT_LABEL_DIR)

AIR_HU, BONE_HU = -1000.0, 1000.0  # seed 003 Table 3.1 (L1286-1295)
PIG_CT_WINDOW = ((AIR_HU + BONE_HU) / 2, BONE_HU - AIR_HU)  # (center 0, width 2000)
_SKIPPED_NAMES = {"DICOMDIR"}
_SPACING_TOLERANCE = 0.01  # relative: slices further off than this mean a gap or a mixed series


@dataclass
class CTVolume:
    hu: np.ndarray  # (z, y, x) float32 Hounsfield units
    spacing: tuple[float, float, float] | None  # (z, y, x) mm; None for .npy (no header)
    path: Path


def _load_npy(path: Path) -> np.ndarray:
    if path.stat().st_size == 0:
        raise DataError(path, "empty file (0 bytes)")
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise DataError(path, f"not a readable .npy array (corrupt or truncated): {exc}") from None
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "biuf":
        raise DataError(path, f"expected a numeric array, got dtype {getattr(array, 'dtype', type(array))}")
    if array.ndim != 3 or array.size == 0:
        raise DataError(path, f"expected a non-empty 3-D (z, y, x) volume, got shape {array.shape}")
    return array


def _slice_files(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.iterdir()
                   if p.is_file() and not p.name.startswith(".") and p.name not in _SKIPPED_NAMES)
    if not files:
        raise DataError(folder, "empty folder: no DICOM slices found")
    return files


def _slice_position(ds) -> float | None:
    """Position along the slice normal (row x column direction cosines), the order scanners define."""
    position, orientation = ds.get("ImagePositionPatient"), ds.get("ImageOrientationPatient")
    if not position or not orientation or len(position) != 3 or len(orientation) != 6:
        return None
    normal = np.cross(np.asarray(orientation[:3], float), np.asarray(orientation[3:], float))
    return float(np.dot(normal, np.asarray(position, float)))


def _ordered_series(folder: Path) -> tuple[list[tuple[Path, object]], float | None]:
    """(path, dataset) pairs sorted along z, and the slice spacing when positions give one."""
    series = [(path, read_dataset(path)) for path in _slice_files(folder)]
    positions = []
    for path, ds in series:
        with header_errors(path):
            positions.append(_slice_position(ds))
    if all(p is not None for p in positions):
        order = np.argsort(positions, kind="stable")
        z = np.asarray(positions)[order]
        gaps = np.diff(z)
        if len(gaps) and np.min(gaps) <= 0:
            duplicate = series[order[int(np.argmin(gaps)) + 1]][0]
            raise DataError(duplicate, "two slices at the same ImagePositionPatient (duplicate slice?)")
        spacing = float(np.median(gaps)) if len(gaps) else None
        if len(gaps) and np.max(np.abs(gaps - spacing)) > _SPACING_TOLERANCE * spacing:
            raise DataError(folder, f"uneven slice spacing {gaps.min():.3g}..{gaps.max():.3g} mm "
                                    "(missing slices or a mixed series)")
    else:
        numbers = [ds.get("InstanceNumber") for _, ds in series]
        if any(n is None for n in numbers):
            missing = series[[n is None for n in numbers].index(True)][0]
            raise DataError(missing, "cannot order the slice: neither ImagePositionPatient/ImageOrientationPatient "
                                     "nor InstanceNumber")
        with header_errors(folder):
            numbers = [int(n) for n in numbers]
        if len(set(numbers)) != len(numbers):
            raise DataError(folder, "two slices with the same InstanceNumber (duplicate slice?)")
        order = np.argsort(numbers, kind="stable")
        spacing = None
    return [series[i] for i in order], spacing


def _read_series(folder: Path) -> tuple[np.ndarray, tuple[float, float, float] | None]:
    series, z_spacing = _ordered_series(folder)
    slices, shape = [], None
    for path, ds in series:
        with header_errors(path):
            pixels = apply_modality(stored_pixels(ds, path), ds, path)
        if shape is None:
            shape = pixels.shape
        elif pixels.shape != shape:
            raise DataError(path, f"slice shape {pixels.shape} differs from the series' {shape}")
        slices.append(pixels)
    first_path, first = series[0]
    with header_errors(first_path):
        z_spacing = z_spacing or (float(first.SliceThickness) if first.get("SliceThickness") else None)
        row_col = first.get("PixelSpacing")
        spacing = (z_spacing, float(row_col[0]), float(row_col[1])) if z_spacing and row_col else None
    return np.stack(slices), spacing


def read_ct_volume(path: str | Path) -> CTVolume:
    """HU volume from a `.npy` file (values taken as HU) or a folder of DICOM slices (rescale applied)."""
    path = Path(path)
    if path.is_dir():
        volume, spacing = _read_series(path)
    elif path.is_file() and path.suffix.lower() == ".npy":
        volume, spacing = _load_npy(path), None
    elif not path.exists():
        raise DataError(path, "not found")
    else:
        raise DataError(path, "expected a .npy file or a folder of DICOM slices")
    hu = np.asarray(volume, np.float32)
    check_finite(hu, path, "in the volume")
    return CTVolume(hu=hu, spacing=spacing, path=path)


def read_label_volume(path: str | Path, expected_shape: tuple[int, int, int] | None = None) -> np.ndarray:
    """Bool (z, y, x) label volume (thesis: edible = 1, background = 0) from `.npy` or a DICOM folder."""
    path = Path(path)
    if path.is_dir():
        labels, _ = _read_series(path)
    elif path.is_file() and path.suffix.lower() == ".npy":
        labels = _load_npy(path)
    else:
        raise DataError(path, "not found" if not path.exists() else "expected a .npy file or a folder of DICOM slices")
    if expected_shape is not None and tuple(labels.shape) != tuple(expected_shape):
        raise DataError(path, f"label volume shape {tuple(labels.shape)} does not match the CT volume "
                              f"shape {tuple(expected_shape)}")
    check_finite(np.asarray(labels), path, "in the label volume")
    unknown = [v for v in np.unique(labels).tolist() if v not in (0, 1)]
    if unknown:
        raise DataError(path, f"unknown label ids {unknown[:10]} (expected 0 = background, 1 = edible)")
    return np.asarray(labels) == 1


def hu_window(volume: np.ndarray, center: float = PIG_CT_WINDOW[0], width: float = PIG_CT_WINDOW[1]) -> np.ndarray:
    """Clip HU to [center - width/2, center + width/2] and map linearly onto [0, 1] (float32)."""
    if not width > 0:
        raise ValueError(f"window width must be positive, got {width}")
    low = center - width / 2
    return np.clip((np.asarray(volume, np.float32) - np.float32(low)) / np.float32(width), 0.0, 1.0)
