"""Provenance written next to every run: git commit, versions, machine, time."""
from __future__ import annotations

import datetime as _dt
import os
import platform
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def git_commit(root: Path = REPO_ROOT) -> str:
    """HEAD commit, with '+dirty' when tracked files differ from it; 'unknown' outside a git checkout."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return head.stdout.strip() + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def environment() -> dict:
    import keras
    import numpy
    import tensorflow

    return {"python": platform.python_version(), "tensorflow": tensorflow.__version__, "keras": keras.__version__,
            "keras_backend": keras.backend.backend(), "numpy": numpy.__version__, "machine": platform.machine(),
            "cpus": os.cpu_count(), "platform": platform.platform()}


def timestamp() -> str:
    return _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
