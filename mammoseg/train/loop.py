"""The Trainer: one custom tf.distribute loop for every thesis recipe (not `model.fit`).

Why a custom loop: the theses need things `fit` does not give together — per-replica loss scaling with a global
batch, TF1-style L2 weight decay, the `kth-seg` early-stopping + LR-halving rule, crash-safe exact resume, and (in
the adversarial stage, `mammoseg.train.adversarial`) two models and two optimizers stepping at different rates.

One step: every replica computes `sum(per-example loss) / global_batch` on its slice of the global batch, the
optimizer sums the replicas' gradients, so N devices (or N workers) give the mean over the global batch exactly as
one device does. Steps are `tf.function`s traced once (the global step travels as a tensor); the replica function
is XLA-compiled when `jit_compile=True` (not on several logical CPUs of one process: XLA cannot reach variables
on another logical CPU).

MirroredStrategy notes (Keras 3): the model AND the optimizer are created inside `strategy.scope()` and the
optimizer is built on the trainable variables there, before the first `strategy.run`; otherwise the first step
fails with "must feed a value for placeholder".

Exact resume: data order is a stateless function of (epoch, position) (`mammoseg.data.pipeline`), checkpoints hold
weights, seed-generator states, optimizer slots and the loop state (also the half-finished epoch's sums when
`checkpoint_every_steps` is set), and the learning rate is a function of that state; so a run killed at any point
and resumed ends with the weights and metrics of an uninterrupted run.
"""
from __future__ import annotations

import csv
import json
import math
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import keras
import numpy as np
import tensorflow as tf

from ..errors import ConfigError
from ..io.atomic import atomic_path, atomic_write_text
from .checkpoint import CheckpointDir, checkpoint_name
from .config import TrainConfig, lr_multiplier
from .distribute import default_strategy, distribute_dataset, is_chief, uses_logical_cpus
from .metrics import SUMMARY_METRICS, segmentation_metrics, tf_confusion_matrix

__all__ = ["Trainer", "TrainResult", "make_optimizer", "default_strategy", "precision_policy", "write_json"]

CONFUSION = "confusion_matrix"


def make_optimizer(cfg: TrainConfig, learning_rate: float | None = None,
                   momentum: float | None = None) -> keras.optimizers.Optimizer:
    """The configured optimizer (wrapped for dynamic loss scaling under mixed_float16)."""
    lr = cfg.learning_rate if learning_rate is None else learning_rate
    if cfg.optimizer == "sgd":
        opt = keras.optimizers.SGD(learning_rate=lr, momentum=cfg.momentum if momentum is None else momentum)
    elif cfg.optimizer == "adam":
        opt = keras.optimizers.Adam(learning_rate=lr, beta_1=cfg.beta_1, beta_2=cfg.beta_2, epsilon=cfg.epsilon)
    elif cfg.optimizer == "adamw":
        opt = keras.optimizers.AdamW(learning_rate=lr, weight_decay=cfg.weight_decay, beta_1=cfg.beta_1,
                                     beta_2=cfg.beta_2, epsilon=cfg.epsilon)
    else:
        opt = keras.optimizers.RMSprop(learning_rate=lr, rho=cfg.rho, epsilon=cfg.epsilon)
    if cfg.mixed_precision == "mixed_float16":
        opt = keras.optimizers.LossScaleOptimizer(opt)
    return opt


@contextmanager
def precision_policy(name: str | None):
    """Build layers under a mixed policy without leaving it set globally for the rest of the process."""
    if name is None:
        yield
        return
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


@dataclass
class TrainResult:
    run_dir: Path
    best_epoch: int
    best_value: float
    epochs_run: int
    stopped_early: bool
    history: list


class ReusableBatches:
    """A finite dataset read again every epoch through one distributed iterator over its repetition.

    Creating a distributed iterator costs ~0.5 s with several devices; the batches and their order are those of
    the dataset itself (it is repeated after batching), one pass per `iter()`.
    """

    def __init__(self, strategy, dataset: tf.data.Dataset):
        count = int(dataset.cardinality())
        if count == tf.data.INFINITE_CARDINALITY:
            raise ConfigError("the validation dataset must be finite (val_data() returned an endless one)")
        if count < 0:  # unknown: count the batches of one pass
            count = int(dataset.reduce(np.int64(0), lambda n, _: n + 1))
        self.batches = count
        self._iterator = iter(distribute_dataset(strategy, dataset.repeat()))

    def __iter__(self):
        for _ in range(self.batches):
            yield next(self._iterator)


