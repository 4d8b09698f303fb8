"""HDF5 crop store: the class-balanced crop datasets of thesis §4.1 (L857-921), one file per crop size and split.

Layout (format "mammoseg-crop-store", version 1):
  /images    (N, s, s) image dtype (uint16 for mammograms), one chunk per crop, gzip level 1
  /labels    (N, s, s) uint8 label ids, one chunk per crop, gzip level 1
  /manifest  (N,) compound: case (utf-8), split (utf-8), index (crop number within the case), cy, cx (centre in
             the full image), chosen_id (class that picked the centre, -1 = uniform fallback), elastic (0/1),
             seed (the crop's own 63-bit seed)
  attributes: format, format_version, crop_size, image_dtype, n_crops, generator_version and every key of the
             writer's `meta` (label_set, merge_sigma, elastic_alpha, elastic_sigma, config JSON ...).

A compound dataset (rather than JSON lines) keeps the manifest typed and readable by any HDF5 tool (h5dump, HDFView).
gzip rather than lzf for the same reason: every HDF5 build can decode it. The file is written under a temporary
name in the same folder and renamed into place only when the writer closes cleanly.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from .. import __version__
from ..errors import DataError

FORMAT_NAME = "mammoseg-crop-store"
FORMAT_VERSION = 1
GENERATOR_VERSION = f"mammoseg {__version__} / {FORMAT_NAME} v{FORMAT_VERSION}"
COMPRESSION = {"compression": "gzip", "compression_opts": 1}

_STR = h5py.string_dtype("utf-8")
MANIFEST_DTYPE = np.dtype([("case", _STR), ("split", _STR), ("index", np.int32), ("cy", np.int32),
                           ("cx", np.int32), ("chosen_id", np.int16), ("elastic", np.uint8), ("seed", np.int64)])
MANIFEST_FIELDS = MANIFEST_DTYPE.names


def _attr_value(value):
    """HDF5 attributes hold scalars and strings; anything else is stored as JSON text."""
    if isinstance(value, (str, bool, int, float, np.integer, np.floating, np.bool_)):
        return value
    return json.dumps(value, sort_keys=True)


class CropStoreWriter:
    """Context manager that appends crops and their manifest rows, then atomically publishes the file."""

    def __init__(self, path: str | Path, crop_size: int, image_dtype, meta: dict | None = None):
        self.path = Path(path)
        self.crop_size = int(crop_size)
        self.image_dtype = np.dtype(image_dtype)
        self.meta = dict(meta or {})
        self.tmp_path = self.path.with_name(f"{self.path.name}.tmp-{os.getpid()}")
        self._file: h5py.File | None = None
        self._rows: list[tuple] = []
        if self.crop_size <= 0:
            raise ValueError(f"crop size must be positive, got {crop_size}")

    def __enter__(self) -> "CropStoreWriter":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = h5py.File(self.tmp_path, "w")
        s = self.crop_size
        for name, dtype in (("images", self.image_dtype), ("labels", np.uint8)):
            self._file.create_dataset(name, shape=(0, s, s), maxshape=(None, s, s), dtype=dtype,
                                      chunks=(1, s, s), **COMPRESSION)
        return self

    def __len__(self) -> int:
        return len(self._rows)

    def append(self, image: np.ndarray, label: np.ndarray, *, case: str, split: str, index: int, cy: int, cx: int,
               chosen_id: int, elastic: bool, seed: int) -> None:
        if self._file is None:
            raise RuntimeError("CropStoreWriter.append outside its `with` block")
        shape = (self.crop_size, self.crop_size)
        image, label = np.asarray(image), np.asarray(label)
        if image.shape != shape or label.shape != shape:
            raise DataError(self.path, f"crop of shape {image.shape}/{label.shape}, store holds {shape}")
        if image.dtype != self.image_dtype:
            raise DataError(self.path, f"crop image dtype {image.dtype}, store holds {self.image_dtype}")
        if label.dtype != np.uint8:
            raise DataError(self.path, f"crop label dtype {label.dtype}, store holds uint8")
        n = len(self._rows)
        for name, array in (("images", image), ("labels", label)):
            dataset = self._file[name]
            dataset.resize(n + 1, axis=0)
            dataset[n] = array
        self._rows.append((case, split, index, cy, cx, chosen_id, int(bool(elastic)), seed))

    def __exit__(self, exc_type, exc, tb) -> bool:
        handle, self._file = self._file, None
        published = False
        try:
            if exc_type is None:
                self._finish(handle)
            handle.close()
            if exc_type is None:
                os.replace(self.tmp_path, self.path)
                published = True
        finally:
            if not published:  # an error in the block or while finishing: leave nothing behind
                handle.close()
                self.tmp_path.unlink(missing_ok=True)
        return False

    def _finish(self, handle: h5py.File) -> None:
        manifest = np.array(self._rows, dtype=MANIFEST_DTYPE) if self._rows else np.zeros(0, MANIFEST_DTYPE)
        handle.create_dataset("manifest", data=manifest, maxshape=(None,), chunks=True, **COMPRESSION)
        attrs = handle.attrs
        for key, value in self.meta.items():
            attrs[key] = _attr_value(value)
        attrs.update(format=FORMAT_NAME, format_version=FORMAT_VERSION, crop_size=self.crop_size,
                     image_dtype=self.image_dtype.name, n_crops=len(self._rows), generator_version=GENERATOR_VERSION)


@dataclass
class CropStore:
    path: Path
    manifest: pd.DataFrame
    attrs: dict
    images: np.ndarray | None = field(default=None, repr=False)  # None when read with arrays=False
    labels: np.ndarray | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.manifest)

    @property
    def crop_size(self) -> int:
        return int(self.attrs["crop_size"])


def _decode(value):
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.generic):
        return value.item()
    return value


def _manifest_frame(table: np.ndarray) -> pd.DataFrame:
    frame = pd.DataFrame({name: table[name] for name in MANIFEST_FIELDS})
    for name in ("case", "split"):
        frame[name] = [_decode(v) for v in frame[name]]
    frame["elastic"] = frame["elastic"].astype(bool)
    return frame


def _open_checked(path: Path) -> h5py.File:
    """Open a store read-only and check its format marker and datasets; any problem is one DataError."""
    if not path.is_file():
        raise DataError(path, "crop store not found")
    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise DataError(path, f"not a readable HDF5 file (truncated or wrong format): {exc}") from None
    try:
        if handle.attrs.get("format") != FORMAT_NAME:
            raise DataError(path, f"not a {FORMAT_NAME} file (format attribute is {handle.attrs.get('format')!r})")
        version = int(handle.attrs.get("format_version", -1))
        if version != FORMAT_VERSION:
            raise DataError(path, f"{FORMAT_NAME} version {version} is not supported (this reader: {FORMAT_VERSION})")
        missing = [n for n in ("images", "labels", "manifest") if n not in handle]
        if missing:
            raise DataError(path, f"crop store lacks dataset(s) {missing}")
        counts = {n: handle[n].shape[0] for n in ("images", "labels", "manifest")}
        if len(set(counts.values())) != 1:
            raise DataError(path, f"crop store datasets disagree in length: {counts}")
    except BaseException:
        handle.close()
        raise
    return handle


def read_crop_store(path: str | Path, arrays: bool = True) -> CropStore:
    """Load a crop store (`arrays=False`: manifest and attributes only, for stores too big for memory)."""
    path = Path(path)
    with _open_checked(path) as handle:
        try:
            attrs = {key: _decode(value) for key, value in handle.attrs.items()}
            manifest = _manifest_frame(handle["manifest"][...])
            images = handle["images"][...] if arrays else None
            labels = handle["labels"][...] if arrays else None
        except (OSError, KeyError, ValueError) as exc:  # corrupt chunks, bad compound fields
            raise DataError(path, f"cannot read crop store contents: {exc}") from None
    return CropStore(path=path, manifest=manifest, attrs=attrs, images=images, labels=labels)


def iter_store_labels(path: str | Path, batch_size: int = 64):
    """Label crops in batches of (b, s, s), without loading the whole store."""
    path = Path(path)
    with _open_checked(path) as handle:
        labels = handle["labels"]
        for start in range(0, labels.shape[0], batch_size):
            try:
                yield labels[start:start + batch_size]
            except OSError as exc:
                raise DataError(path, f"cannot read label crops {start}..: {exc}") from None
