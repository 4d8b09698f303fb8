"""Build the `pig-ct` slice store (seed 003 §4.3): every scan of a split cut into transverse, sagittal and coronal
slices (padded with air to a multiple of 64) and, optionally, random 96³ training blocks.

Input layout (the one `mammoseg.data.synthetic_ct.make_ct_dataset` writes):
    <root>/<scan>/volume.npy  or  <root>/<scan>/ct/*.dcm   CT in HU: a (z, y, x) array or a folder of DICOM slices
    <root>/<scan>/label.npy   or  <root>/<scan>/label/     label volume of the same shape (0 background, 1 edible)
    <root>/splits.csv                                      columns case, split (train | val | test), as for kth-seg

Output: one HDF5 file per split, format "mammoseg-slice-store" v1:
    /<plane>/<scan>/images   (n, H, W) HU, int16 when every value is an integer in range (else float32),
                             one chunk per slice, padded at the bottom/right with air (-1000 HU, `pad_hu`)
    /<plane>/<scan>/labels   (n, H, W) uint8, padded with background
    /manifest                one row per (scan, plane): scan, split, plane, n_slices, height, width (before
                             padding), padded_height, padded_width, foreground_fraction, source, label_source
    /blocks/images, /blocks/labels   (N, b, b, b) random training blocks (only with blocks_per_scan > 0)
    /blocks/manifest         scan, z, y, x (block origin in the volume), seed
    attributes               format, format_version, generator_version, label_set, split, planes,
                             pad_multiple, pad_hu, block_size, config (JSON)

Storing each plane as its own slice stack (rather than the volume once) costs three times the disk space but lets a
training loop read any sagittal or coronal slice as one chunk, as it reads a transverse one.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from mammoseg.data.preprocess import (PLANES, extract_block, pad_to_multiple, padded_length, plane_stack,
                                      random_block_origin)
from mammoseg.errors import ConfigError, DataError
from mammoseg.io.annotations import SPLITS, read_splits
from mammoseg.io.volume import AIR_HU, CT_LABEL_NAMES, CT_VOLUME_NAMES, read_ct_volume, read_label_volume
from mammoseg.labels import BINARY

from .crops import crop_seed
from .outputs import (GZIP, append, atomic_h5, generator_version, growing_dataset, open_store, progress,
                      read_attrs, read_manifest, write_attrs, write_manifest)

FORMAT_NAME = "mammoseg-slice-store"
FORMAT_VERSION = 1
PAD_MULTIPLE = 64  # seed 003 L1446-1454: six 2x2 poolings
BLOCK_SIZE = 96  # seed 003 L1490-1496
THESIS_BLOCKS_PER_SCAN = 100  # L1502-1504: 2 blocks per step, 50 steps per training scan


@dataclass(frozen=True)
class CTScan:
    scan: str
    split: str
    volume_path: Path
    label_path: Path


def _find_one(folder: Path, names: tuple[str, ...], what: str) -> Path:
    found = [folder / name for name in names if (folder / name).exists()]
    if not found:
        raise DataError(folder / names[0], f"no {what} for scan {folder.name!r} (looked for {' or '.join(names)})")
    if len(found) > 1:
        raise DataError(folder, f"scan {folder.name!r} has both {found[0].name} and {found[1].name}; keep one")
    return found[0]


def read_ct_dataset(root: str | Path) -> list[CTScan]:
    """Scans listed in splits.csv (file order), with their volume and label files located."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(root, "dataset folder not found")
    return [CTScan(scan, split, _find_one(root / scan, CT_VOLUME_NAMES, "CT volume"),
                   _find_one(root / scan, CT_LABEL_NAMES, "label volume"))
            for scan, split in read_splits(root).items()]


def load_scan(scan: CTScan) -> tuple[np.ndarray, np.ndarray, tuple | None]:
    """(HU volume float32, bool label volume, spacing or None) of one scan, shapes checked."""
    volume = read_ct_volume(scan.volume_path)
    labels = read_label_volume(scan.label_path, expected_shape=volume.hu.shape)
    return volume.hu, labels, volume.spacing


