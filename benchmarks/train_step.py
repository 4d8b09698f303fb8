"""Training-step benchmark: the Trainer's custom MirroredStrategy loop against `model.fit`, and 2 devices vs 1.

    python benchmarks/train_step.py                       # CPU, ~3 minutes on 2 cores (reduced U-Net)
    python benchmarks/train_step.py --size 256 --base-filters 64 --batch 8   # the protocol's full U-Net 256²
    python benchmarks/train_step.py --jax-gpu             # GPU variant: KERAS_BACKEND=jax, U-Net 512², bf16

Claims (docs protocol, /work/shared/docs/BENCHMARKS-PROTOCOL.md):
1. custom loop (1 device) vs `model.fit` on the same model, data, loss, optimizer and device: time per step,
   target <= 1.2x. Both compute the confusion-matrix metric (ours in the step, fit through `MeanIoU`), XLA off.
2. the same loop on 2 logical devices vs 1 (same global batch): report the ratio.
Per step: the steady-state time between the ends of two consecutive steps (host-synchronised on both sides: our
loop reads the loss, a fit callback reads the logs); after a warm-up, each repetition times a few steps of every
runner in turn, and the median is taken over all timed steps (robust to the load of a shared machine).

3. `--jax-gpu`: the pure-Keras U-Net (same padding, 64-1024, 512²) under KERAS_BACKEND=jax with a jitted
   stateless train step (`stateless_call` + `value_and_grad` + `optimizer.stateless_apply`), mixed_bfloat16;
   reports images/s and model-FLOP utilisation = img/s x 3 x forward FLOPs / peak (H100 SXM dense bf16 989 TFLOP/s
   by default, `--peak-tflops`). Only meaningful on a GPU; it refuses to run without one unless --allow-cpu.

Results are appended to docs/benchmarks-train.md; the summary lines `RESULT ...` come last.
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _common import append_record, machine  # noqa: E402  (benchmarks/ is the script's folder)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "benchmarks-train.md"
H100_BF16_TFLOPS = 989.0


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--size", type=int, default=128, help="square input side (CPU claims)")
    p.add_argument("--base-filters", type=int, default=16, help="U-Net width (thesis: 64)")
    p.add_argument("--depth", type=int, default=4)
    p.add_argument("--batch", type=int, default=8, help="global batch")
    p.add_argument("--steps", type=int, default=3, help="timed steps per runner and repetition")
    p.add_argument("--reps", type=int, default=8)
    p.add_argument("--skip-devices", action="store_true", help="only the loop-vs-fit claim")
    p.add_argument("--no-record", action="store_true", help="do not append to docs/benchmarks-train.md")
    p.add_argument("--jax-gpu", action="store_true", help="the GPU variant under KERAS_BACKEND=jax")
    p.add_argument("--gpu-size", type=int, default=512)
    p.add_argument("--gpu-batch", type=int, default=16)
    p.add_argument("--gpu-steps", type=int, default=20)
    p.add_argument("--peak-tflops", type=float, default=H100_BF16_TFLOPS)
    p.add_argument("--allow-cpu", action="store_true", help="run --jax-gpu on a CPU (smoke test only)")
    return p.parse_args(argv)


def record(lines: list[str]) -> None:
    """Append a dated section to docs/benchmarks-train.md, atomically."""
    append_record(RESULTS, "# Training-step benchmark results\n\nWritten by `benchmarks/train_step.py`; newest run "
                  "last. Interpretation and protocol: docs/training.md (\"Speed\").\n", lines)


def step_times(run, steps: int) -> list[float]:
    """Seconds between consecutive step ends (steady state: the first step's start-up is not counted)."""
    ends: list[float] = []
    run(lambda *_: ends.append(time.perf_counter()), steps + 1)
    return [b - a for a, b in zip(ends, ends[1:])]


# --------------------------------------------------------------------------------------------- CPU claims
def cpu_claims(args) -> tuple[list[str], list[str]]:
    from mammoseg.train.distribute import configure_logical_cpus

    configure_logical_cpus(2)  # before TF initialises: the 2-vs-1 device claim needs two logical CPUs
    import keras
    import numpy as np
    import tensorflow as tf

    from mammoseg.models import build_model
    from mammoseg.train.config import TrainConfig
    from mammoseg.train.distribute import make_strategy
    from mammoseg.train.loop import Trainer

    classes = 13
    rng = np.random.default_rng(0)
    n = args.batch * 4
    x = rng.uniform(-0.5, 0.5, size=(n, args.size, args.size, 3)).astype("float32")
    y = rng.integers(0, classes, size=(n, args.size, args.size)).astype("int32")
    data = tf.data.Dataset.from_tensor_slices((x, y)).repeat().batch(args.batch, drop_remainder=True).prefetch(2)

    def model():
        return build_model("unet", input_shape=(args.size, args.size, 3), num_classes=classes,
                           base_filters=args.base_filters, depth=args.depth, padding="same", dropout=0.0)

    def loss(labels, logits):  # per-example mean pixel CE = fit's mean over all pixels when summed / batch
        ce = keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
        return tf.reduce_mean(ce, axis=[1, 2])

    cfg = TrainConfig(batch_size=args.batch, learning_rate=1e-3, momentum=0.9, progress=False, tensorboard=False)
    trainers = {1: Trainer(model, loss, cfg, tempfile.mkdtemp(), classes, strategy=make_strategy("mirrored", 1))}
    if not args.skip_devices:
        trainers[2] = Trainer(model, loss, cfg, tempfile.mkdtemp(), classes, strategy=make_strategy("mirrored", 2))
    keras_model = model()
    keras_model.set_weights(trainers[1].model.get_weights())
    keras_model.compile(optimizer=keras.optimizers.SGD(1e-3, momentum=0.9),
                        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                        metrics=[keras.metrics.MeanIoU(classes, sparse_y_pred=False)], jit_compile=False)
    class Ends(keras.callbacks.Callback):
        def __init__(self, hook):
            super().__init__()
            self.hook = hook

        def on_train_batch_end(self, batch, logs=None):
            float(logs["loss"])  # host sync, as our loop's float(loss)
            self.hook(batch)

    def run_fit(hook, steps):
        keras_model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False,
                        callbacks=[Ends(hook)])

    iterators = {k: t.distributed_iterator(data) for k, t in trainers.items()}
    runners = {f"loop{k}": (lambda hook, steps, k=k: trainers[k].run_steps(iterators[k], steps, on_step=hook))
               for k in trainers}
    runners["fit"] = run_fit
    for run in runners.values():  # warm-up: tracing, first allocations
        step_times(run, 2)
    samples = {name: [] for name in runners}
    for _ in range(args.reps):  # interleaved: each repetition times every runner once, in turn
        for name, run in runners.items():
            samples[name] += step_times(run, args.steps)
    median = {name: statistics.median(v) for name, v in samples.items()}  # over all timed steps
    params = trainers[1].model.count_params()
    desc = (f"U-Net {args.size}² base {args.base_filters} depth {args.depth} ({params:,} params), batch "
            f"{args.batch}, SGD momentum, XLA off, float32")
    lines = [f"- loop vs fit: {median['loop1'] * 1e3:.1f} ms vs {median['fit'] * 1e3:.1f} ms per step "
             f"({args.batch / median['loop1']:.1f} vs {args.batch / median['fit']:.1f} img/s), "
             f"ratio {median['loop1'] / median['fit']:.3f} (target <= 1.2)"]
    results = [f"RESULT train_step/loop_vs_fit ratio={median['loop1'] / median['fit']:.2f} "
               f"(custom loop 1 device vs model.fit, s/step, {desc})"]
    if "loop2" in median:
        ratio = median["loop2"] / median["loop1"]
        lines.append(f"- 2 logical CPU devices vs 1: {median['loop2'] * 1e3:.1f} ms vs {median['loop1'] * 1e3:.1f} ms "
                     f"per step, ratio {ratio:.3f} (same global batch; both logical devices share the same cores: "
                     f"> 1 is the cost of splitting the batch, < 1 the gain of running the two half-batches "
                     f"concurrently; not a multi-device speed-up)")
        results.append(f"RESULT train_step/two_devices ratio={ratio:.2f} "
                       f"(2 logical CPU devices vs 1, s/step, {desc})")
    lines.insert(0, f"- model: {desc}; {args.reps} interleaved repetitions x {args.steps} steps, median over all "
                    f"steps; step times (ms): " + "; ".join(f"{k} " + ", ".join(f"{1e3 * v:.0f}" for v in vs)
                                                           for k, vs in samples.items()))
    return lines, results


