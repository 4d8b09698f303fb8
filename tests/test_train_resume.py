"""Exact resume: a training process SIGKILLed mid-run and started again ends where an uninterrupted run ends."""
import csv
import os
import signal
import subprocess
import sys
import time

import numpy as np

TIMEOUT_S = 300
# 3 epochs of 8 steps, a checkpoint every 3 steps: the kill lands inside an epoch or between epochs, wherever.
ARGS = ["--epochs", "3", "--examples", "32", "--checkpoint-every-steps", "3"]


def _command(run_dir, weights):
    return [sys.executable, "-m", "mammoseg.train.distribute", "--out", str(run_dir), "--weights-out", str(weights),
            *ARGS]


def _env():
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    env.pop("TF_CONFIG", None)
    return env


def _run(run_dir, weights):
    done = subprocess.run(_command(run_dir, weights), env=_env(), capture_output=True, text=True, timeout=TIMEOUT_S)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _rows(run_dir):
    with open(run_dir / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    return [{k: v for k, v in row.items() if k not in ("seconds", "images_per_second")} for row in rows]


def test_sigkill_then_resume_matches_uninterrupted_run(tmp_path):
    _run(tmp_path / "straight", tmp_path / "straight.npz")

    killed_dir, killed_weights = tmp_path / "killed", tmp_path / "killed.npz"
    proc = subprocess.Popen(_command(killed_dir, killed_weights), env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    latest = killed_dir / "checkpoints" / "latest"
    try:
        deadline = time.monotonic() + TIMEOUT_S
        while not latest.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert not killed_weights.exists()
    killed_at = latest.read_text().strip()
    assert killed_at != "epoch-0003", killed_at

    out = _run(killed_dir, killed_weights)
    assert f"resumed from {killed_dir / 'checkpoints' / killed_at}" in out
    with np.load(tmp_path / "straight.npz") as a, np.load(killed_weights) as b:
        assert a.files == b.files
        for key in a.files:  # op determinism is on in both processes: bit-identical, not just close
            np.testing.assert_array_equal(a[key], b[key], err_msg=f"variable {key}, killed at {killed_at}")
    assert _rows(tmp_path / "straight") == _rows(killed_dir)


def test_checkpoint_names_sort_in_training_order():
    from mammoseg.train.checkpoint import checkpoint_name

    names = [checkpoint_name(2), checkpoint_name(2, 3), checkpoint_name(2, 40), checkpoint_name(3),
             checkpoint_name(3, 5), checkpoint_name(12)]
    assert sorted(names) == names and names[1] == "epoch-0002-step-000003"