def compact_hu(hu: np.ndarray) -> np.ndarray:
    """int16 when the HU values are integers that fit (CT always is, after the DICOM rescale), else float32."""
    rounded = np.rint(hu)
    if np.array_equal(rounded, hu) and rounded.min() >= -32768 and rounded.max() <= 32767:
        return rounded.astype(np.int16)
    return np.asarray(hu, np.float32)


@dataclass
class SliceBuildReport:
    path: Path
    n_scans: int = 0
    n_slices: dict = field(default_factory=dict)  # plane -> slices written
    n_blocks: int = 0


def build_slice_store(root: str | Path, out_path: str | Path, split: str, planes=None,
                      pad_multiple: int = PAD_MULTIPLE, blocks_per_scan: int = 0, block_size: int = BLOCK_SIZE,
                      seed: int = 0, pad_hu: float = AIR_HU, progress_bar: bool = True) -> SliceBuildReport:
    """Slice every scan of `split` in the given planes (default all three) and draw random blocks into one store.

    The thesis zero-pads its network inputs (L1446-1454). Padding with air (-1000 HU, the default) is zero after
    the package's HU window (`hu_window`: -1000 -> 0); pad_hu=0 zero-pads raw HU (water) instead.
    """
    if split not in SPLITS:
        raise ConfigError(f"split must be one of {SPLITS}, got {split!r}")
    planes = PLANES if planes is None else tuple(planes)
    unknown = [p for p in planes if p not in PLANES]
    if not planes or unknown:
        raise ConfigError(f"planes must be a non-empty subset of {PLANES}, got {list(planes)}")
    if pad_multiple < 1 or block_size < 1 or blocks_per_scan < 0 or seed < 0:
        raise ConfigError("pad multiple and block size must be positive, blocks per scan and seed >= 0")
    scans = [s for s in read_ct_dataset(root) if s.split == split]
    if not scans:
        raise DataError(Path(root) / "splits.csv", f"no scans in split {split!r}")
    report, rows, block_rows = SliceBuildReport(Path(out_path), len(scans)), [], []
    with atomic_h5(out_path) as handle:
        blocks = None
        if blocks_per_scan:
            group = handle.create_group("blocks")
            blocks = (growing_dataset(group, "images", (block_size,) * 3, np.int16),
                      growing_dataset(group, "labels", (block_size,) * 3, np.uint8))
        for scan in progress(scans, desc=f"pig-ct {split}", unit="scan", enabled=progress_bar):
            hu, labels, _ = load_scan(scan)
            hu = compact_hu(hu)
            if blocks is not None and hu.dtype != np.int16:
                raise DataError(scan.volume_path, "block store holds int16 HU; this volume has non-integer values")
            labels = labels.astype(np.uint8)
            for plane in planes:
                rows.append(_write_plane(handle, scan, plane, hu, labels, pad_multiple, pad_hu))
                report.n_slices[plane] = report.n_slices.get(plane, 0) + rows[-1]["n_slices"]
            for k in range(blocks_per_scan):
                own_seed = crop_seed(seed, scan.scan, k)
                origin = random_block_origin(hu.shape, block_size, np.random.default_rng(own_seed))
                append(blocks[0], extract_block(hu, origin, block_size, pad_hu))
                append(blocks[1], extract_block(labels, origin, block_size, 0))
                block_rows.append({"scan": scan.scan, "z": origin[0], "y": origin[1], "x": origin[2],
                                   "seed": own_seed})
        write_manifest(handle, pd.DataFrame(rows).astype({"n_slices": np.int32, "height": np.int32,
                                                          "width": np.int32, "padded_height": np.int32,
                                                          "padded_width": np.int32}))
        if blocks is not None:
            write_manifest(handle["blocks"], pd.DataFrame(block_rows).astype(
                {"z": np.int32, "y": np.int32, "x": np.int32, "seed": np.int64}))
            report.n_blocks = len(block_rows)
        write_attrs(handle, {
            "format": FORMAT_NAME, "format_version": FORMAT_VERSION,
            "generator_version": generator_version(FORMAT_NAME, FORMAT_VERSION), "label_set": BINARY.name,
            "split": split, "planes": list(planes), "pad_multiple": pad_multiple, "pad_hu": float(pad_hu),
            "block_size": block_size, "config": {"root": str(root), "split": split, "planes": list(planes),
                                                 "pad_multiple": pad_multiple, "blocks_per_scan": blocks_per_scan,
                                                 "block_size": block_size, "seed": seed, "pad_hu": pad_hu}})
    return report


