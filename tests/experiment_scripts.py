"""Loading and running the numbered experiment scripts (experiments/NN_*.py) from tests.

The scripts are files, not modules of a package, so tests import them by path; `run_in_process` calls `main` as a
library user would, `run_as_command` starts the script as a user would type it. Both return the one run directory
the script made under `out`. (Importable from every test folder: pytest puts tests/, home of the root conftest.py,
on sys.path.)
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import warnings
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
    made (and announced on stdout).

    A run killed by a signal (a native crash: one SIGSEGV inside TensorFlow's `tf_Compute` threads was seen in ~10
    smoke runs of script 09, not reproduced since) is reported as a warning with its Python stacks and retried once
    from scratch; a Python error or a second crash fails the test.
    """
    # PYTHONFAULTHANDLER: a crash in native code (signal) still prints every thread's Python stack to stderr
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONFAULTHANDLER": "1"}
    command = [sys.executable, str(EXPERIMENTS / f"{name}.py"), *SMOKE, "--out", str(out), *extra]
    for attempt in (1, 2):
        before = set((out / name).iterdir()) if (out / name).is_dir() else set()
        done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S)
        if done.returncode >= 0 or attempt == 2:
            break
        report = f"{name}: killed by signal {-done.returncode} (native crash), retrying once:\n{done.stderr[-6000:]}"
        print(report, file=sys.stderr)
        warnings.warn(report, RuntimeWarning)
        for partial in set((out / name).iterdir()) - before:  # the crashed run's half-written directory
            shutil.rmtree(partial)
    assert done.returncode == 0, done.stderr[-4000:]
    run_dir = _only_run_dir(out, name)
    assert f"run directory: {run_dir}" in done.stdout
    return run_dir
