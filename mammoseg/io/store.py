"""HDF5 crop store: the class-balanced crop datasets of thesis §4.1 (L857-921), one file per crop size and split.

Layout (format "mammoseg-crop-store", version 1):
  /images    (N, s, s) image dtype (uint16 for mammograms); contiguous and uncompressed (default, memory-mappable)
             or, with `layout="chunked"` and in stores written before the contiguous layout, one gzip-1 chunk per crop
  /labels    (N, s, s) uint8 label ids, same layout as /images
  /manifest  (N,) compound: case (utf-8), split (utf-8), index (crop number within the case), cy, cx (centre in
             the full image), chosen_id (class that picked the centre, -1 = uniform fallback), elastic (0/1),
             seed (the crop's own 63-bit seed)
  attributes: format, format_version, crop_size, image_dtype, n_crops, generator_version and every key of the
             writer's `meta` (label_set, merge_sigma, elastic_alpha, elastic_sigma, config JSON ...).

A compound dataset (rather than JSON lines) keeps the manifest typed and readable by any HDF5 tool (h5dump, HDFView).
gzip rather than lzf for the same reason: every HDF5 build can decode it. The file is written under a temporary
name in the same folder and renamed into place only when the writer closes cleanly.

Reading: `read_crop_store` loads the crops into memory (small stores, tests); `open_crop_store` leaves them on
disk: a contiguous dataset becomes a read-only `np.memmap` at its file offset (zero copy; the OS page cache bounds
memory), a chunked one an `H5CropArray` that reads the requested crops through h5py. Both index like arrays, so
`mammoseg.data.pipeline` streams either. The two layouts are the same HDF5 datasets to every other reader, so the
format version is unchanged.
"""
from __future__ import annotations

import json
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from .. import __version__
from ..errors import DataError
from .hdf5 import open_hdf5

