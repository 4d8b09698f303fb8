"""The Trainer: one custom tf.distribute loop for every thesis recipe (not `model.fit`).

Why a custom loop: the theses need things `fit` does not give together — per-replica loss scaling with a global
batch, TF1-style L2 weight decay, the `kth-seg` early-stopping + LR-halving rule, crash-safe exact resume, and (in
the adversarial stage) two optimizers stepping at different rates.

MirroredStrategy notes (Keras 3): the model AND the optimizer are created inside `strategy.scope()` and the
optimizer is built on the trainable variables there, before the first `strategy.run`; otherwise the first step
fails with "must feed a value for placeholder".
"""
from __future__ import annotations

import csv
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import keras
import numpy as np
import tensorflow as tf

from .checkpoint import CheckpointDir, atomic_write_text
from .config import TrainConfig
from .metrics import segmentation_metrics, tf_confusion_matrix


def default_strategy() -> tf.distribute.Strategy:
    """All visible GPUs, else the CPU (a one-replica MirroredStrategy keeps one code path)."""
    gpus = tf.config.list_logical_devices("GPU")
    if gpus:
        return tf.distribute.MirroredStrategy([d.name for d in gpus])
    return tf.distribute.MirroredStrategy([tf.config.list_logical_devices("CPU")[0].name])


def make_optimizer(cfg: TrainConfig) -> keras.optimizers.Optimizer:
    if cfg.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate=cfg.learning_rate, momentum=cfg.momentum)
    if cfg.optimizer == "adam":
        return keras.optimizers.Adam(learning_rate=cfg.learning_rate)
    return keras.optimizers.AdamW(learning_rate=cfg.learning_rate, weight_decay=cfg.weight_decay)


@dataclass
class TrainResult:
    run_dir: Path
    best_epoch: int
    best_value: float
    epochs_run: int
    stopped_early: bool
    history: list