class _Sums:
    """Host-side running sums of a step's outputs: scalars (with how many steps reported each) + the matrix."""

    def __init__(self, num_classes: int, saved: dict | None = None):
        saved = saved or {}
        self.values = dict(saved.get("values", {}))
        self.counts = dict(saved.get("counts", {}))
        self.matrix = np.asarray(saved.get("matrix", np.zeros((num_classes, num_classes))), np.float64)
        self.seconds = float(saved.get("seconds", 0.0))

    def add(self, outputs: dict) -> None:
        for key, value in outputs.items():
            if key == CONFUSION:
                self.matrix += value.numpy()
            else:
                self.values[key] = self.values.get(key, 0.0) + float(value)
                self.counts[key] = self.counts.get(key, 0) + 1

    def mean(self, key: str) -> float:
        return self.values[key] / self.counts[key] if self.counts.get(key) else float("nan")

    def to_state(self) -> dict:
        return {"values": self.values, "counts": self.counts, "matrix": self.matrix.tolist(),
                "seconds": self.seconds}


def reduce_sum(strategy, per_replica):
    """Sum every tensor of a (nested) per-replica result over replicas and workers."""
    return tf.nest.map_structure(lambda t: strategy.reduce(tf.distribute.ReduceOp.SUM, t, axis=None), per_replica)


