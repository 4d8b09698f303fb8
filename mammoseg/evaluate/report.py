"""Reports: Markdown tables beside the thesis' numbers, training curves, colour overlays."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..io.atomic import atomic_path, atomic_write_bytes


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend: plots are written on machines without a display."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def atomic_savefig(fig, path: Path, **savefig_options) -> Path:
    """Save a matplotlib figure atomically, its format chosen by the suffix (PNG without one)."""
    path = Path(path)
    options = {"dpi": 110, "bbox_inches": "tight", **savefig_options}
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip(".") or "png", **options)
    return path


def write_rgb(path: Path, rgb: np.ndarray) -> None:
    """Atomically write an RGB uint8 image (PNG by suffix)."""
    import cv2

    ok, encoded = cv2.imencode(Path(path).suffix or ".png", np.ascontiguousarray(rgb[..., ::-1]))  # OpenCV is BGR
    if not ok:
        raise ValueError(f"{path}: OpenCV failed to encode the image")
    atomic_write_bytes(Path(path), encoded.tobytes())


def plot_training_curves(history: list[dict], path: Path) -> None:
    plt = pyplot()

    epochs = [h["epoch"] for h in history]
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.2))
    a.plot(epochs, [h["train_loss"] for h in history], label="train")
    a.plot(epochs, [h["val_loss"] for h in history], label="validation")
    a.set_xlabel("epoch"), a.set_ylabel("loss"), a.legend()
    b.plot(epochs, [h["val_mean_iou"] for h in history], label="val mean IoU")
    b.plot(epochs, [h["val_pixel_accuracy"] for h in history], label="val pixel acc.")
    b.set_xlabel("epoch"), b.set_ylim(0, 1), b.legend()
    fig.tight_layout()
    atomic_savefig(fig, path)
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


def _cell(value, digits: int) -> str:
    """Table cell: floats rounded (NaN as an en dash, the tables' 'not defined'), everything else as text."""
    if isinstance(value, (float, np.floating)):
        return "–" if np.isnan(value) else f"{value:.{digits}f}"
    return str(value)


def markdown_table(header, rows, digits: int = 4) -> str:
    """GitHub Markdown table; floats with `digits` decimals, NaN shown as '–'."""
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v, digits) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def csv_text(header, rows) -> str:
    """CSV with full float precision (NaN left empty), for spreadsheets and re-plotting."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if isinstance(v, (float, np.floating)) and np.isnan(v) else
                         (repr(float(v)) if isinstance(v, (float, np.floating)) else v) for v in row])
    return buffer.getvalue()


def write_table(stem, header, rows, title: str = "", note: str = "", digits: int = 4) -> tuple[Path, Path]:
    """Write `<stem>.md` (title, table, note) and `<stem>.csv` (the same rows), each atomically."""

    stem = Path(stem)
    md = (f"### {title}\n\n" if title else "") + markdown_table(header, rows, digits) + (f"\n{note}\n" if note else "")
    md_path, csv_path = stem.with_name(stem.name + ".md"), stem.with_name(stem.name + ".csv")
    atomic_write_bytes(md_path, md.encode())
    atomic_write_bytes(csv_path, csv_text(header, rows).encode())
    return md_path, csv_path


def plot_confusion_matrix(cm, class_names, path: Path, normalize: bool = True, title: str = "") -> None:
    """Heat map of a confusion matrix (rows = truth); normalised per true class so rare classes stay visible."""
    plt = pyplot()
    cm = np.asarray(cm, np.float64)
    shown = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1) if normalize else cm
    n = len(class_names)
    fig, ax = plt.subplots(figsize=(1.2 + 0.55 * n, 1.0 + 0.5 * n))
    image = ax.imshow(shown, cmap="Blues", vmin=0, vmax=1 if normalize else None)
    ax.set_xticks(range(n), class_names, rotation=60, ha="right")
    ax.set_yticks(range(n), class_names)
    ax.set_xlabel("predicted"), ax.set_ylabel("true")
    if n <= 20:
        for i in range(n):
            for j in range(n):
                ax.text(j, i, f"{shown[i, j]:.2f}" if normalize else f"{int(cm[i, j])}", ha="center",
                        va="center", fontsize=7, color="white" if shown[i, j] > 0.5 * np.nanmax(shown) else "black")
    fig.colorbar(image, ax=ax, fraction=0.046)
    ax.set_title(title or ("confusion matrix (row-normalised)" if normalize else "confusion matrix"))
    fig.tight_layout()
    atomic_savefig(fig, path)
    plt.close(fig)


def plot_per_class(values: dict, path: Path, metric: str = "IoU", thesis: dict | None = None) -> None:
    """Bar chart of a per-class metric (undefined = no bar), thesis values beside ours when given."""
    plt = pyplot()
    names = list(values)
    ours = np.array([np.nan if values[n] is None else values[n] for n in names], np.float64)
    x = np.arange(len(names))
    width = 0.4 if thesis else 0.8
    fig, ax = plt.subplots(figsize=(1.5 + 0.5 * len(names), 3.2))
    ax.bar(x - (width / 2 if thesis else 0), np.nan_to_num(ours), width, label="ours")
    if thesis:
        ax.bar(x + width / 2, [thesis.get(n, np.nan) for n in names], width, label="thesis")
        ax.legend()
    ax.set_xticks(x, names, rotation=60, ha="right")
    ax.set_ylim(0, 1), ax.set_ylabel(metric)
    fig.tight_layout()
    atomic_savefig(fig, path)
    plt.close(fig)


def plot_per_class_iou(per_class_iou: dict, path: Path, thesis: dict | None = None) -> None:
    plot_per_class(per_class_iou, path, "IoU", thesis)


def plot_roc_curves(curves: dict, path: Path) -> None:
    """One-vs-all ROC curves: {class name: (false positive rates, true positive rates, AUC)}."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4, 4))
    for name, (fpr, tpr, auc) in curves.items():
        ax.plot(fpr, tpr, label=f"{name} (AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    ax.set_xlabel("false positive rate"), ax.set_ylabel("true positive rate"), ax.legend(loc="lower right")
    fig.tight_layout()
    atomic_savefig(fig, path)
    plt.close(fig)


def write_segmentation_report(out_dir, model_name: str, metrics: dict, cm, class_names,
                              thesis: dict | None = None, title: str = "") -> dict:
    """table.md/.csv (thesis layout), per_class_iou.md/.csv, confusion_matrix.png and per_class_iou.png.

    `metrics` is `mammoseg.train.metrics.segmentation_metrics(cm, class_names)`; `thesis` maps model names to the
    thesis' (pixel acc., mean IoU, mean class acc.) in %, as `metrics_table` takes it.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    table = metrics_table([(model_name, metrics)], thesis=thesis, title=title)
    excluded = metrics.get("excluded_from_iou", [])
    table += "\nClasses excluded from the mean IoU (no pixel in truth or prediction): " + (
        ", ".join(excluded) if excluded else "none") + "\n"
    atomic_write_bytes(out_dir / "table.md", table.encode())
    header = ["model", "pixel_accuracy", "mean_iou", "mean_class_accuracy"]
    atomic_write_bytes(out_dir / "table.csv", csv_text(header, [[model_name, *[metrics[k] for k in header[1:]]]])
                       .encode())
    per_class = metrics["per_class_iou"]
    write_table(out_dir / "per_class_iou", ["class", "IoU", "accuracy"],
                [[n, per_class[n], metrics["per_class_accuracy"][n]] for n in class_names])
    plot_confusion_matrix(cm, list(class_names), out_dir / "confusion_matrix.png")
    plot_per_class_iou(per_class, out_dir / "per_class_iou.png")
    return {name: out_dir / name for name in ("table.md", "table.csv", "per_class_iou.md", "per_class_iou.csv",
                                             "confusion_matrix.png", "per_class_iou.png")}
