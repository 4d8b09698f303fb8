"""Crash-safe checkpoints: each checkpoint goes to its own folder, written in full before `latest` points at it.

A kill at any moment leaves either the previous complete checkpoint or the new complete one, never a mix.
Per model: Keras weights (`<name>.weights.h5`) plus the variables that are not weights (`<name>.rng.npz`: the
dropout seed-generator states, without which a resumed run would draw other dropout masks); per optimizer its
variables (`<name>.npz`: slots, iteration count, loss scale); the trainer's own state (`state.json`).
A single model / optimizer is stored as "model" / "optimizer" (the layout of the first version).

Folder names sort in training order: `epoch-0003` (3 epochs done), `epoch-0003-step-000120` (120 steps into the
4th epoch); only the newest `keep` are kept.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from ..io.atomic import atomic_folder, atomic_write_text


def _as_dict(obj, default_name: str) -> dict:
    return dict(obj) if isinstance(obj, dict) else {default_name: obj}


def non_weight_variables(model) -> list:
    """Model variables that `save_weights` leaves out (seed-generator states), in a stable order."""
    weights = {id(w) for w in model.weights}
    return [v for v in model.variables if id(v) not in weights]


def _save_values(path: Path, variables) -> None:
    np.savez(path, *[np.asarray(v.numpy()) for v in variables])


def _load_values(path: Path, variables, what: str) -> None:
    with np.load(path) as data:
        values = [data[f"arr_{i}"] for i in range(len(data.files))]
    if len(values) != len(variables):
        raise ValueError(f"{path}: {what} has {len(values)} variables, the trainer {len(variables)}")
    for var, val in zip(variables, values):
        var.assign(val)


def checkpoint_name(epoch: int, step: int = 0) -> str:
    """`epoch` = epochs completed; `step` = steps done in the next one (0: an end-of-epoch checkpoint)."""
    return f"epoch-{epoch:04d}" + (f"-step-{step:06d}" if step else "")


class CheckpointDir:
    def __init__(self, root: Path, keep: int = 2):
        self.root = Path(root)
        self.keep = keep  # folders are created on the first save: non-chief workers never write one

    def save(self, name: str, model, optimizer, state: dict) -> Path:
        """`model` / `optimizer`: one object or a {name: object} dict (the adversarial stage has two of each)."""
        final = self.root / name
        with atomic_folder(final) as tmp:
            for key, m in _as_dict(model, "model").items():
                m.save_weights(str(tmp / f"{key}.weights.h5"))
                _save_values(tmp / f"{key}.rng.npz", non_weight_variables(m))
            for key, opt in _as_dict(optimizer, "optimizer").items():
                _save_values(tmp / f"{key}.npz", opt.variables)
            (tmp / "state.json").write_text(json.dumps(state, indent=1))
        atomic_write_text(self.root / "latest", name)
        self._prune(name)
        return final

    def _prune(self, newest: str) -> None:
        folders = sorted(p for p in self.root.glob("epoch-*") if p.is_dir())
        for p in folders[: max(0, len(folders) - self.keep)]:
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
        path = Path(path)
        for key, m in _as_dict(model, "model").items():
            m.load_weights(str(path / f"{key}.weights.h5"))
            rng = path / f"{key}.rng.npz"
            if rng.exists():
                _load_values(rng, non_weight_variables(m), f"{key} seed state")
        for key, opt in _as_dict(optimizer, "optimizer").items():
            _load_values(path / f"{key}.npz", opt.variables, f"{key} state")
        return json.loads((path / "state.json").read_text())
