"""Loading and running the numbered experiment scripts (experiments/NN_*.py) from tests.

The scripts are files, not modules of a package, so tests import them by path; `run_in_process` calls `main` as a
library user would, `run_as_command` starts the script as a user would type it. Both return the one run directory
the script made under `out`. (Importable from every test folder: pytest puts tests/, home of the root conftest.py,
on sys.path.)
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXPERIMENTS = REPO / "experiments"
SMOKE = ("--scale", "smoke")
COMMAND_TIMEOUT_S = 900


def load_script(name: str):
    """The module of experiments/<name>.py (its TABLE, build_config, main ...), freshly executed."""
    spec = importlib.util.spec_from_file_location(f"experiment_{name}", EXPERIMENTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _only_run_dir(out: Path, name: str) -> Path:
    (run_dir,) = list((out / name).iterdir())
    return run_dir


def run_in_process(name: str, out: Path, *extra: str) -> Path:
    """`main([...])` at smoke scale with seed 0; the run directory it made."""
    assert load_script(name).main([*SMOKE, "--out", str(out), "--seed", "0", *extra]) == 0
    return _only_run_dir(out, name)


def run_as_command(name: str, out: Path, *extra: str) -> Path:
    """`python experiments/<name>.py --scale smoke --out <out> ...` in the repository root; the run directory it
    made (and announced on stdout)."""
    # PYTHONFAULTHANDLER: a crash in native code (signal) still prints every thread's Python stack to stderr
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONFAULTHANDLER": "1"}
    done = subprocess.run([sys.executable, str(EXPERIMENTS / f"{name}.py"), *SMOKE, "--out", str(out), *extra],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S)
    assert done.returncode == 0, done.stderr[-4000:]
    run_dir = _only_run_dir(out, name)
    assert f"run directory: {run_dir}" in done.stdout
    return run_dir
