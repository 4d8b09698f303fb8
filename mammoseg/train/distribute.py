"""Strategy helpers: one code path from 1 CPU to N GPUs to several machines.

- `make_strategy("auto")`: MultiWorkerMirroredStrategy when TF_CONFIG names a cluster, else MirroredStrategy over
  all local GPUs, else over the first CPU (a one-replica MirroredStrategy keeps one code path).
- `distribute_dataset`: every replica gets a consecutive slice of each *global* batch (tf.data DATA sharding
  + rebatching), so N devices or N workers see exactly the examples one device would.
- `is_chief`: only the chief writes run files; every worker runs the same collectives and makes the same
  decisions (validation metrics are all-reduced), so they stay in lock step.

`python -m mammoseg.train.distribute --out DIR` trains a tiny synthetic model end to end: a smoke test of a
cluster set-up (start it on every machine with its TF_CONFIG) and the script the kill/resume and multi-worker
tests run in subprocesses.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
from contextlib import ExitStack

from ..errors import ConfigError


def configure_logical_cpus(count: int) -> None:
    """Split the CPU into `count` logical devices (tests of MirroredStrategy); must run before TF starts."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)


def cluster_spec() -> dict | None:
    """The TF_CONFIG cluster when it names more than one task, else None."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return None
    try:
        cluster = json.loads(raw).get("cluster", {})
    except json.JSONDecodeError as exc:
        raise ConfigError(f"TF_CONFIG is not valid JSON: {exc}") from None
    return cluster if sum(len(v) for v in cluster.values()) > 1 else None


# One MirroredStrategy per device set and process: two strategies over the same devices number their collectives
# alike (group 1, instance 100, ...), and TF's process-wide collective registry then mixes up their all-reduces
# ("Shape mismatch in the collective instance 100").
_MIRRORED: dict = {}


def make_strategy(kind: str = "auto", num_devices: int | None = None):
    """kind: auto | mirrored | multi_worker; num_devices limits the local devices (GPUs, else logical CPUs).

    Mirrored strategies are shared: the same device set gives the same object.
    """
    import tensorflow as tf

    if kind not in ("auto", "mirrored", "multi_worker"):
        raise ConfigError(f"strategy kind must be auto, mirrored or multi_worker, not {kind!r}")
    if kind == "multi_worker" or (kind == "auto" and cluster_spec() is not None):
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    devices = gpus or tf.config.list_logical_devices("CPU")
    if num_devices is None:
        devices = devices if gpus else devices[:1]
    elif len(devices) < num_devices:
        raise ConfigError(f"asked for {num_devices} devices, {len(devices)} available")
    else:
        devices = devices[:num_devices]
    names = tuple(d.name for d in devices)
    if names not in _MIRRORED:
        _MIRRORED[names] = tf.distribute.MirroredStrategy(list(names))
    return _MIRRORED[names]


def default_strategy():
    return make_strategy("auto")


def is_chief(strategy) -> bool:
    """True unless this process is a non-chief worker of a multi-worker cluster (worker 0 is chief if none is)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


def uses_logical_cpus(strategy) -> bool:
    """More than one replica placed on CPU devices of one process (where XLA cannot follow the variables)."""
    devices = getattr(strategy.extended, "worker_devices", ())
    return len(devices) > 1 and all("CPU" in d.upper() for d in devices)


def distribute_dataset(strategy, dataset):
    """Global batches -> per-replica slices, consecutive in replica order, across devices and workers."""
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return strategy.experimental_distribute_dataset(dataset.with_options(options))


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """Ports free right now on `host` (all held open together, so they differ)."""
    with ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for s in socks:
            s.bind((host, 0))
        return [s.getsockname()[1] for s in socks]


def tf_config(workers: list[str], index: int, task_type: str = "worker") -> str:
    """TF_CONFIG JSON for task `index` of a cluster of `workers` ("host:port" each)."""
    return json.dumps({"cluster": {"worker": list(workers)}, "task": {"type": task_type, "index": index}})


# ------------------------------------------------------------------------------------------- smoke training run
SMOKE_CLASSES = 3