# --------------------------------------------------------------------------------------------- GPU variant
def jax_gpu(args) -> tuple[list[str], list[str]]:
    import jax
    import keras
    import numpy as np

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from model_zoo import forward_flops

    from mammoseg.models import build_model

    devices = jax.devices()
    if devices[0].platform != "gpu" and not args.allow_cpu:
        raise SystemExit(f"--jax-gpu needs a GPU; jax sees {devices} (use --allow-cpu for a smoke run)")
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    classes, size, batch = 13, args.gpu_size, args.gpu_batch
    model = build_model("unet", input_shape=(size, size, 3), num_classes=classes, padding="same", dropout=0.0)
    flops = forward_flops(model)  # per image, forward
    optimizer = keras.optimizers.SGD(1e-3, momentum=0.9)
    optimizer.build(model.trainable_variables)

    def loss_fn(trainable, non_trainable, x, y):
        logits, non_trainable = model.stateless_call(trainable, non_trainable, x, training=True)
        ce = keras.losses.sparse_categorical_crossentropy(y, logits.astype("float32"), from_logits=True)
        return ce.mean(), non_trainable

    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

    def train_step(state, x, y):
        trainable, non_trainable, opt_vars = state
        (loss, non_trainable), grads = grad_fn(trainable, non_trainable, x, y)
        trainable, opt_vars = optimizer.stateless_apply(opt_vars, grads, trainable)
        return loss, (trainable, non_trainable, opt_vars)

    step = jax.jit(train_step, donate_argnums=0)
    state = ([v.value for v in model.trainable_variables], [v.value for v in model.non_trainable_variables],
             [v.value for v in optimizer.variables])
    rng = np.random.default_rng(0)
    x = jax.device_put(rng.uniform(-0.5, 0.5, size=(batch, size, size, 3)).astype("float32"))
    y = jax.device_put(rng.integers(0, classes, size=(batch, size, size)).astype("int32"))
    t = time.perf_counter()
    loss, state = step(state, x, y)
    loss.block_until_ready()
    compile_s = time.perf_counter() - t
    for _ in range(3):
        loss, state = step(state, x, y)
    loss.block_until_ready()
    samples = []
    for _ in range(args.reps):
        t = time.perf_counter()
        for _ in range(args.gpu_steps):
            loss, state = step(state, x, y)
        loss.block_until_ready()
        samples.append((time.perf_counter() - t) / args.gpu_steps)
    per_step = statistics.median(samples)
    images_per_s = batch / per_step
    mfu = images_per_s * 3 * flops / (args.peak_tflops * 1e12)
    desc = (f"U-Net {size}² 64-1024 same padding ({model.count_params():,} params, {flops / 1e9:.0f} GFLOP forward "
            f"per image), batch {batch}, mixed_bfloat16, SGD momentum, jax {jax.__version__} on {devices[0]}")
    lines = [f"- jax GPU step: {desc}", f"- {per_step * 1e3:.1f} ms per step, {images_per_s:.1f} img/s, "
             f"model-FLOP utilisation {100 * mfu:.1f} % of {args.peak_tflops:.0f} TFLOP/s (3 x forward FLOPs per "
             f"training image); compile {compile_s:.1f} s; final loss {float(loss):.4f}"]
    results = [f"RESULT train_step/jax_gpu ratio={images_per_s / 300:.2f} ({images_per_s:.1f} img/s vs target "
               f"300 img/s, MFU {100 * mfu:.1f} %, {desc})"]
    return lines, results


def main(argv=None) -> int:
    args = parse(argv)
    if args.jax_gpu:
        os.environ["KERAS_BACKEND"] = "jax"  # before keras is imported anywhere
    else:
        os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.path.insert(0, str(ROOT))
    lines, results = jax_gpu(args) if args.jax_gpu else cpu_claims(args)
    import keras

    header = (f"## {datetime.datetime.now():%Y-%m-%d %H:%M} — {'jax GPU step' if args.jax_gpu else 'CPU claims'}\n\n"
              f"- machine: {machine()} (shared with other jobs: ratios from one interleaved run, not absolute "
              f"times); Python {platform.python_version()}, Keras {keras.__version__}, backend "
              f"{keras.backend.backend()}")
    if not args.jax_gpu:
        import tensorflow as tf

        header += f", TensorFlow {tf.__version__}"
    body = [header, *lines]
    print("\n".join(body), flush=True)
    if not args.no_record:
        record(body)
    for line in results:
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
