"""Opening HDF5 files for reading with the package's error contract: a missing or unreadable file is one DataError
naming the file (h5py's own OSError says neither clearly)."""
from __future__ import annotations

from pathlib import Path

from ..errors import DataError


def open_hdf5(path: str | Path, not_found: str):
    """An h5py.File open read-only; `not_found` is the problem reported when there is no such file."""
    import h5py  # imported here: most users of mammoseg.io never touch HDF5

    path = Path(path)
    if not path.is_file():
        raise DataError(path, not_found)
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise DataError(path, f"not a readable HDF5 file (truncated or wrong format): {exc}") from None