def _write_plane(handle, scan: CTScan, plane: str, hu: np.ndarray, labels: np.ndarray, multiple: int,
                 pad_hu: float) -> dict:
    stack = plane_stack(hu, plane)
    n, height, width = stack.shape
    shape = (n, padded_length(height, multiple), padded_length(width, multiple))
    group = handle.require_group(plane).create_group(scan.scan)
    for name, array, fill in (("images", stack, pad_hu), ("labels", plane_stack(labels, plane), 0)):
        padded = pad_to_multiple(array, multiple, axes=(1, 2), value=fill)
        group.create_dataset(name, data=padded, chunks=(1, *shape[1:]), **GZIP)
    return {"scan": scan.scan, "split": scan.split, "plane": plane, "n_slices": n, "height": height, "width": width,
            "padded_height": shape[1], "padded_width": shape[2], "foreground_fraction": float(labels.mean()),
            "source": str(scan.volume_path), "label_source": str(scan.label_path)}


@dataclass
class SliceStore:
    path: Path
    manifest: pd.DataFrame
    attrs: dict
    blocks: pd.DataFrame | None = None


def read_slice_store(path: str | Path) -> SliceStore:
    """Manifest and attributes of a slice store (slices are read on demand with `read_slices`)."""
    path = Path(path)
    with open_store(path, FORMAT_NAME, FORMAT_VERSION, ("manifest",)) as handle:
        try:
            blocks = read_manifest(handle["blocks"]) if "blocks" in handle else None
            return SliceStore(path, read_manifest(handle), read_attrs(handle), blocks)
        except (OSError, KeyError, ValueError) as exc:
            raise DataError(path, f"cannot read slice store contents: {exc}") from None


def read_slices(path: str | Path, plane: str, scan: str, index=slice(None),
                padded: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(images, labels) of slices `index` (an int, slice or index list) of one scan and plane."""
    path = Path(path)
    with open_store(path, FORMAT_NAME, FORMAT_VERSION, ("manifest",)) as handle:
        if plane not in handle or scan not in handle[plane]:
            raise DataError(path, f"no {plane} slices of scan {scan!r} in this store")
        group = handle[plane][scan]
        try:
            images, labels = group["images"][index], group["labels"][index]
        except (OSError, ValueError, IndexError) as exc:
            raise DataError(path, f"cannot read {plane} slices {index} of scan {scan!r}: {exc}") from None
        if not padded:
            row = read_manifest(handle).query("scan == @scan and plane == @plane").iloc[0]
            images = images[..., :row["height"], :row["width"]]
            labels = labels[..., :row["height"], :row["width"]]
    return images, labels


def read_blocks(path: str | Path, index=slice(None)) -> tuple[np.ndarray, np.ndarray]:
    """(images, labels) of the stored random training blocks `index`."""
    path = Path(path)
    with open_store(path, FORMAT_NAME, FORMAT_VERSION, ("manifest",)) as handle:
        if "blocks" not in handle:
            raise DataError(path, "this slice store holds no training blocks (built with blocks_per_scan=0)")
        try:
            return handle["blocks/images"][index], handle["blocks/labels"][index]
        except (OSError, ValueError, IndexError) as exc:
            raise DataError(path, f"cannot read blocks {index}: {exc}") from None
