"""Full-image inference benchmark: sliding window over a 4096x3328 mammogram with the U-Net on CPU.

    python benchmarks/inference.py                  # width 8, 5 images: 1.5 CPU-min; 5.7 min wall at load 10
    python benchmarks/inference.py --base-filters 64 --reps 1   # thesis width: ~15 minutes on 2 cores

Ours: `sliding_window_labels` (the path `mammoseg predict` uses): valid-padding U-Net 572 -> 388 px tiles,
overlap 0.25, Gaussian blending, batches of 4 tiles, label map streamed band by band. Reference: the ideal cost,
(number of tiles) x (time of one tile), the one-tile time measured as a batch of the same 4 tiles through the same
compiled function divided by 4, so the ratio is the overhead of tiling, padding, blending and band handling.
Target (shared BENCHMARKS-PROTOCOL.md): ratio <= 1.3 and peak resident memory <= 4 GiB.

Width: the thesis U-Net (64 base filters, 31 M parameters) took 5.2-6.8 s per 572 px tile on the 2 shared cores
(measured while writing this; 16 filters 0.21 s, 32 filters 0.8-1.3 s), i.e. ~15 minutes per image at width 64.
The default is 8 base filters (1/64 of the thesis' FLOPs): 5 full-image repetitions then take ~1.5 CPU-minutes,
within the protocol's 3 minutes when the cores are not shared (5.7 minutes wall at load average 10). A narrower network makes the fixed per-tile overhead (tile copies, blending, argmax)
relatively larger, so the ratio at width 8 is an upper bound for the wider networks (`--base-filters 16` or 64).
Besides the ratio against separately timed batches, each run reports the share of its own time spent inside the
network; its inverse is an overhead ratio that load changes between the two measurements cannot distort.
Memory: the process' peak resident set (VmHWM) during the full-image runs, reset before them through
/proc/self/clear_refs when the kernel allows it, else the whole process' peak (ru_maxrss), which is larger.
Results are appended to docs/benchmarks-inference.md.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

from _common import append_record, cpu_model, publish  # noqa: E402  (benchmarks/ is the script's folder)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
RECORD = ROOT / "docs" / "benchmarks-inference.md"
SHAPE = (4096, 3328)
TILE = 572
OVERLAP = 0.25
BATCH = 4
GIB = 2 ** 30

import numpy as np  # noqa: E402


def reset_peak_rss() -> bool:
    """Reset the kernel's resident-set high-water mark of this process (Linux >= 4.0); False if not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_rss_bytes() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def synthetic_mammogram(seed: int = 0) -> np.ndarray:
    """12-bit 4096x3328 image: smooth breast-like gradient plus noise (content does not change the timing)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:SHAPE[0], 0:SHAPE[1]].astype(np.float32)
    breast = np.clip(1.0 - ((y - SHAPE[0] / 2) / (SHAPE[0] / 2)) ** 2 - (x / SHAPE[1]) ** 2, 0, 1)
    image = 3000 * breast + rng.normal(0, 60, SHAPE).astype(np.float32)
    return np.clip(image, 0, 4095).astype(np.uint16)


def record(lines: list[str]) -> None:
    header = ("# Inference benchmarks\n\nResults appended by `benchmarks/inference.py` (protocol: shared "
              "BENCHMARKS-PROTOCOL.md). The machines are shared with other jobs: read ratios, not absolute "
              "times.\n")
    append_record(RECORD, header, lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-filters", type=int, default=8, help="U-Net width (thesis: 64)")
    parser.add_argument("--reps", type=int, default=5, help="timed full-image runs (protocol: >= 5)")
    parser.add_argument("--tile-reps", type=int, default=5, help="reference batch timings after each full run")
    parser.add_argument("--no-record", action="store_true", help="do not append to docs/benchmarks-inference.md")
    args = parser.parse_args(argv)

    import keras
    import tensorflow as tf

    from mammoseg.evaluate.sliding_window import _predictor, model_io_sizes, sliding_window_labels, tile_starts
    from mammoseg.evaluate.test_set import prepare_image
    from mammoseg.models import build_model

    load_before = os.getloadavg()[0]
    keras.utils.set_random_seed(0)
    model = build_model("unet", input_shape=(TILE, TILE, 3), num_classes=13, base_filters=args.base_filters)
    tile_in, tile_out = model_io_sizes(model)
    stride = int(tile_out * (1 - OVERLAP))
    n_tiles = len(tile_starts(SHAPE[0], tile_out, stride)) * len(tile_starts(SHAPE[1], tile_out, stride))
    image = prepare_image(synthetic_mammogram(), 4095.0, 1)  # (H, W, 1) float32, gray replicated per tile

    compiled = _predictor(model, "auto")
    inside = []  # seconds spent in the network during a full-image run

    def timed_predictor(batch):
        start = time.perf_counter()
        out = np.asarray(compiled(batch))
        inside.append(time.perf_counter() - start)
        return out

    # the reference batch: 4 real tiles of the image, gray -> RGB, exactly what a full run feeds the network
    reference_batch = np.repeat(np.stack([image[r:r + tile_in, c:c + tile_in]
                                          for r, c in ((0, 0), (0, 800), (1500, 1000), (2500, 1500))]), 3, axis=-1)

    def reference_batch_seconds() -> float:
        start = time.perf_counter()
        np.asarray(compiled(reference_batch))
        return time.perf_counter() - start

    for _ in range(2):  # warm-up: tracing, oneDNN kernel selection
        reference_batch_seconds()

    can_reset = reset_peak_rss()
    full_times, batch_times, network_shares = [], [], []
    for _ in range(args.reps):
        inside.clear()
        start = time.perf_counter()
        labels = sliding_window_labels(model, image, overlap=OVERLAP, batch_size=BATCH, predictor=timed_predictor)
        full_times.append(time.perf_counter() - start)
        network_shares.append(sum(inside) / full_times[-1])
        for _ in range(args.tile_reps):
            batch_times.append(reference_batch_seconds())
    peak = peak_rss_bytes()
    assert labels.shape == SHAPE
    load_after = os.getloadavg()[0]

    ours_s = statistics.median(full_times)
    per_tile = statistics.median(batch_times) / BATCH
    ideal_s = n_tiles * per_tile
    ratio = ours_s / ideal_s
    when = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"## Full-image inference, {when}",
        f"- machine: nproc {os.cpu_count()}, {cpu_model()}; load average {load_before:.2f} before / "
        f"{load_after:.2f} after (other jobs share the cores)",
        f"- versions: Python {platform.python_version()}, TensorFlow {tf.__version__}, Keras {keras.__version__}, "
        f"numpy {np.__version__}",
        f"- model: U-Net (valid padding) {args.base_filters} base filters, depth 4, 13 classes, "
        f"{model.count_params():,} parameters, tile {tile_in} -> {tile_out} px"
        + ("" if args.base_filters == 64 else " (reduced from the thesis' 64, see the script's docstring)"),
        f"- input: {SHAPE[0]}x{SHAPE[1]} 12-bit synthetic mammogram; overlap {OVERLAP}, Gaussian blending, "
        f"batch {BATCH}: {n_tiles} tiles",
        f"- ours `sliding_window_labels`: median {ours_s:.2f} s (runs: {', '.join(f'{t:.2f}' for t in full_times)}); "
        f"share of the time inside the network: {', '.join(f'{100 * s:.1f} %' for s in network_shares)} "
        f"(within-run overhead ratio {1 / statistics.median(network_shares):.3f}, insensitive to load changes)",
        f"- reference: {n_tiles} tiles x {per_tile:.4f} s per tile (median of {len(batch_times)} batches of "
        f"{BATCH}: {', '.join(f'{t:.3f}' for t in batch_times)} s) = {ideal_s:.2f} s",
        f"- ratio {ratio:.2f} (target <= 1.3: {'met' if ratio <= 1.3 else 'NOT met'}); peak resident memory "
        f"{peak / GIB:.2f} GiB ({'during the timed runs' if can_reset else 'whole process'}; target <= 4 GiB: "
        f"{'met' if peak <= 4 * GIB else 'NOT met'})",
        f"- repetitions: {args.reps} full images (protocol asks for 5; see the docstring)"
        if args.reps < 5 else f"- repetitions: {args.reps} full images",
    ]
    return publish(lines, record, not args.no_record,
                   [f"RESULT inference ratio={ratio:.2f} ({ours_s:.2f} s vs {ideal_s:.2f} s, seconds per {SHAPE[0]}x"
                    f"{SHAPE[1]} image; peak RSS {peak / GIB:.2f} GiB)"])


if __name__ == "__main__":
    sys.exit(main())
