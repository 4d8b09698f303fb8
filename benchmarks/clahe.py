"""Claim: data_prep CLAHE (OpenCV) on a 4096x3328 16-bit mammogram is >= 20x faster than
skimage.exposure.equalize_adapthist with the same parameters (8x8 contextual regions, clip limit 0.02, 256 bins).

Protocol (docs/BENCHMARKS-PROTOCOL in the shared docs): one warm-up call each, then `--repeats` interleaved rounds
(ours on --threads OpenCV threads, ours on one thread, reference), median seconds per call, and the outputs'
correlation as a check that both compute the same thing. The headline uses the machine's cores as the protocol
states its targets ("on 2 cores"): OpenCV's CLAHE is multi-threaded, scikit-image's is single-threaded numpy and
cannot use the second core. The one-thread ratio is recorded beside it. The result is appended to
docs/benchmarks-data-prep.md and the last line printed is
    RESULT clahe ratio=<reference / ours> (<ours> s vs <reference> s, seconds per 4096x3328 image)

    python benchmarks/clahe.py [--repeats 7] [--threads N (default: all cores)] [--no-record]
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import time
from pathlib import Path

from _common import add_protocol_options, append_record, cpu_model, parse_protocol_args, publish  # noqa: E402

import cv2
import numpy as np
import skimage
from skimage.exposure import equalize_adapthist

from mammoseg.data.preprocess import clahe
from mammoseg.data.synthetic import render_case

SHAPE = (4096, 3328)
CLIP_LIMIT, TILES, BINS = 0.02, (8, 8), 256
RECORD = Path(__file__).resolve().parents[1] / "docs" / "benchmarks-data-prep.md"


def test_image(seed: int = 0) -> np.ndarray:
    """A 12-bit synthetic mammogram (kth-seg phantom) upsampled to full-field size, with pixel noise so the
    histogram is not the interpolation's."""
    rng = np.random.default_rng(seed)
    small, _ = render_case(rng, (1024, 832))
    big = cv2.resize(small.astype(np.float32), (SHAPE[1], SHAPE[0]), interpolation=cv2.INTER_LINEAR)
    big += rng.normal(0.0, 8.0, SHAPE).astype(np.float32)
    return np.clip(np.rint(big), 0, 4095).astype(np.uint16)


def ours(image: np.ndarray) -> np.ndarray:
    return clahe(image, CLIP_LIMIT, TILES, BINS)


def reference(image: np.ndarray) -> np.ndarray:
    return equalize_adapthist(image, kernel_size=None, clip_limit=CLIP_LIMIT, nbins=BINS)  # None: 1/8 per side


def timed(fn, image, threads: int | None = None) -> float:
    if threads is not None:
        cv2.setNumThreads(threads)
    start = time.perf_counter()
    fn(image)
    return time.perf_counter() - start


def record(lines: list[str]) -> None:
    header = ("# data_prep benchmarks\n\nResults appended by `benchmarks/*.py` (protocol: shared "
              "BENCHMARKS-PROTOCOL.md). The machines are shared with other jobs: read ratios, not absolute times.\n")
    append_record(RECORD, header, lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_protocol_options(parser, RECORD)
    parser.add_argument("--threads", type=int, default=0,
                        help="OpenCV threads for the headline ratio (default 0: OpenCV's default, all cores)")
    args = parse_protocol_args(parser, argv)

    image = test_image()
    default_threads = cv2.getNumThreads()
    threads = args.threads or default_threads
    load_before = os.getloadavg()[0]
    ours_out, reference_out = ours(image), reference(image)  # warm-up, and the agreement check
    correlation = float(np.corrcoef(ours_out.ravel(), reference_out.ravel())[0, 1])
    mean_abs = float(np.abs(ours_out - reference_out).mean())
    del ours_out, reference_out
    ours_times, single_times, reference_times = [], [], []
    for _ in range(args.repeats):
        ours_times.append(timed(ours, image, threads))
        single_times.append(timed(ours, image, 1))
        reference_times.append(timed(reference, image))
    cv2.setNumThreads(default_threads)
    ours_s, reference_s = statistics.median(ours_times), statistics.median(reference_times)
    single_s = statistics.median(single_times)
    ratio = reference_s / ours_s
    load_after = os.getloadavg()[0]

    when = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"## CLAHE, {when}",
             f"- machine: nproc {os.cpu_count()}, {cpu_model()}, OpenCV default threads {default_threads}; "
             f"load average {load_before:.2f} before / {load_after:.2f} after (other jobs share the cores)",
             f"- versions: Python {platform.python_version()}, numpy {np.__version__}, OpenCV {cv2.__version__}, "
             f"scikit-image {skimage.__version__}",
             f"- input: {SHAPE[0]}x{SHAPE[1]} uint16 synthetic mammogram (12-bit values); clip limit {CLIP_LIMIT}, "
             f"{TILES[0]}x{TILES[1]} tiles, {BINS} bins, float output in [0, 1] on both sides",
             f"- ours `mammoseg.data.preprocess.clahe`, {threads} OpenCV thread(s): median {ours_s:.3f} s "
             f"(runs: {', '.join(f'{t:.3f}' for t in ours_times)})",
             f"- ours on 1 OpenCV thread: median {single_s:.3f} s "
             f"(runs: {', '.join(f'{t:.3f}' for t in single_times)}; ratio {reference_s / single_s:.2f}x)",
             f"- reference `skimage.exposure.equalize_adapthist`: median {reference_s:.3f} s "
             f"(runs: {', '.join(f'{t:.3f}' for t in reference_times)})",
             f"- agreement: correlation {correlation:.4f}, mean |difference| {mean_abs:.4f}",
             f"- ratio {ratio:.2f}x, {threads} thread(s) vs single-threaded scikit-image (target >= 20x): "
             f"{'met' if ratio >= 20 else 'NOT met'}"]
    return publish(lines, record, not args.no_record,
                   [f"RESULT clahe ratio={ratio:.2f} ({ours_s:.3f} s vs {reference_s:.3f} s, seconds per "
                    f"{SHAPE[0]}x{SHAPE[1]} image)"])


if __name__ == "__main__":
    sys.exit(main())
