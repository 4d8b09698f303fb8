"""Model zoo benchmark: parameters and FLOPs of every registered network at its thesis size, and CPU step time.

    python benchmarks/model_zoo.py                 # all models, ~3 minutes on 2 cores
    python benchmarks/model_zoo.py --models unet fcn8 --full-size-timing

Per model it builds the network at the thesis defaults (parameters, FLOPs of one forward pass), then times a
training step (forward + backward + SGD update, batch 1) against a forward pass of the same model, interleaved,
median of --reps repetitions after a warm-up (docs protocol: /work/shared/docs/BENCHMARKS-PROTOCOL.md). Timing
runs at a reduced input size unless --full-size-timing: a full-size Dilation10 step takes minutes on a laptop
CPU. Each model prints `RESULT model_zoo/<name> ratio=<train/forward> (...)`; the summary line comes last.

Results are appended to docs/benchmarks-model-zoo.md (not docs/benchmarks.md, which other benchmarks write to
concurrently).

Run time: the first recorded run took 487 s on a shared 2-core machine under load 4-5, above the protocol's
3 minutes; the Dilation10 and discriminator timing sizes were then halved. Most of the time is spent in the SGD
updates of the 134 M-parameter VGG networks, which no input size reduces (`--models` selects a subset).

FLOPs: 2 x multiply-accumulates of the convolution, transposed-convolution and dense layers (normalisation,
activations, pooling and resizing are ignored: they are < 1 % here).
"""
from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import time
from pathlib import Path

from _common import append_record, machine  # noqa: E402  (benchmarks/ is the script's folder)

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "docs" / "benchmarks-model-zoo.md"

# Reduced input shapes for the timed steps (valid for each architecture's size constraints).
TIMING_SHAPES = {
    "fcn32": (64, 64, 3), "fcn16": (64, 64, 3), "fcn8": (64, 64, 3), "unet": (188, 188, 3),
    "dilation10_front": (32, 32, 3), "dilation10_context": (32, 32, 3), "dilation10_global": (32, 32, 3),
    "deeplabv3": (193, 193, 3), "gcn": (192, 192, 3), "discriminator": (64, 64, 39),
    "oulu_unet": (128, 128, 1), "resnet22_unet": (128, 128, 1), "resnet22_fpn": (128, 128, 1),
    "resnet34_unet": (128, 128, 3), "resnet34_fpn": (128, 128, 3), "residual_unet_2d": (128, 128, 1),
    "residual_unet_3d": (32, 32, 32, 1), "roi_unet": (128, 128, 1), "vgg16_classifier": (128, 128, 1),
    "decomposition_classifier": (128, 128, 2),
}
DEFAULT_SHAPES = {"discriminator": (388, 388, 39)}  # fully convolutional: measured on U-Net's output crop


def forward_flops(model) -> int:
    """2 x MACs of conv / transposed conv / dense layers for one sample, from static layer shapes."""
    import keras

    total = 0
    for layer in model.layers:
        if isinstance(layer, (keras.layers.Conv2DTranspose, keras.layers.Conv3DTranspose)):
            kernel = layer.kernel.shape  # (*k, out, in)
            positions = int(np.prod(layer.input.shape[1:-1]))
            total += 2 * int(np.prod(kernel)) * positions
        elif isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv3D)):
            positions = int(np.prod(layer.output.shape[1:-1]))
            total += 2 * int(np.prod(layer.kernel.shape)) * positions
        elif isinstance(layer, keras.layers.Dense):
            total += 2 * int(np.prod(layer.kernel.shape))
    return total


def _target(model, rng):
    shape = (1, *model.output_shape[1:])
    if shape[-1] == 1 or len(shape) == 2:
        return rng.integers(0, 2, size=shape).astype("float32")
    return rng.integers(0, shape[-1], size=shape[:-1]).astype("int32")