class Trainer:
    """Supervised training: `loss_fn(labels, outputs) -> per-example loss (B,)`, metrics from a confusion matrix.

    Segmentation (multi-class logits or one-channel binary outputs) and classification (class ids vs scores) use
    the same loop; `from_logits=False` says one-channel outputs are probabilities (threshold 0.5, not 0).
    Subclasses (the adversarial stage) override the `_build` / `_models` / `_optimizers` / `_train_programs` /
    `_eval_replica` hooks and inherit the loop, logging, checkpoints and resume.
    """

    def __init__(self, build_model: Callable[[], keras.Model], loss_fn: Callable, config: TrainConfig, run_dir,
                 num_classes: int, class_names=None, ignore_id: int | None = None,
                 strategy: tf.distribute.Strategy | None = None, from_logits: bool = True):
        self.cfg = config
        self.loss_fn = loss_fn
        self.num_classes = num_classes
        self.class_names = class_names
        self.ignore_id = ignore_id
        self.threshold = 0.0 if from_logits else 0.5
        self.run_dir = Path(run_dir)
        self.strategy = strategy or default_strategy()
        self.is_chief = is_chief(self.strategy)
        if config.jit_compile and uses_logical_cpus(self.strategy):
            raise ConfigError("jit_compile=True needs one XLA device per replica (GPUs, or one CPU per worker); "
                              "several logical CPUs of one process share a single XLA CPU device")
        if self.is_chief:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        self.ckpt = CheckpointDir(self.run_dir / "checkpoints", keep=config.keep_checkpoints)
        keras.utils.set_random_seed(config.seed)
        with precision_policy(config.mixed_precision), self.strategy.scope():
            self._build(build_model)
        self._decayed = _decay_variables(self.model, config.weight_decay_on)
        self._train_steps: dict | None = None
        self._eval_step = None

    # -- hooks (overridden by the adversarial trainer) ----------------------------------------------------------
    def _build(self, build_model) -> None:
        self.model = build_model()
        self.optimizer = make_optimizer(self.cfg)
        self.optimizer.build(self.model.trainable_variables)

    def _models(self) -> dict:
        return {"model": self.model}

    def _optimizers(self) -> dict:
        return {"optimizer": self.optimizer}

    def _scheduled(self) -> list:
        """(optimizer, base learning rate) pairs that the schedule scales."""
        return [(self.optimizer, self.cfg.learning_rate)]

    def _train_programs(self) -> dict:
        """name -> replica functions (x, y, global_step) -> dict of per-replica results, run in turn on one batch.

        Several functions run as separate `strategy.run`s chained by control dependencies: the second starts when
        the first one's updates (all-reduce included) are done on every replica, so it sees the new weights.
        """
        return {"train": [self._train_replica]}

    def _program_for_step(self, global_step: int) -> str:
        return "train"

    def _on_fresh_start(self) -> None:
        """Called when fit() starts without a checkpoint to resume from."""

    # -- replica computations ----------------------------------------------------------------------------------
    def _data_loss(self, y, outputs):
        return tf.reduce_sum(tf.cast(self.loss_fn(y, outputs), tf.float32)) / self.cfg.batch_size

    def _weight_penalty(self):
        """TF1-style wd * sum(l2_loss(w)) (= PyTorch / MATLAB grad += wd * w), split evenly across replicas."""
        cfg = self.cfg
        if not cfg.weight_decay or cfg.optimizer == "adamw" or not self._decayed:
            return 0.0
        total = tf.add_n([tf.nn.l2_loss(tf.cast(w, tf.float32)) for w in self._decayed])
        return cfg.weight_decay * total / self.strategy.num_replicas_in_sync

    def _confusion(self, y, outputs):
        return tf_confusion_matrix(y, outputs, self.num_classes, self.ignore_id, self.threshold)

    def _minimize(self, optimizer, tape, loss, variables) -> None:
        grads = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(grads, variables))

    def _train_replica(self, x, y, global_step):
        model, opt = self.model, self.optimizer
        with tf.GradientTape() as tape:
            outputs = model(x, training=True)
            data_loss = self._data_loss(y, outputs)
            scaled = opt.scale_loss(data_loss + self._weight_penalty())
        self._minimize(opt, tape, scaled, model.trainable_variables)
        return {"loss": data_loss, CONFUSION: self._confusion(y, outputs)}

    def _eval_replica(self, x, y):
        outputs = self.model(x, training=False)
        per_example = tf.cast(self.loss_fn(y, outputs), tf.float32)
        out = {"loss": tf.reduce_sum(per_example), "count": tf.cast(tf.shape(per_example)[0], tf.float32),
               CONFUSION: self._confusion(y, outputs)}
        out.update(self._eval_extras(x, y, outputs))
        return out

    def _eval_extras(self, x, y, outputs) -> dict:
        """More per-replica validation sums (the loop divides them by the number of examples)."""
        return {}

    # -- compiled steps ----------------------------------------------------------------------------------------
    def _make_steps(self) -> None:
        if self._train_steps is not None:
            return
        strategy = self.strategy

        def compile_program(replica_fns):
            if self.cfg.jit_compile:
                replica_fns = [tf.function(fn, jit_compile=True, autograph=False) for fn in replica_fns]

            @tf.function(autograph=False)  # no tensor-dependent Python control flow: skip the AST rewrite
            def step(iterator, global_step):
                x, y = next(iterator)
                out, previous = {}, []
                for fn in replica_fns:  # in order: each starts after the previous one's updates everywhere
                    with tf.control_dependencies(previous):
                        result = reduce_sum(strategy, strategy.run(fn, args=(x, y, global_step)))
                    out.update(result)
                    previous = tf.nest.flatten(result)
                return out

            return step

        @tf.function(reduce_retracing=True, autograph=False)
        def eval_step(batch):
            x, y = batch
            return reduce_sum(strategy, strategy.run(self._eval_replica, args=(x, y)))

        self._train_steps = {name: compile_program(fn) for name, fn in self._train_programs().items()}
        self._eval_step = eval_step

    def tracing_counts(self) -> dict:
        """How often each compiled step was traced (1 each after any number of batches)."""
        counts = {name: fn.experimental_get_tracing_count() for name, fn in (self._train_steps or {}).items()}
        if self._eval_step is not None:
            counts["eval"] = self._eval_step.experimental_get_tracing_count()
        return counts

    def _run_step(self, iterator, global_step: int) -> dict:
        program = self._train_steps[self._program_for_step(global_step)]
        return program(iterator, tf.constant(global_step, tf.int64))

    # -- evaluation ----------------------------------------------------------------------------------------------
    def evaluate(self, dataset) -> dict:
        """Loss and every confusion-matrix metric over a finite dataset (+ extras the hooks add).

        `dataset`: a tf.data.Dataset, or any iterable of distributed batches (`ReusableBatches`).
        """
        self._make_steps()
        if isinstance(dataset, tf.data.Dataset):
            dataset = distribute_dataset(self.strategy, dataset)
        sums = _Sums(self.num_classes)
        for batch in dataset:
            sums.add(self._eval_step(batch))
        count = max(sums.values.pop("count", 0.0), 1.0)
        out = segmentation_metrics(sums.matrix, self.class_names)
        out.update({key: value / count for key, value in sums.values.items()})  # "loss" and the extras
        out["extra_keys"] = [key for key in sums.values if key != "loss"]
        out[CONFUSION] = sums.matrix
        return out

    def distributed_iterator(self, dataset: tf.data.Dataset):
        """An iterator of global batches split across the replicas (what `run_steps` and `fit` consume)."""
        return iter(distribute_dataset(self.strategy, dataset))

    def run_steps(self, data, steps: int, first_step: int = 0, on_step: Callable | None = None) -> float:
        """`steps` training steps and nothing else (no validation, logs or checkpoints): benchmarks, tests.

        `data`: a tf.data.Dataset or an iterator from `distributed_iterator` (kept across calls).
        `on_step(step)` is called after each step has finished on the host. Returns the mean training loss.
        """
        self._make_steps()
        iterator = self.distributed_iterator(data) if isinstance(data, tf.data.Dataset) else data
        sums = _Sums(self.num_classes)
        for step in range(first_step, first_step + steps):
            sums.add(self._run_step(iterator, step))
            if on_step is not None:
                on_step(step)
        return sums.mean("loss")

    # -- training ------------------------------------------------------------------------------------------------
    def _initial_state(self) -> dict:
        sign = -1.0 if self.cfg.mode == "max" else 1.0
        return {"epoch": 0, "step": 0, "best_value": sign * math.inf, "best_epoch": -1, "wait": 0, "lr_wait": 0,
                "lr_scale": 1.0, "learning_rate": self.cfg.learning_rate, "history": [], "stopped_early": False,
                "partial": None}

    def _improved(self, value: float, best: float) -> bool:
        if self.cfg.mode == "min":
            return value < best - self.cfg.min_delta
        return value > best + self.cfg.min_delta

    def _set_learning_rates(self, state: dict, step: int, steps_per_epoch: int) -> None:
        scale = lr_multiplier(self.cfg, state["epoch"], step, steps_per_epoch, state["lr_scale"])
        for optimizer, base in self._scheduled():
            optimizer.learning_rate.assign(base * scale)
        state["learning_rate"] = self._scheduled()[0][1] * scale

    def _save_checkpoint(self, state: dict) -> None:
        if self.is_chief:
            self.ckpt.save(checkpoint_name(state["epoch"], state["step"]), self._models(), self._optimizers(), state)

    def fit(self, train_data: Callable[[int], tf.data.Dataset], val_data: Callable[[], tf.data.Dataset],
            steps_per_epoch: int, resume: bool = True) -> TrainResult:
        """train_data(start_epoch) -> endless batched dataset; val_data() -> finite batched dataset.

        `cfg.steps_per_epoch`, when set, overrides `steps_per_epoch` (kth-cls' fixed 5000-step "epochs").
        """
        cfg = self.cfg
        steps = cfg.steps_per_epoch or steps_per_epoch
        state = self._initial_state()
        latest = self.ckpt.latest() if resume else None
        if latest is not None:
            state.update(CheckpointDir.restore(latest, self._models(), self._optimizers()))
            print(f"[mammoseg] resumed from {latest} (epoch {state['epoch']}, step {state['step']})", flush=True)
        else:
            self._on_fresh_start()
        self._make_steps()
        dataset = train_data(state["epoch"])
        if state["step"]:
            dataset = dataset.skip(state["step"])  # the same batches the killed run was about to see
        iterator = self.distributed_iterator(dataset)
        validation = ReusableBatches(self.strategy, val_data())
        log = RunLog(self.run_dir, enabled=self.is_chief, tensorboard=cfg.tensorboard)
        try:
            while state["epoch"] < cfg.epochs and not state["stopped_early"]:
                sums = self._train_epoch(iterator, state, steps)
                row = self._finish_epoch(state, sums, validation, steps)
                log.epoch_end(state["history"], row)
                if cfg.progress and self.is_chief:
                    print(_epoch_line(row), flush=True)
        finally:
            log.close()
        return TrainResult(self.run_dir, state["best_epoch"], state["best_value"], state["epoch"],
                           state["stopped_early"], state["history"])

    def _train_epoch(self, iterator, state: dict, steps: int) -> _Sums:
        cfg, epoch = self.cfg, state["epoch"]
        sums = _Sums(self.num_classes, state["partial"])
        bar = _progress(steps, f"epoch {epoch + 1}/{cfg.epochs}", cfg.progress and self.is_chief, state["step"])
        first, resumed_at = state["step"], time.perf_counter()
        start = resumed_at - sums.seconds  # seconds already spent on this epoch before a resume count too
        self._set_learning_rates(state, first, steps)
        for step in range(first, steps):
            if cfg.lr_schedule == "exponential":
                self._set_learning_rates(state, step, steps)
            sums.add(self._run_step(iterator, epoch * steps + step))
            state["step"] = step + 1
            sums.seconds = time.perf_counter() - start
            if bar is not None:
                metrics = segmentation_metrics(sums.matrix)
                rate = (step + 1 - first) * cfg.batch_size / max(time.perf_counter() - resumed_at, 1e-9)
                bar.set_postfix(loss=f"{sums.mean('loss'):.4f}", acc=f"{metrics['pixel_accuracy']:.3f}",
                                mIoU=f"{metrics['mean_iou']:.3f}", img_s=f"{rate:.1f}", refresh=False)
                bar.update()
            if cfg.checkpoint_every_steps and state["step"] % cfg.checkpoint_every_steps == 0 and state["step"] < steps:
                state["partial"] = sums.to_state()
                self._save_checkpoint(state)
        if bar is not None:
            bar.close()
        return sums

    def _finish_epoch(self, state: dict, sums: _Sums, validation, steps: int) -> dict:
        cfg, epoch = self.cfg, state["epoch"]
        val = self.evaluate(validation)
        train = segmentation_metrics(sums.matrix)
        row = {"epoch": epoch + 1, "learning_rate": state["learning_rate"], "train_loss": sums.mean("loss"),
               "train_pixel_accuracy": train["pixel_accuracy"], "train_mean_iou": train["mean_iou"]}
        row.update({f"train_{key}": sums.mean(key) for key in sums.values if key != "loss"})
        row["val_loss"] = val["loss"]
        row.update({f"val_{key}": val[key] for key in SUMMARY_METRICS})
        row.update({f"val_{key}": val[key] for key in val["extra_keys"]})
        row["seconds"] = sums.seconds
        row["images_per_second"] = steps * cfg.batch_size / max(sums.seconds, 1e-9)
        state["history"].append(row)
        self._update_monitor(state, row)
        state.update(epoch=epoch + 1, step=0, partial=None)
        self._save_checkpoint(state)
        return row

    def _update_monitor(self, state: dict, row: dict) -> None:
        cfg = self.cfg
        if cfg.mode is None:  # "last": the newest weights are the ones to keep
            state.update(best_value=float("nan"), best_epoch=row["epoch"])
            self._save_best()
            return
        value = row[cfg.monitor]
        if self._improved(value, state["best_value"]):
            state.update(best_value=value, best_epoch=row["epoch"], wait=0, lr_wait=0)
            self._save_best()
            return
        state["wait"] += 1
        state["lr_wait"] += 1
        if cfg.lr_schedule == "plateau" and state["lr_wait"] >= cfg.lr_patience:
            state["lr_scale"] *= cfg.lr_factor
            state["lr_wait"] = 0
        if cfg.early_stopping and state["wait"] >= cfg.patience:
            state["stopped_early"] = True

    def _save_best(self) -> None:
        if self.is_chief:
            _save_weights_atomic(self.model, self.run_dir / "best.weights.h5")

    def load_best(self) -> keras.Model:
        best = self.run_dir / "best.weights.h5"
        if best.exists():
            self.model.load_weights(str(best))
        return self.model