def _smoke_model(input_size: int):
    import keras

    inputs = keras.Input((input_size, input_size, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    return keras.Model(inputs, keras.layers.Conv2D(SMOKE_CLASSES, 1)(x))


def _smoke_data(n: int, size: int, seed: int):
    import numpy as np

    rng = np.random.default_rng(seed)
    labels = rng.integers(0, SMOKE_CLASSES, size=(n, size, size)).astype(np.uint8)
    images = (labels.astype(np.uint16) * 1000 + rng.integers(0, 400, size=(n, size, size))).astype(np.uint16)
    return images, labels


def smoke_train(out_dir, epochs: int = 3, examples: int = 16, batch_size: int = 4, input_size: int = 16,
                checkpoint_every_steps: int | None = None, strategy=None, resume: bool = True, seed: int = 7,
                **config_overrides):
    """Train the tiny 3-class model on stateless synthetic crops; returns the Trainer and its TrainResult."""
    import keras
    import tensorflow as tf

    from ..data.pipeline import PipelineConfig, eval_dataset, steps_per_epoch, train_dataset
    from .config import TrainConfig
    from .loop import Trainer

    images, labels = _smoke_data(examples, input_size + 4, seed=0)
    pcfg = PipelineConfig(input_size=input_size, batch_size=batch_size, max_value=4095, seed=1)
    settings = dict(epochs=epochs, batch_size=batch_size, learning_rate=0.05, seed=seed, progress=False,
                    checkpoint_every_steps=checkpoint_every_steps, keep_checkpoints=3)
    cfg = TrainConfig(**{**settings, **config_overrides})

    def loss_fn(y, logits):
        ce = keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
        return tf.reduce_mean(ce, axis=[1, 2])

    trainer = Trainer(lambda: _smoke_model(input_size), loss_fn, cfg, out_dir, SMOKE_CLASSES, strategy=strategy)
    result = trainer.fit(lambda e: train_dataset(images, labels, pcfg, start_epoch=e),
                         lambda: eval_dataset(images, labels, pcfg), steps_per_epoch(examples, batch_size),
                         resume=resume)
    return trainer, result


def save_weights_npz(model, path) -> None:
    """All model variables (weights and seed states) in one npz, written atomically: for file comparisons."""
    import numpy as np

    from ..io.atomic import atomic_path

    with atomic_path(path) as tmp:
        np.savez(tmp, *[np.asarray(v.numpy()) for v in model.variables])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mammoseg.train.distribute",
                                     description="Tiny synthetic training run (cluster smoke test, resume test).")
    parser.add_argument("--out", required=True, help="run directory (checkpoints, metrics.csv)")
    parser.add_argument("--weights-out", help="write the final model variables to this .npz")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--examples", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--checkpoint-every-steps", type=int)
    parser.add_argument("--strategy", default="auto", choices=("auto", "mirrored", "multi_worker"))
    parser.add_argument("--devices", type=int, help="local devices (logical CPUs on a CPU machine)")
    parser.add_argument("--no-resume", action="store_true")
    parser.add_argument("--nondeterministic", action="store_true",
                        help="skip tf.config.experimental.enable_op_determinism() (bit-exact comparisons need it)")
    args = parser.parse_args(argv)
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    if not args.nondeterministic:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    if args.devices and args.devices > 1:
        import tensorflow as tf

        if not tf.config.list_physical_devices("GPU"):
            configure_logical_cpus(args.devices)
    strategy = make_strategy(args.strategy, args.devices)  # multi-worker: before any other TF op
    trainer, result = smoke_train(args.out, epochs=args.epochs, examples=args.examples, batch_size=args.batch_size,
                                  checkpoint_every_steps=args.checkpoint_every_steps, strategy=strategy,
                                  resume=not args.no_resume)
    if args.weights_out:
        save_weights_npz(trainer.model, args.weights_out)
    print(f"[mammoseg] done: {result.epochs_run} epochs, replicas {strategy.num_replicas_in_sync}, "
          f"chief {trainer.is_chief}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
