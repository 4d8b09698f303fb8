#!/usr/bin/env python3
"""Bootstrap and task runner that needs nothing but python3.

    python3 tasks.py demo   # create .venv on first use, install, run the main job
    python3 tasks.py test   # create .venv on first use, install, run the test suite

Extra arguments after the task name are passed through (to `mammoseg demo` or to pytest).
MAMMOSEG_EXTRAS picks the setup.cfg extras installed (default "dev"; CI adds "realdata", the real-DICOM test data).
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
STAMP = VENV / ".mammoseg-installed"


def _fingerprint() -> str:
    return hashlib.sha256((ROOT / "setup.cfg").read_bytes() + (ROOT / "pyproject.toml").read_bytes()).hexdigest()


def ensure_env(extras: str = "dev") -> None:
    """Create .venv and (re)install the package when setup.cfg changed since the last install."""
    if not PY.exists():
        print(f"[tasks] creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    want = f"{extras}:{_fingerprint()}"
    if STAMP.exists() and STAMP.read_text() == want:
        return
    print("[tasks] installing mammoseg and its dependencies (first run takes a few minutes)", flush=True)
    subprocess.check_call([str(PY), "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
    subprocess.check_call([str(PY), "-m", "pip", "install", "--quiet", "-e", f"{ROOT}[{extras}]"])
    STAMP.write_text(want)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"demo", "test", "env"}:
        print(__doc__)
        return 2
    task, rest = argv[0], argv[1:]
    ensure_env(os.environ.get("MAMMOSEG_EXTRAS", "dev"))
    env = dict(os.environ, PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"))
    if task == "demo":
        cmd = [str(PY), "-m", "mammoseg.cli", "demo", *rest]
    elif task == "test":
        cmd = [str(PY), "-m", "pytest", "-q", *rest]
    else:
        return 0
    return subprocess.call(cmd, cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
