"""The main job: synthetic kth-seg data -> merge -> class-balanced crops -> U-Net -> full-image test metrics.

Everything the thesis pipeline does, at a size that trains on 2 CPU cores in a few minutes: the U-Net is the
thesis builder with a smaller width, 'same' padding and batch norm passed as keyword arguments (the builder's
defaults stay the thesis' values), and crops are 128 px with a 96 px model input instead of 700 / 572.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .labels import MAMMO13

# Thesis Table 5.3 (mammography test set, 37 full images, non-adversarial): U-Net row.
THESIS_TABLE_5_3 = {"U-Net": (92.71, 43.13, 55.03)}


@dataclass
class DemoConfig:
    out_root: str = "runs/demo"
    data_root: str | None = None  # default: <run>/data (synthetic, generated)
    n_cases: int = 24
    image_size: tuple[int, int] = (384, 320)
    crop_size: int = 128
    train_crops_per_image: int = 48
    val_crops_per_image: int = 16
    input_size: int = 96
    model: dict = field(default_factory=lambda: dict(base_filters=16, depth=4, padding="same", norm="batch",
                                                     dropout=0.25))
    epochs: int = 12
    batch_size: int = 8
    learning_rate: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 0.0
    patience: int = 12
    lr_patience: int = 5
    overlap: float = 0.25
    seed: int = 0
    progress: bool = True


def _log(msg: str) -> None:
    print(f"[demo] {msg}", flush=True)


def run_demo(cfg: DemoConfig) -> dict:
    import tensorflow as tf

    from data_prep.crops import build_crops
    from .data.pipeline import PipelineConfig, eval_dataset, intensity_max, steps_per_epoch, train_dataset
    from .data.synthetic import make_kthseg_dataset
    from .evaluate.report import metrics_table
    from .evaluate.test_set import evaluate_cases, save_overlays
    from .io.annotations import list_cases
    from .io.store import read_crop_store
    from .models import build_model
    from .runinfo import environment, git_commit, timestamp
    from .train.config import TrainConfig
    from .train.loop import Trainer, write_json
    from .train.losses import class_weights_from_frequencies, pixel_frequencies, weighted_cross_entropy

    t_start = time.perf_counter()
    run_dir = Path(cfg.out_root) / timestamp()
    run_dir.mkdir(parents=True, exist_ok=False)
    write_json(run_dir / "config.json", {"demo": asdict(cfg), "git_commit": git_commit(), "env": environment()})
    data_root = Path(cfg.data_root) if cfg.data_root else run_dir / "data"

    if not (data_root / "splits.csv").exists():
        _log(f"generating {cfg.n_cases} synthetic mammograms in {data_root}")
        make_kthseg_dataset(data_root, n_cases=cfg.n_cases, image_size=tuple(cfg.image_size), seed=cfg.seed,
                            merge=True)
    stores = {}
    for split, per_image in (("train", cfg.train_crops_per_image), ("val", cfg.val_crops_per_image)):
        path = run_dir / f"crops_{cfg.crop_size}_{split}.h5"
        _log(f"building {split} crops ({cfg.crop_size} px, {per_image} per image, elastic p=0.25)")
        build_crops(data_root, path, crop_size=cfg.crop_size, crops_per_image=per_image, split=split,
                    seed=cfg.seed, progress=cfg.progress)
        stores[split] = read_crop_store(path)

    train, val = stores["train"], stores["val"]
    max_value = intensity_max(train.images)
    freqs = pixel_frequencies([train.labels], MAMMO13.num_classes)
    weights = class_weights_from_frequencies(freqs)
    _log("class weights w = 1 - x/100: " + ", ".join(f"{n}={w:.3f}" for n, w in zip(MAMMO13.names, weights)))
    pcfg = PipelineConfig(input_size=cfg.input_size, batch_size=cfg.batch_size, max_value=max_value, seed=cfg.seed)
    tcfg = TrainConfig(epochs=cfg.epochs, batch_size=cfg.batch_size, learning_rate=cfg.learning_rate,
                       momentum=cfg.momentum, weight_decay=cfg.weight_decay, patience=cfg.patience,
                       lr_patience=cfg.lr_patience, seed=cfg.seed, progress=cfg.progress)
    class_weights = tf.constant(weights, tf.float32)

    def loss_fn(labels, logits):
        return weighted_cross_entropy(labels, logits, class_weights=class_weights)

    def model_fn():
        return build_model("unet", input_shape=(cfg.input_size, cfg.input_size, 3),
                           num_classes=MAMMO13.num_classes, **cfg.model)

    trainer = Trainer(model_fn, loss_fn, tcfg, run_dir, MAMMO13.num_classes, class_names=MAMMO13.names)
    _log(f"training U-Net ({trainer.model.count_params():,} parameters) on {len(train.images)} crops, "
         f"validating on {len(val.images)}, {cfg.epochs} epochs")
    result = trainer.fit(lambda e: train_dataset(train.images, train.labels, pcfg, start_epoch=e),
                         lambda: eval_dataset(val.images, val.labels, pcfg),
                         steps_per_epoch(len(train.images), cfg.batch_size))
    _log(f"best epoch {result.best_epoch} (val loss {result.best_value:.4f}); evaluating on full test images")
    model = trainer.load_best()

    test_cases = list_cases(data_root, "test")
    evaluation = evaluate_cases(model, data_root, test_cases, max_value=max_value, overlap=cfg.overlap,
                                label_set=MAMMO13)
    metrics = evaluation["metrics"]
    save_overlays(data_root, test_cases, evaluation["predictions"], run_dir / "overlays", MAMMO13)
    excluded = metrics["excluded_from_iou"]
    table = metrics_table([("U-Net", metrics)], thesis=THESIS_TABLE_5_3,
                          title="Mammography test set, full images (layout of thesis Table 5.3)")
    table += (f"\nSynthetic data: {len(test_cases)} held-out full images ({cfg.image_size[0]}x{cfg.image_size[1]}), "
              f"sliding window {cfg.input_size} px, overlap {cfg.overlap}. Thesis numbers are from its private "
              f"Karolinska data and are shown for layout only, not as a like-for-like comparison.\n")
    table += ("Classes absent from both prediction and ground truth, excluded from the means: "
              + (", ".join(excluded) if excluded else "none") + "\n")
    table += "\nPer-class IoU:\n\n| class | IoU |\n|---|---|\n" + "".join(
        f"| {n} | {'–' if np.isnan(v) else f'{100 * v:.2f}'} |\n" for n, v in metrics["per_class_iou"].items())
    (run_dir / "table.md").write_text(table)
    summary = {k: metrics[k] for k in ("pixel_accuracy", "mean_iou", "mean_class_accuracy")}
    summary.update(best_epoch=result.best_epoch, epochs_run=result.epochs_run,
                   seconds=time.perf_counter() - t_start, excluded_from_iou=excluded)
    write_json(run_dir / "test_metrics.json", {**summary, "per_class_iou": metrics["per_class_iou"],
                                               "per_class_accuracy": metrics["per_class_accuracy"],
                                               "confusion_matrix": evaluation["confusion_matrix"].tolist()})
    print("\n" + table, flush=True)
    _log(f"run directory: {run_dir}  ({summary['seconds']:.0f} s)")
    return {"run_dir": run_dir, **summary}