FORMAT_NAME = "mammoseg-crop-store"
FORMAT_VERSION = 1
GENERATOR_VERSION = f"mammoseg {__version__} / {FORMAT_NAME} v{FORMAT_VERSION}"
COMPRESSION = {"compression": "gzip", "compression_opts": 1}
LAYOUTS = ("contiguous", "chunked")
COPY_BLOCK_BYTES = 64 * 2**20  # scratch -> HDF5 copy granularity of the contiguous layout

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
    """Context manager that appends crops and their manifest rows, then atomically publishes the file.

    layout "contiguous" (default): crops go to raw scratch files beside the output and are copied into fixed-size,
    uncompressed HDF5 datasets when the block ends (HDF5 cannot grow a contiguous dataset), so readers can
    memory-map them. "chunked": one gzip-1 chunk per crop appended in place (smaller on disk, read through h5py).
    """

    def __init__(self, path: str | Path, crop_size: int, image_dtype, meta: dict | None = None,
                 layout: str = "contiguous"):
        self.path = Path(path)
        self.crop_size = int(crop_size)
        self.image_dtype = np.dtype(image_dtype)
        self.meta = dict(meta or {})
        self.layout = layout
        self.tmp_path = self.path.with_name(f"{self.path.name}.tmp-{os.getpid()}")
        self._dtypes = {"images": self.image_dtype, "labels": np.dtype(np.uint8)}
        self._scratch_paths = {name: self.tmp_path.with_name(f"{self.tmp_path.name}.{name}.raw")
                               for name in self._dtypes}
        self._scratch: dict = {}
        self._file: h5py.File | None = None
        self._rows: list[tuple] = []
        if self.crop_size <= 0:
            raise ValueError(f"crop size must be positive, got {crop_size}")
        if layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")

    def __enter__(self) -> "CropStoreWriter":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = h5py.File(self.tmp_path, "w")
        s = self.crop_size
        if self.layout == "chunked":
            for name, dtype in self._dtypes.items():
                self._file.create_dataset(name, shape=(0, s, s), maxshape=(None, s, s), dtype=dtype,
                                          chunks=(1, s, s), **COMPRESSION)
        else:
            self._scratch = {name: open(path, "wb") for name, path in self._scratch_paths.items()}
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
            if self.layout == "chunked":
                dataset = self._file[name]
                dataset.resize(n + 1, axis=0)
                dataset[n] = array
            else:
                self._scratch[name].write(np.ascontiguousarray(array).tobytes())
        self._rows.append((case, split, index, cy, cx, chosen_id, int(bool(elastic)), seed))

    def __exit__(self, exc_type, exc, tb) -> bool:
        handle, self._file = self._file, None
        published = False
        try:
            self._close_scratch()
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
            for path in self._scratch_paths.values():
                path.unlink(missing_ok=True)
        return False

    def _close_scratch(self) -> None:
        scratch, self._scratch = self._scratch, {}
        for stream in scratch.values():
            stream.close()

    def _copy_scratch(self, handle: h5py.File) -> None:
        """Scratch files -> contiguous datasets, in blocks of about COPY_BLOCK_BYTES (bounded memory)."""
        n, s = len(self._rows), self.crop_size
        for name, dtype in self._dtypes.items():
            dataset = handle.create_dataset(name, shape=(n, s, s), dtype=dtype)
            if n == 0:
                continue
            source = np.memmap(self._scratch_paths[name], dtype=dtype, mode="r", shape=(n, s, s))
            step = max(1, COPY_BLOCK_BYTES // (s * s * dtype.itemsize))
            for start in range(0, n, step):
                dataset[start:start + step] = source[start:start + step]
            del source

    def _finish(self, handle: h5py.File) -> None:
        if self.layout == "contiguous":
            self._copy_scratch(handle)
        manifest = np.array(self._rows, dtype=MANIFEST_DTYPE) if self._rows else np.zeros(0, MANIFEST_DTYPE)
        handle.create_dataset("manifest", data=manifest, maxshape=(None,), chunks=True, **COMPRESSION)
        attrs = handle.attrs
        for key, value in self.meta.items():
            attrs[key] = _attr_value(value)
        attrs.update(format=FORMAT_NAME, format_version=FORMAT_VERSION, crop_size=self.crop_size,
                     image_dtype=self.image_dtype.name, n_crops=len(self._rows), generator_version=GENERATOR_VERSION)


class H5CropArray:
    """Crops of a chunked store dataset, read through h5py on indexing: the streaming path for compressed stores.

    Indexes like an (N, s, s) array on the first axis by int, slice or integer array (any order, repeats allowed:
    the indices are sorted, each crop read once, and put back in the asked order), optionally followed by slices of
    the crop. The file is opened on first use in each process (h5py handles do not survive
    fork or pickling).
    """

    def __init__(self, path: Path, name: str, shape: tuple, dtype):
        self.path, self.name, self.shape, self.dtype = Path(path), name, tuple(shape), np.dtype(dtype)
        self._handle: h5py.File | None = None
        self._pid: int | None = None

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return f"H5CropArray({str(self.path)!r}, {self.name!r}, shape={self.shape}, dtype={self.dtype})"

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_handle": None, "_pid": None}

    def __array__(self, dtype=None, copy=None):
        array = self[:]
        return array if dtype is None else array.astype(dtype)

    def _dataset(self) -> h5py.Dataset:
        if self._handle is None or self._pid != os.getpid():
            self._handle, self._pid = _open_checked(self.path), os.getpid()
        return self._handle[self.name]

    def __getitem__(self, key) -> np.ndarray:
        first, rest = (key[0], tuple(key[1:])) if isinstance(key, tuple) else (key, ())
        simple = isinstance(first, (slice, int, np.integer))
        unique, inverse = (None, None) if simple else np.unique(self._checked_indices(first), return_inverse=True)
        with _as_data_error(self.path, f"cannot read {self.name} crops"):
            dataset = self._dataset()
            if simple:
                return dataset[(first, *rest)]
            if unique.size == 0:
                return dataset[(slice(0, 0), *rest)]
            # one read per crop: h5py's own point selection is ~100x slower on chunk-per-crop datasets
            return np.stack([dataset[(int(i), *rest)] for i in unique])[inverse]

    def _checked_indices(self, indices) -> np.ndarray:
        wanted = np.asarray(indices, np.int64)
        if wanted.ndim != 1:
            raise IndexError(f"crop indices must be 1-D, got shape {wanted.shape}")
        wanted = np.where(wanted < 0, wanted + self.shape[0], wanted)
        if wanted.size and (wanted.min() < 0 or wanted.max() >= self.shape[0]):
            raise IndexError(f"crop index out of range 0..{self.shape[0] - 1}")
        return wanted

    def close(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.close()


@dataclass
class CropStore:
    path: Path
    manifest: pd.DataFrame
    attrs: dict
    # ndarray (read_crop_store), np.memmap / H5CropArray (open_crop_store: on disk), None (arrays=False)
    images: np.ndarray | H5CropArray | None = field(default=None, repr=False)
    labels: np.ndarray | H5CropArray | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.manifest)

    @property
    def crop_size(self) -> int:
        return int(self.attrs["crop_size"])

    def label_blocks(self, crops_per_block: int = 64):
        """The label crops in (b, s, s) blocks, whatever holds them: statistics over any store size."""
        if self.labels is None:
            yield from iter_store_labels(self.path, crops_per_block)
            return
        for start in range(0, len(self.labels), crops_per_block):
            yield np.asarray(self.labels[start:start + crops_per_block])


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


# h5py reports damaged files as OSError (data), KeyError (object headers), RuntimeError (links), ValueError (types)
HDF5_ERRORS = (OSError, KeyError, RuntimeError, ValueError)


@contextmanager
def _as_data_error(path: Path, what: str):
    """Turn h5py's errors about a damaged file into one DataError naming the file."""
    try:
        yield
    except HDF5_ERRORS as exc:
        raise DataError(path, f"{what} (corrupt or truncated file?): {exc}") from None


def _open_checked(path: Path) -> h5py.File:
    """Open a store read-only and check its format marker and datasets; any problem is one DataError."""
    handle = open_hdf5(path, "crop store not found")
    try:
        with _as_data_error(path, "cannot read crop store structure"):
            if handle.attrs.get("format") != FORMAT_NAME:
                raise DataError(path, f"not a {FORMAT_NAME} file (format attribute is {handle.attrs.get('format')!r})")
            version = int(handle.attrs.get("format_version", -1))
            if version != FORMAT_VERSION:
                raise DataError(path, f"{FORMAT_NAME} version {version} is not supported (this reader: "
                                      f"{FORMAT_VERSION})")
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


def _read_header(path: Path, handle: h5py.File) -> tuple[dict, pd.DataFrame]:
    with _as_data_error(path, "cannot read crop store manifest"):
        attrs = {key: _decode(value) for key, value in handle.attrs.items()}
        return attrs, _manifest_frame(handle["manifest"][...])


def read_crop_store(path: str | Path, arrays: bool = True) -> CropStore:
    """Load a crop store (`arrays=False`: manifest and attributes only; `open_crop_store` to stream the crops)."""
    path = Path(path)
    with _open_checked(path) as handle:
        attrs, manifest = _read_header(path, handle)
        with _as_data_error(path, "cannot read crop store contents"):
            images = handle["images"][...] if arrays else None
            labels = handle["labels"][...] if arrays else None
    return CropStore(path=path, manifest=manifest, attrs=attrs, images=images, labels=labels)


def _on_disk(path: Path, dataset: h5py.Dataset):
    """A dataset as a read-only memmap when it is contiguous and uncompressed, else as an H5CropArray."""
    if dataset.chunks is not None or dataset.compression is not None:
        return H5CropArray(path, dataset.name.lstrip("/"), dataset.shape, dataset.dtype)
    nbytes = int(np.prod(dataset.shape)) * dataset.dtype.itemsize
    if nbytes == 0:
        return np.zeros(dataset.shape, dataset.dtype)
    offset = dataset.id.get_offset()
    if offset is None:
        raise DataError(path, f"crop store dataset {dataset.name} was never written (no storage allocated)")
    size = path.stat().st_size
    if offset + nbytes > size:  # a memmap past the end of the file would crash the process (SIGBUS) on access
        raise DataError(path, f"crop store is truncated: {dataset.name} needs bytes up to {offset + nbytes}, "
                              f"the file holds {size}")
    return np.memmap(path, dtype=dataset.dtype, mode="r", offset=offset, shape=dataset.shape)


def open_crop_store(path: str | Path) -> CropStore:
    """A crop store whose crops stay on disk and are read when indexed: for stores larger than memory."""
    path = Path(path)
    with _open_checked(path) as handle:
        attrs, manifest = _read_header(path, handle)
        with _as_data_error(path, "cannot locate crop store contents"):
            images, labels = _on_disk(path, handle["images"]), _on_disk(path, handle["labels"])
    return CropStore(path=path, manifest=manifest, attrs=attrs, images=images, labels=labels)


def iter_store_labels(path: str | Path, batch_size: int = 64):
    """Label crops in batches of (b, s, s), without loading the whole store."""
    path = Path(path)
    with _open_checked(path) as handle:
        labels = handle["labels"]
        for start in range(0, labels.shape[0], batch_size):
            with _as_data_error(path, f"cannot read label crops {start}.."):
                block = labels[start:start + batch_size]
            yield block
