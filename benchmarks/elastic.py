"""Claim: the in-graph elastic transform (mammoseg.data.augment_tf) deforms a 512x512 crop + label >= 3x faster than
the scipy route (Gaussian-smoothed displacement field + scipy.ndimage.map_coordinates), same (alpha, sigma).

Ours: `random_elastic` (lattice field: two matmuls; four bilinear + one nearest gather, scipy's reflect border),
XLA-compiled, on a batch of --batch crops per call, TensorFlow on all cores. References, one crop at a time as an
offline loop would do, single-threaded numpy/scipy:
  * headline: this repository's offline path `augment.elastic_transform` (FFT-smoothed U(-1, 1) field on a margin-
    extended grid + map_coordinates order 1 / order 0, reflect) - the fastest scipy route we have;
  * classic: Simard's recipe with `scipy.ndimage.gaussian_filter` (truncate 4) + map_coordinates, as in most code.
Protocol (shared BENCHMARKS-PROTOCOL.md): warm-up (tracing, XLA compile) first, then --repeats interleaved rounds,
median crops/s per side. Process CPU seconds per crop are recorded too (TensorFlow's threads included), because
wall-clock ratios on a 2-core machine mix speed with parallelism. Appends to docs/benchmarks-data.md and prints last
    RESULT elastic_512 ratio=<x> (<ours> vs <reference>, crops/s)

    python benchmarks/elastic.py [--repeats 7] [--batch 8] [--no-record]
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from _common import (add_protocol_options, append_record, machine_lines, parse_protocol_args, publish,  # noqa: E402
                     runs, timed)  # (benchmarks/ is the script's folder)

import numpy as np
from scipy import ndimage

RECORD = Path(__file__).resolve().parents[1] / "docs" / "benchmarks-data.md"
SIZE = 512


def record(title: str, lines: list[str]) -> None:
    """Append a section to docs/benchmarks-data.md (shared with crop_pipeline.py; created when missing)."""
    header = ("# Data pipeline benchmarks\n\nResults appended by `benchmarks/crop_pipeline.py` and "
              "`benchmarks/elastic.py` (protocol: shared BENCHMARKS-PROTOCOL.md). See the notes at the top for how "
              "to read them.\n")
    append_record(RECORD, header, [f"## {title}", *lines])


# ------------------------------------------------------------------------------- this benchmark
def test_crops(count: int, seed: int = 0):
    """512x512 crops + label maps of synthetic mammograms (kth-seg phantoms), image uint16, label uint8."""
    from mammoseg.data.synthetic import render_case
    from mammoseg.io.annotations import merge_masks

    rng = np.random.default_rng(seed)
    images, labels = [], []
    for _ in range(count):
        image, masks = render_case(rng, (640, 560))
        label = merge_masks(masks, image.shape)
        top, left = rng.integers(0, 640 - SIZE + 1), rng.integers(0, 560 - SIZE + 1)
        images.append(image[top:top + SIZE, left:left + SIZE])
        labels.append(label[top:top + SIZE, left:left + SIZE])
    return np.stack(images), np.stack(labels)


def classic_scipy_elastic(image, label, rng, alpha: float, sigma: float):
    """Simard et al. as usually written: per-pixel U(-1, 1) noise, gaussian_filter, map_coordinates."""
    shape = image.shape
    dy = ndimage.gaussian_filter(rng.uniform(-1, 1, shape), sigma, mode="constant") * alpha
    dx = ndimage.gaussian_filter(rng.uniform(-1, 1, shape), sigma, mode="constant") * alpha
    yy, xx = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
    coords = [yy + dy, xx + dx]
    return (ndimage.map_coordinates(image.astype(np.float64), coords, order=1, mode="reflect"),
            ndimage.map_coordinates(label, coords, order=0, mode="reflect"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_protocol_options(parser, RECORD)
    parser.add_argument("--batch", type=int, default=8, help="crops per in-graph call and per reference round")
    parser.add_argument("--classic-crops", type=int, default=2, help="crops per round for the slow classic route")
    args = parse_protocol_args(parser, argv)

    import tensorflow as tf

    from mammoseg.data.augment import elastic_params_for, elastic_transform
    from mammoseg.data.augment_tf import random_elastic

    params = elastic_params_for(SIZE)
    images, labels = test_crops(args.batch)
    images_t, labels_t = tf.constant(images), tf.constant(labels)
    warp = tf.function(lambda seed: random_elastic(images_t, labels_t, seed, params), jit_compile=True)
    counter = iter(range(10**9))

    def ours():
        out = warp(tf.constant([7, next(counter)], tf.int64))
        out[0].numpy(), out[1].numpy()  # the work is done when the results are on the host

    rng = np.random.default_rng(0)

    def offline():
        for image, label in zip(images, labels):
            elastic_transform(image, label, rng, params.alpha, params.sigma)

    def classic():
        for image, label in zip(images[:args.classic_crops], labels[:args.classic_crops]):
            classic_scipy_elastic(image, label, rng, params.alpha, params.sigma)

    for fn in (ours, offline, classic):  # warm-up: tracing, XLA compile, caches
        fn()
    times = {"ours": [], "offline": [], "classic": []}
    for _ in range(args.repeats):
        for name, fn in (("ours", ours), ("offline", offline), ("classic", classic)):
            times[name].append(timed(fn))
    crops = {"ours": args.batch, "offline": args.batch, "classic": args.classic_crops}
    rate = {k: [crops[k] / wall for wall, _ in v] for k, v in times.items()}
    cpu_ms = {k: statistics.median(cpu for _, cpu in v) / crops[k] * 1000 for k, v in times.items()}
    median = {k: statistics.median(v) for k, v in rate.items()}
    ratio = median["ours"] / median["offline"]

    lines = machine_lines() + [
        f"- input: {args.batch} crops {SIZE}x{SIZE} of synthetic mammograms (uint16 image, uint8 label), "
        f"alpha {params.alpha:.0f}, sigma {params.sigma:.1f} (`elastic_params_for({SIZE})`), reflect border",
        f"- ours `augment_tf.random_elastic`, XLA, batch {args.batch}, TensorFlow on all cores: median "
        f"{median['ours']:.1f} crops/s (runs: {runs(rate['ours'])}); {cpu_ms['ours']:.1f} CPU-ms per crop",
        f"- reference `augment.elastic_transform` (FFT field + map_coordinates), single-threaded: median "
        f"{median['offline']:.1f} crops/s (runs: {runs(rate['offline'])}); {cpu_ms['offline']:.1f} CPU-ms per crop",
        f"- classic scipy (gaussian_filter field + map_coordinates), {args.classic_crops} crops per round: median "
        f"{median['classic']:.2f} crops/s (runs: {runs(rate['classic'])}); {cpu_ms['classic']:.0f} CPU-ms per crop",
        f"- ratio {ratio:.2f}x vs the FFT reference (target >= 3x: {'met' if ratio >= 3 else 'NOT met'}); "
        f"{median['ours'] / median['classic']:.1f}x vs classic scipy; CPU-time ratio "
        f"{cpu_ms['offline'] / cpu_ms['ours']:.2f}x vs the FFT reference"]
    return publish(lines, lambda body: record(f"Elastic transform, {SIZE}x{SIZE} crop + label", body),
                   not args.no_record,
                   [f"RESULT elastic_{SIZE} ratio={ratio:.2f} ({median['ours']:.1f} vs {median['offline']:.1f}, "
                    f"crops/s)"])


if __name__ == "__main__":
    sys.exit(main())
