"""Helpers every benchmark script shares: machine provenance and atomic appends to its docs/ record."""
from __future__ import annotations

import os
import platform
import tempfile
from pathlib import Path


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> str:
    return f"{os.cpu_count()} CPUs, {cpu_model()}"


def append_record(path: Path, header: str, lines: list[str]) -> None:
    """Append a block of lines to a Markdown record (created with `header`), atomically."""
    path = Path(path)
    text = path.read_text(encoding="utf-8") if path.is_file() else header
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text.rstrip("\n") + "\n\n" + "\n".join(lines) + "\n")
    os.replace(tmp, path)
