"""The model tests again under KERAS_BACKEND=jax (builders use only Keras layers and keras.ops).

Runs the other test files of this folder in a subprocess, because the backend is fixed at import time.
Skipped when JAX is not installed.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest


def test_model_zoo_tests_pass_under_jax():
    pytest.importorskip("jax")
    if os.environ.get("KERAS_BACKEND") == "jax":
        pytest.skip("this session already runs under JAX")
    here = Path(__file__).parent
    files = sorted(str(p) for p in here.glob("test_zoo_*.py") if p.name != Path(__file__).name)
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *files],
                            env={**os.environ, "KERAS_BACKEND": "jax"}, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
