"""Crash-safe checkpoints: each epoch goes to its own folder, written in full before `latest` points at it.

A kill at any moment leaves either the previous complete checkpoint or the new complete one, never a mix.
Model weights (Keras .weights.h5), optimizer variables (npz) and the trainer's own state (JSON) travel together.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np


def atomic_write_text(path: Path, text: str) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


class CheckpointDir:
    def __init__(self, root: Path, keep: int = 2):
        self.root = Path(root)
        self.keep = keep
        self.root.mkdir(parents=True, exist_ok=True)

    def save(self, name: str, model, optimizer, state: dict) -> Path:
        final = self.root / name
        tmp = self.root / f".{name}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        model.save_weights(str(tmp / "model.weights.h5"))
        np.savez(tmp / "optimizer.npz", *[np.asarray(v.numpy()) for v in optimizer.variables])
        (tmp / "state.json").write_text(json.dumps(state, indent=1))
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        atomic_write_text(self.root / "latest", name)
        self._prune(name)
        return final

    def _prune(self, newest: str) -> None:
        epochs = sorted(p for p in self.root.glob("epoch-*") if p.is_dir())
        for p in epochs[: max(0, len(epochs) - self.keep)]:
            if p.name != newest:
                shutil.rmtree(p, ignore_errors=True)

    def latest(self) -> Path | None:
        ptr = self.root / "latest"
        if not ptr.exists():
            return None
        path = self.root / ptr.read_text().strip()
        return path if (path / "state.json").exists() else None

    @staticmethod
    def restore(path: Path, model, optimizer) -> dict:
        model.load_weights(str(Path(path) / "model.weights.h5"))
        with np.load(Path(path) / "optimizer.npz") as data:
            values = [data[f"arr_{i}"] for i in range(len(data.files))]
        if len(values) != len(optimizer.variables):
            raise ValueError(f"{path}: optimizer state has {len(values)} variables, the optimizer {len(optimizer.variables)}")
        for var, val in zip(optimizer.variables, values):
            var.assign(val)
        return json.loads((Path(path) / "state.json").read_text())