def _decay_variables(model: keras.Model, on: str) -> list:
    if on == "all":
        return list(model.trainable_variables)
    return [w for w in model.trainable_variables if "kernel" in w.path.split("/")[-1]]


class RunLog:
    """metrics.csv + TensorBoard scalars after every epoch, training_curve.png (chief only).

    The PNG is redrawn at most every `plot_every_s` seconds and once more at the end (matplotlib costs ~0.5 s).
    """

    def __init__(self, run_dir: Path, enabled: bool = True, tensorboard: bool = True, plot_every_s: float = 30.0):
        self.run_dir = Path(run_dir)
        self.enabled = enabled
        self.tensorboard = tensorboard and enabled
        self.plot_every_s = plot_every_s
        self._writer = None
        self._history: list = []
        self._plotted_at = time.perf_counter()  # the first drawing comes after plot_every_s, or at the end
        self._stale = False

    def epoch_end(self, history: list, row: dict) -> None:
        if not self.enabled:
            return
        self._history = history
        write_csv(self.run_dir / "metrics.csv", history)
        self._stale = True
        if time.perf_counter() - self._plotted_at >= self.plot_every_s:
            self._plot()
        if self.tensorboard:
            if self._writer is None:
                self._writer = tf.summary.create_file_writer(str(self.run_dir / "tensorboard"))
            with self._writer.as_default():
                for key, value in row.items():
                    if key != "epoch":
                        write_scalar(key, value, step=row["epoch"])
            self._writer.flush()

    def _plot(self) -> None:
        plot_history(self._history, self.run_dir / "training_curve.png")
        self._plotted_at, self._stale = time.perf_counter(), False

    def close(self) -> None:
        if self._stale:
            self._plot()
        if self._writer is not None:
            self._writer.close()