def time_steps(model, reps: int, rng):
    """Median seconds of (train step, forward pass), interleaved, after one warm-up of each."""
    import keras

    x = rng.standard_normal((1, *model.input_shape[1:])).astype("float32")
    y = _target(model, rng)
    binary = y.dtype == np.float32
    from_logits = not (len(model.output_shape) == 2)  # the classifiers end in a sigmoid
    loss = (keras.losses.BinaryCrossentropy(from_logits=from_logits) if binary
            else keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.compile(optimizer=keras.optimizers.SGD(1e-3), loss=loss, jit_compile=False)
    model.train_on_batch(x, y)
    model.predict_on_batch(x)
    train, forward = [], []
    for _ in range(reps):
        t = time.perf_counter()
        model.train_on_batch(x, y)
        train.append(time.perf_counter() - t)
        t = time.perf_counter()
        model.predict_on_batch(x)
        forward.append(time.perf_counter() - t)
    return statistics.median(train), statistics.median(forward)


def append_results(lines: list[str]) -> None:
    """Append atomically (write the whole file to a temp file beside it, then replace)."""
    append_record(RESULTS, "# Model zoo benchmark results\n\nWritten by `benchmarks/model_zoo.py` (parameters and "
                  "FLOPs at the thesis sizes; CPU step times at the timing sizes listed). Newest run last.\n", lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", help="subset of registered names (default: all)")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--full-size-timing", action="store_true", help="time at the thesis input size")
    parser.add_argument("--no-write", action="store_true", help="print only; do not append to the docs file")
    args = parser.parse_args(argv)

    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    from mammoseg.models import build_model, list_models

    names = args.models or list_models()
    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(0)
    rows, ratios = [], []
    started = time.perf_counter()
    for name in names:
        full_kwargs = {"input_shape": DEFAULT_SHAPES[name]} if name in DEFAULT_SHAPES else {}
        model = build_model(name, **full_kwargs)
        params, flops, full_shape = model.count_params(), forward_flops(model), model.input_shape[1:]
        del model
        keras.backend.clear_session()
        shape = full_shape if args.full_size_timing else TIMING_SHAPES[name]
        timed = build_model(name, input_shape=shape)
        timed_flops = forward_flops(timed)
        train_s, forward_s = time_steps(timed, args.reps, rng)
        del timed
        keras.backend.clear_session()
        ratio = train_s / forward_s
        ratios.append(ratio)
        rows.append((name, params, flops, full_shape, shape, timed_flops, train_s, forward_s))
        print(f"RESULT model_zoo/{name} ratio={ratio:.2f} ({train_s * 1e3:.1f} vs {forward_s * 1e3:.1f}, ms "
              f"train step vs forward at {'x'.join(map(str, shape))}; {params:,} params, "
              f"{flops / 1e9:.1f} GFLOP forward at {'x'.join(map(str, full_shape))})", flush=True)
    elapsed = time.perf_counter() - started
    summary = (f"RESULT model_zoo ratio={statistics.median(ratios):.2f} (median train step vs forward over "
               f"{len(ratios)} models, ms; {elapsed:.0f} s total)")
    if not args.no_write:
        import tensorflow as tf

        lines = [f"## {datetime.datetime.now().isoformat(timespec='seconds')}",
                 f"Machine: {machine()}; TensorFlow {tf.__version__}, Keras {keras.__version__}, backend "
                 f"{keras.backend.backend()}; batch 1, median of {args.reps} interleaved repetitions.", "",
                 "| model | parameters | GFLOP fwd (thesis size) | thesis input | timed input | GFLOP fwd (timed) "
                 "| train step ms | forward ms |", "|---|---:|---:|---|---|---:|---:|---:|"]
        for name, params, flops, full_shape, shape, timed_flops, train_s, forward_s in rows:
            lines.append(f"| {name} | {params:,} | {flops / 1e9:.2f} | {'x'.join(map(str, full_shape))} | "
                         f"{'x'.join(map(str, shape))} | {timed_flops / 1e9:.2f} | {train_s * 1e3:.1f} | "
                         f"{forward_s * 1e3:.1f} |")
        lines += ["", f"`{summary}`"]
        append_results(lines)
    print(summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
