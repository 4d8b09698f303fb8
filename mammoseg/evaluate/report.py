"""Reports: Markdown tables beside the thesis' numbers, training curves, colour overlays."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def _atomic_savefig(fig, path: Path) -> None:
    path = Path(path)
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    fig.savefig(tmp, dpi=110, bbox_inches="tight", format=path.suffix.lstrip(".") or "png")
    os.replace(tmp, path)


def write_rgb(path: Path, rgb: np.ndarray) -> None:
    """Atomically write an RGB uint8 image (PNG by suffix)."""
    import cv2

    from ..io.raster import atomic_write_bytes

    ok, encoded = cv2.imencode(Path(path).suffix or ".png", np.ascontiguousarray(rgb[..., ::-1]))  # OpenCV is BGR
    if not ok:
        raise ValueError(f"{path}: OpenCV failed to encode the image")
    atomic_write_bytes(Path(path), encoded.tobytes())


def plot_training_curves(history: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.2))
    a.plot(epochs, [h["train_loss"] for h in history], label="train")
    a.plot(epochs, [h["val_loss"] for h in history], label="validation")
    a.set_xlabel("epoch"), a.set_ylabel("loss"), a.legend()
    b.plot(epochs, [h["val_mean_iou"] for h in history], label="val mean IoU")
    b.plot(epochs, [h["val_pixel_accuracy"] for h in history], label="val pixel acc.")
    b.set_xlabel("epoch"), b.set_ylim(0, 1), b.legend()
    fig.tight_layout()
    _atomic_savefig(fig, path)
    plt.close(fig)


def overlay(gray: np.ndarray, label_map: np.ndarray, label_set, alpha: float = 0.45) -> np.ndarray:
    """RGB uint8: the grayscale image with the label colours blended on top (background left uncoloured)."""
    g = gray.astype(np.float64)
    g = (255 * (g - g.min()) / max(g.max() - g.min(), 1e-9)).astype(np.uint8)
    rgb = np.repeat(g[..., None], 3, axis=-1).astype(np.float64)
    colours = label_set.colorize(label_map).astype(np.float64)
    mask = np.ones(label_map.shape, bool)
    if label_set.background is not None:
        mask = label_map != label_set.id(label_set.background)
    rgb[mask] = (1 - alpha) * rgb[mask] + alpha * colours[mask]
    return rgb.astype(np.uint8)


def metrics_table(rows: list[tuple[str, dict]], thesis: dict | None = None, title: str = "") -> str:
    """Markdown table in the thesis' layout: pixel accuracy / mean IoU / mean per-class accuracy, in %."""
    cols = ("pixel_accuracy", "mean_iou", "mean_class_accuracy")
    head = "| Model | pixel accuracy | mean iou accuracy | mean per class accuracy |"
    if thesis:
        head += " thesis pixel acc. | thesis mean IoU | thesis mean class acc. |"
    lines = [f"### {title}", ""] if title else []
    lines += [head, "|" + "---|" * (head.count("|") - 1)]
    for name, m in rows:
        cells = [f"{100 * m[c]:.2f}" for c in cols]
        if thesis:
            t = thesis.get(name)
            cells += [f"{v:.2f}" for v in t] if t else ["–"] * 3
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