def write_scalar(tag: str, value: float, step: int) -> None:
    """A TensorBoard scalar event without the tensorboard package (what its `scalar` summary writes)."""
    from tensorflow.core.framework import summary_pb2

    metadata = summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"))
    tf.summary.write(tag, tf.constant(value, tf.float32), step=step, metadata=metadata)


def write_csv(path: Path, rows: list) -> None:
    fields = list(dict.fromkeys(key for row in rows for key in row))
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def plot_history(history: list, path: Path) -> None:
    """Loss (train, validation) and the validation metrics per epoch, one PNG, written atomically."""
    from ..evaluate.report import atomic_savefig, pyplot

    plt = pyplot()
    epochs = [h["epoch"] for h in history]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
    for key, label in (("train_loss", "train"), ("val_loss", "validation")):
        left.plot(epochs, [h.get(key, np.nan) for h in history], marker=".", label=label)
    left.set_xlabel("epoch"), left.set_ylabel("loss"), left.legend()
    for key in ("val_mean_iou", "val_pixel_accuracy", "val_mean_dice", "val_mean_class_accuracy"):
        right.plot(epochs, [h.get(key, np.nan) for h in history], marker=".", label=key[4:].replace("_", " "))
    right.set_xlabel("epoch"), right.set_ylim(0, 1), right.legend(fontsize="small")
    fig.tight_layout()
    atomic_savefig(fig, path, dpi=100, bbox_inches=None)
    plt.close(fig)


def _epoch_line(row: dict) -> str:
    return (f"epoch {row['epoch']}: train_loss {row['train_loss']:.4f}  val_loss {row['val_loss']:.4f}  "
            f"val_mIoU {row['val_mean_iou']:.4f}  lr {row['learning_rate']:.2e}  "
            f"{row['images_per_second']:.1f} img/s")


def _save_weights_atomic(model: keras.Model, path: Path) -> None:
    with atomic_path(path) as tmp:  # the temporary name keeps the `.weights.h5` ending Keras insists on
        model.save_weights(str(tmp))


def _progress(total: int, desc: str, enabled: bool, initial: int = 0):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, leave=False, dynamic_ncols=True, mininterval=1.0)


def write_json(path: Path, payload: dict) -> None:
    atomic_write_text(Path(path), json.dumps(payload, indent=1, default=str))