class Trainer:
    """Segmentation trainer: `loss_fn(labels, logits) -> per-example loss (B,)`, metrics from a confusion matrix."""

    def __init__(self, build_model: Callable[[], keras.Model], loss_fn: Callable, config: TrainConfig, run_dir,
                 num_classes: int, class_names=None, ignore_id: int | None = None,
                 strategy: tf.distribute.Strategy | None = None):
        self.cfg = config
        self.loss_fn = loss_fn
        self.num_classes = num_classes
        self.class_names = class_names
        self.ignore_id = ignore_id
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.strategy = strategy or default_strategy()
        self.ckpt = CheckpointDir(self.run_dir / "checkpoints", keep=config.keep_checkpoints)
        keras.utils.set_random_seed(config.seed)
        with self.strategy.scope():
            self.model = build_model()
            self.optimizer = make_optimizer(config)
            self.optimizer.build(self.model.trainable_variables)
        self._decayed = [w for w in self.model.trainable_weights if "kernel" in w.path]
        self._train_step = None
        self._eval_step = None

    # -- steps -------------------------------------------------------------------------------------------------
    def _make_steps(self, global_batch: int):
        strategy, model, opt, cfg = self.strategy, self.model, self.optimizer, self.cfg
        replicas = strategy.num_replicas_in_sync

        def train_replica(x, y):
            with tf.GradientTape() as tape:
                logits = model(x, training=True)
                data_loss = tf.reduce_sum(self.loss_fn(y, logits)) / global_batch
                loss = data_loss
                if cfg.weight_decay and cfg.optimizer != "adamw":
                    loss += cfg.weight_decay * tf.add_n([tf.nn.l2_loss(w) for w in self._decayed]) / replicas
            grads = tape.gradient(loss, model.trainable_variables)
            opt.apply_gradients(zip(grads, model.trainable_variables))
            return data_loss, tf_confusion_matrix(y, logits, self.num_classes, self.ignore_id)

        def eval_replica(x, y):
            logits = model(x, training=False)
            per_example = self.loss_fn(y, logits)
            return (tf.reduce_sum(per_example), tf.cast(tf.shape(per_example)[0], tf.float32),
                    tf_confusion_matrix(y, logits, self.num_classes, self.ignore_id))

        sum_ = tf.distribute.ReduceOp.SUM

        @tf.function(jit_compile=cfg.jit_compile or None)
        def train_step(iterator):
            loss, cm = strategy.run(train_replica, args=next(iterator))
            return strategy.reduce(sum_, loss, axis=None), strategy.reduce(sum_, cm, axis=None)

        @tf.function
        def eval_step(batch):
            total, count, cm = strategy.run(eval_replica, args=batch)
            return (strategy.reduce(sum_, total, axis=None), strategy.reduce(sum_, count, axis=None),
                    strategy.reduce(sum_, cm, axis=None))

        self._train_step, self._eval_step = train_step, eval_step

    # -- evaluation ----------------------------------------------------------------------------------------------
    def evaluate(self, dataset: tf.data.Dataset) -> dict:
        if self._eval_step is None:
            self._make_steps(self.cfg.batch_size)
        total, count = 0.0, 0.0
        cm = np.zeros((self.num_classes, self.num_classes))
        for batch in self.strategy.experimental_distribute_dataset(dataset):
            t, c, m = self._eval_step(batch)
            total, count, cm = total + float(t), count + float(c), cm + m.numpy()
        out = segmentation_metrics(cm, self.class_names)
        out["loss"] = total / max(count, 1.0)
        out["confusion_matrix"] = cm
        return out

    # -- training ------------------------------------------------------------------------------------------------
    def _initial_state(self) -> dict:
        sign = 1.0 if self.cfg.monitor == "val_loss" else -1.0
        return {"epoch": 0, "best_value": sign * math.inf, "best_epoch": -1, "wait": 0, "lr_wait": 0,
                "learning_rate": self.cfg.learning_rate, "history": [], "stopped_early": False}

    def _improved(self, value: float, best: float) -> bool:
        if self.cfg.monitor == "val_loss":
            return value < best - self.cfg.min_delta
        return value > best + self.cfg.min_delta

    def fit(self, train_data: Callable[[int], tf.data.Dataset], val_data: Callable[[], tf.data.Dataset],
            steps_per_epoch: int, resume: bool = True) -> TrainResult:
        """train_data(start_epoch) -> endless batched dataset; val_data() -> finite batched dataset."""
        cfg = self.cfg
        state = self._initial_state()
        latest = self.ckpt.latest() if resume else None
        if latest is not None:
            state = CheckpointDir.restore(latest, self.model, self.optimizer)
            print(f"[mammoseg] resumed from {latest} (epoch {state['epoch']})", flush=True)
        self.optimizer.learning_rate.assign(state["learning_rate"])
        self._make_steps(cfg.batch_size)
        dist = iter(self.strategy.experimental_distribute_dataset(train_data(state["epoch"])))

        while state["epoch"] < cfg.epochs and not state["stopped_early"]:
            epoch = state["epoch"]
            t0 = time.perf_counter()
            loss_sum, cm = 0.0, np.zeros((self.num_classes, self.num_classes))
            bar = _progress(steps_per_epoch, f"epoch {epoch + 1}/{cfg.epochs}", cfg.progress)
            for step in range(steps_per_epoch):
                loss, m = self._train_step(dist)
                loss_sum += float(loss)
                cm += m.numpy()
                if bar is not None:
                    rate = (step + 1) * cfg.batch_size / (time.perf_counter() - t0)
                    bar.set_postfix(loss=f"{loss_sum / (step + 1):.4f}", img_s=f"{rate:.1f}")
                    bar.update()
            if bar is not None:
                bar.close()
            train_seconds = time.perf_counter() - t0
            val = self.evaluate(val_data())
            train_metrics = segmentation_metrics(cm)
            row = {"epoch": epoch + 1, "learning_rate": float(self.optimizer.learning_rate.numpy()),
                   "train_loss": loss_sum / steps_per_epoch, "train_mean_iou": train_metrics["mean_iou"],
                   "val_loss": val["loss"], "val_pixel_accuracy": val["pixel_accuracy"],
                   "val_mean_iou": val["mean_iou"], "val_mean_class_accuracy": val["mean_class_accuracy"],
                   "seconds": train_seconds, "images_per_second": steps_per_epoch * cfg.batch_size / train_seconds}
            state["history"].append(row)
            value = row[cfg.monitor]
            if self._improved(value, state["best_value"]):
                state.update(best_value=value, best_epoch=epoch + 1, wait=0, lr_wait=0)
                _save_weights_atomic(self.model, self.run_dir / "best.weights.h5")
            else:
                state["wait"] += 1
                state["lr_wait"] += 1
                if state["lr_wait"] >= cfg.lr_patience:
                    state["learning_rate"] *= cfg.lr_factor
                    state["lr_wait"] = 0
                    self.optimizer.learning_rate.assign(state["learning_rate"])
                if state["wait"] >= cfg.patience:
                    state["stopped_early"] = True
            state["epoch"] = epoch + 1
            self.ckpt.save(f"epoch-{epoch + 1:04d}", self.model, self.optimizer, state)
            self._write_history(state["history"])
            if cfg.progress:
                print(f"epoch {epoch + 1}: train_loss {row['train_loss']:.4f}  val_loss {row['val_loss']:.4f}  "
                      f"val_mIoU {row['val_mean_iou']:.4f}  lr {row['learning_rate']:.2e}", flush=True)

        return TrainResult(self.run_dir, state["best_epoch"], state["best_value"], state["epoch"],
                           state["stopped_early"], state["history"])

    def load_best(self) -> keras.Model:
        best = self.run_dir / "best.weights.h5"
        if best.exists():
            self.model.load_weights(str(best))
        return self.model

    def _write_history(self, history: list) -> None:
        path = self.run_dir / "metrics.csv"
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(history[0]))
            writer.writeheader()
            writer.writerows(history)
        os.replace(tmp, path)
        from ..evaluate.report import plot_training_curves

        plot_training_curves(history, self.run_dir / "training_curve.png")


def _save_weights_atomic(model: keras.Model, path: Path) -> None:
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    model.save_weights(str(tmp))
    os.replace(tmp, path)


def _progress(total: int, desc: str, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, leave=False, dynamic_ncols=True, mininterval=1.0)


def write_json(path: Path, payload: dict) -> None:
    atomic_write_text(Path(path), json.dumps(payload, indent=1, default=str))
