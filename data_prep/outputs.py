"""What every `mammoseg-prep` builder shares: atomic HDF5 files and folders, typed manifests, progress bars.

A builder writes under a temporary name in the destination's own folder and renames it into place only when it
finished without an error, so a crash or a bad input file never leaves a half-written store or dataset behind.
"""
from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
from tqdm import tqdm

from mammoseg import __version__
from mammoseg.errors import ConfigError, DataError
from mammoseg.io.atomic import atomic_folder, atomic_path, atomic_write_bytes
from mammoseg.io.hdf5 import open_hdf5

GZIP = {"compression": "gzip", "compression_opts": 1}
_STRING = h5py.string_dtype("utf-8")


def generator_version(format_name: str, version: int) -> str:
    return f"mammoseg {__version__} / {format_name} v{version}"


def progress(iterable=None, *, desc: str, unit: str, enabled: bool, total: int | None = None):
    return tqdm(iterable, desc=desc, unit=unit, total=total, disable=not enabled)


@contextmanager
def atomic_h5(path: str | Path):
    """Yield an h5py.File open for writing under a temporary name; rename it to `path` on a clean exit."""
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as handle:
        yield handle  # the file is closed before atomic_path renames it


@contextmanager
def atomic_dir(path: str | Path, overwrite: bool = False):
    """Yield a fresh temporary folder next to `path`; on a clean exit it replaces `path` (which must not exist
    unless `overwrite`)."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise ConfigError(f"{path} already exists; pass --overwrite to replace it")
    with atomic_folder(path) as tmp:
        yield tmp


def write_attrs(handle: h5py.File | h5py.Group, attrs: dict) -> None:
    """HDF5 attributes hold scalars and strings; anything else is stored as JSON text."""
    for key, value in attrs.items():
        if isinstance(value, (str, bool, int, float, np.integer, np.floating, np.bool_)):
            handle.attrs[key] = value
        else:
            handle.attrs[key] = json.dumps(value, sort_keys=True)


def read_attrs(handle: h5py.File | h5py.Group) -> dict:
    out = {}
    for key, value in handle.attrs.items():
        if isinstance(value, bytes):
            value = value.decode("utf-8")
        elif isinstance(value, np.generic):
            value = value.item()
        out[key] = value
    return out


def write_manifest(handle: h5py.File | h5py.Group, frame: pd.DataFrame, name: str = "manifest") -> None:
    """A DataFrame as an HDF5 compound dataset (text columns utf-8), readable by any HDF5 tool."""
    fields = []
    for column in frame.columns:
        kind = frame[column].dtype.kind
        fields.append((column, _STRING if kind in "OSUT" else (np.uint8 if kind == "b" else frame[column].dtype)))
    table = np.zeros(len(frame), dtype=fields)
    for column in frame.columns:
        table[column] = frame[column].to_numpy()
    handle.create_dataset(name, data=table, **GZIP)


def read_manifest(handle: h5py.File | h5py.Group, name: str = "manifest") -> pd.DataFrame:
    table = handle[name][...]
    frame = pd.DataFrame({column: table[column] for column in table.dtype.names})
    for column in frame.columns:
        if frame[column].dtype == object:
            frame[column] = [v.decode("utf-8") if isinstance(v, bytes) else v for v in frame[column]]
    return frame


def open_store(path: str | Path, format_name: str, version: int, datasets: tuple[str, ...]) -> h5py.File:
    """Open an HDF5 store read-only and check its format marker and datasets; every problem is one DataError."""
    path = Path(path)
    handle = open_hdf5(path, f"{format_name} file not found")
    try:
        found = handle.attrs.get("format")
        if found != format_name:
            raise DataError(path, f"not a {format_name} file (format attribute is {found!r})")
        if int(handle.attrs.get("format_version", -1)) != version:
            raise DataError(path, f"{format_name} version {handle.attrs.get('format_version')} is not supported "
                                  f"(this reader: {version})")
        missing = [name for name in datasets if name not in handle]
        if missing:
            raise DataError(path, f"store lacks dataset(s) {missing}")
    except BaseException:
        handle.close()
        raise
    return handle


def write_csv(path: str | Path, frame: pd.DataFrame) -> Path:
    """A manifest CSV, written atomically."""
    return atomic_write_bytes(path, frame.to_csv(index=False, lineterminator="\n").encode("utf-8"))


def write_json(path: str | Path, content) -> Path:
    return atomic_write_bytes(path, (json.dumps(content, indent=2) + "\n").encode("utf-8"))


def growing_dataset(handle: h5py.File | h5py.Group, name: str, item_shape: tuple[int, ...], dtype) -> h5py.Dataset:
    """An (0, *item_shape) dataset that `append` grows one item at a time, one chunk per item."""
    return handle.create_dataset(name, shape=(0, *item_shape), maxshape=(None, *item_shape), dtype=dtype,
                                 chunks=(1, *item_shape), **GZIP)


def append(dataset: h5py.Dataset, item: np.ndarray) -> None:
    n = dataset.shape[0]
    dataset.resize(n + 1, axis=0)
    dataset[n] = item
