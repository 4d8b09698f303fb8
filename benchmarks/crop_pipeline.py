"""Claim: the tf.data crop pipeline (class-balanced centres + elastic + flip + gray->RGB, in-graph) delivers >= 5x the
batches/s of a plain numpy loop doing the same work, at 256x256 and 700x700 crops, on a 2-core machine.

Ours: `mammoseg.data.pipeline.crop_dataset` on full synthetic mammograms: `CentreIndex` class-balanced centres
(thesis rule, MAMMO13 exclusions), elastic deformation on every crop (`elastic_params_for(size)`), horizontal flip
p=0.5, [-0.5, 0.5] scaling, gray -> RGB, batches of --batch. Reference, a straightforward numpy loop doing the same:
per crop `sampling.class_balanced_centre` on a prebuilt `LabelIndex` (both sides build their index before timing),
`augment.elastic_crop` (FFT-smoothed field + scipy map_coordinates, image order 1 / label order 0), np flip,
scaling, np.repeat to 3 channels, np.stack per batch. Contrast is off on both sides (not part of the claim).
Protocol: warm-up, then --repeats interleaved rounds; each round of ours opens a fresh iterator (its start-up
counts, and no prefetching runs while the reference is timed) and reads --ours-batches batches. Median batches/s.
Appends to docs/benchmarks-data.md and prints one line per size, the last ones being
    RESULT crop_pipeline_<size> ratio=<x> (<ours> vs <reference>, batches/s)

    python benchmarks/crop_pipeline.py [--sizes 256 700] [--repeats 7] [--no-record]
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import add_protocol_options, machine_lines, parse_protocol_args, publish, runs, timed  # noqa: E402
from elastic import RECORD, record  # noqa: E402  (the sibling script owns the shared docs/benchmarks-data.md)

IMAGE_SHAPE = (1024, 832)  # synthetic mammograms; crops reaching outside are padded on both sides
MAX_VALUE = 4095.0
# batches per timed round; ours reads more because each round pays a fresh iterator's start-up (~0.2 s)
SETTINGS = {256: dict(batch=8, ours=150, reference=6), 700: dict(batch=4, ours=40, reference=2)}


def test_images(count: int, seed: int = 0):
    from mammoseg.data.synthetic import render_case
    from mammoseg.io.annotations import merge_masks

    rng = np.random.default_rng(seed)
    images, labels = [], []
    for _ in range(count):
        image, masks = render_case(rng, IMAGE_SHAPE)
        images.append(image)
        labels.append(merge_masks(masks, image.shape))
    return images, labels


def numpy_batches(images, labels, indexes, size: int, batch: int, rng, params):
    """The reference: the same work as the tf.data pipeline, one crop at a time in Python."""
    from mammoseg.data.augment import elastic_crop
    from mammoseg.data.sampling import class_balanced_centre

    while True:
        xs, ys = [], []
        for _ in range(batch):
            b = int(rng.integers(len(images)))
            cy, cx, _ = class_balanced_centre(indexes[b], rng)
            image, label = elastic_crop(images[b], labels[b], cy, cx, size, rng, params)
            if rng.random() < 0.5:
                image, label = image[:, ::-1], label[:, ::-1]
            x = image.astype(np.float32) / MAX_VALUE - 0.5
            xs.append(np.repeat(x[..., None], 3, axis=-1))
            ys.append(label.astype(np.int32))
        yield np.stack(xs), np.stack(ys)


def measure(size: int, images, labels, repeats: int, settings: dict) -> dict:
    from mammoseg.data.augment import elastic_params_for
    from mammoseg.data.pipeline import CropPipelineConfig, crop_dataset
    from mammoseg.data.sampling import LabelIndex

    batch = settings["batch"]
    cfg = CropPipelineConfig(crop_size=size, batch_size=batch, max_value=MAX_VALUE, sampler="class_balanced",
                             elastic_p=1.0, flip_p=0.5, contrast_p=0.0, rgb=True, seed=0)
    dataset = crop_dataset(images, labels, cfg)
    indexes = [LabelIndex(label) for label in labels]
    reference = numpy_batches(images, labels, indexes, size, batch, np.random.default_rng(0),
                              elastic_params_for(size))

    def ours():
        iterator = iter(dataset)
        for _ in range(settings["ours"]):
            x, y = next(iterator)
        x.numpy(), y.numpy()
        del iterator  # stops its background threads before the reference is timed

    def numpy_loop():
        for _ in range(settings["reference"]):
            next(reference)

    ours()  # warm-up: tracing, XLA compile
    numpy_loop()
    walls = {"ours": [], "reference": []}
    cpus = {"ours": [], "reference": []}
    for _ in range(repeats):
        for name, fn in (("ours", ours), ("reference", numpy_loop)):
            wall, cpu = timed(fn)
            walls[name].append(settings[name] / wall)
            cpus[name].append(cpu / settings[name])
    return {"batch": batch, "rates": walls, "median": {k: statistics.median(v) for k, v in walls.items()},
            "cpu_per_batch": {k: statistics.median(v) for k, v in cpus.items()}}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=sorted(SETTINGS), choices=sorted(SETTINGS))
    add_protocol_options(parser, RECORD)
    parser.add_argument("--images", type=int, default=6, help="synthetic mammograms to crop from")
    args = parse_protocol_args(parser, argv)

    images, labels = test_images(args.images)
    results = {size: measure(size, images, labels, args.repeats, SETTINGS[size]) for size in args.sizes}
    lines = machine_lines() + [
        f"- input: {args.images} synthetic mammograms {IMAGE_SHAPE[0]}x{IMAGE_SHAPE[1]} (uint16, MAMMO13 labels); "
        f"class-balanced centres, elastic on every crop (`elastic_params_for(size)`), flip p=0.5, gray -> RGB; "
        f"ours = tf.data on all cores (fresh iterator per round), reference = single-threaded numpy loop"]
    summary = []
    for size, r in results.items():
        ratio = r["median"]["ours"] / r["median"]["reference"]
        lines += [
            f"- {size}x{size}, batch {r['batch']}: ours median {r['median']['ours']:.2f} batches/s "
            f"(runs: {runs(r['rates']['ours'])}), reference {r['median']['reference']:.2f} batches/s "
            f"(runs: {runs(r['rates']['reference'])}); CPU-s per batch {r['cpu_per_batch']['ours']:.3f} vs "
            f"{r['cpu_per_batch']['reference']:.3f}; ratio {ratio:.2f}x (target >= 5x: "
            f"{'met' if ratio >= 5 else 'NOT met'})"]
        summary.append(f"RESULT crop_pipeline_{size} ratio={ratio:.2f} ({r['median']['ours']:.2f} vs "
                       f"{r['median']['reference']:.2f}, batches/s)")
    title = "Crop pipeline throughput (" + ", ".join(f"{s}x{s}" for s in results) + ")"
    return publish(lines, lambda body: record(title, body), not args.no_record, summary)


if __name__ == "__main__":
    sys.exit(main())
