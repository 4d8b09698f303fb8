"""Atomic writes: every file and folder the package produces appears whole or not at all.

Each writer fills a temporary name in the destination's own folder and renames it into place (os.replace is
atomic within one file system), so a crash, a kill or a concurrent reader never sees half a file. The temporary
name keeps the destination's full name as its ending, because some writers choose the format by it (matplotlib's
savefig, Keras' `.weights.h5`, numpy's `.npz`), and starts with a dot so folder globs skip it. The writer itself
creates the temporary file, so it gets the usual permissions (umask), not mkstemp's owner-only 0600.
"""
from __future__ import annotations

import os
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_text", "atomic_folder"]


def _temporary_name(path: Path, kind: str = ".tmp") -> Path:
    """A name no other process or thread uses: pid plus a random part, the destination's name kept at the end."""
    return path.with_name(f"{kind}-{os.getpid()}-{uuid.uuid4().hex[:12]}-{path.name}")


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary file path next to `path` for any writer that takes a path; on a clean exit it replaces
    `path`, on an error it is deleted and `path` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary_name(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write `data` to `path` atomically (parent folders are created); return `path`."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    """Write `text` to `path` atomically (parent folders are created); return `path`."""
    return atomic_write_bytes(path, text.encode(encoding))


@contextmanager
def atomic_folder(path: str | Path) -> Iterator[Path]:
    """Yield a fresh temporary folder next to `path`; on a clean exit it takes `path`'s place.

    POSIX cannot rename onto a non-empty folder, so an existing `path` is first renamed aside and deleted after
    the swap: between the two renames `path` is briefly absent, but never half-written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary_name(path)
    tmp.mkdir()
    try:
        yield tmp
        if path.exists():
            aside = _temporary_name(path, ".old")
            os.replace(path, aside)
            os.replace(tmp, path)
            shutil.rmtree(aside, ignore_errors=True)
        else:
            os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
