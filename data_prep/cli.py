"""`mammoseg-prep`: prepare the `kth-seg` mammography data (merge masks, build crop stores, inspect them).

    mammoseg-prep synth-kthseg --root data/kthseg --cases 24
    mammoseg-prep merge  --root data/kthseg [--sigma 2]
    mammoseg-prep crops  --root data/kthseg --out crops256_train.h5 --size 256 --per-image 50 --split train
    mammoseg-prep inspect --store crops256_train.h5

Errors in the data or options print one line `mammoseg-prep: error: ...` and exit with status 2.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mammoseg.errors import MammosegError

PROG = "mammoseg-prep"


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _probability(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {text}")
    return value


def _cmd_merge(args) -> None:
    from .crops import merge_dataset

    cases = merge_dataset(args.root, sigma=args.sigma, progress=not args.quiet)
    print(f"merged {len(cases)} cases under {args.root} (sigma {args.sigma})")


def _cmd_crops(args) -> None:
    from mammoseg.data.augment import ElasticParams, elastic_params_for

    from .crops import build_crops

    elastic = elastic_params_for(args.size)
    if args.elastic_alpha is not None or args.elastic_sigma is not None:
        elastic = ElasticParams(alpha=elastic.alpha if args.elastic_alpha is None else args.elastic_alpha,
                                sigma=elastic.sigma if args.elastic_sigma is None else args.elastic_sigma)
    out = build_crops(args.root, args.out, crop_size=args.size, crops_per_image=args.per_image, split=args.split,
                      seed=args.seed, elastic_p=args.elastic_p, progress=not args.quiet, elastic=elastic)
    print(f"wrote {out}")


def _cmd_synth(args) -> None:
    from mammoseg.data.synthetic import SYNTHETIC_MERGE_SIGMA, make_kthseg_dataset

    from .crops import write_merge_record

    root = make_kthseg_dataset(args.root, n_cases=args.cases, image_size=tuple(args.size), seed=args.seed,
                               merge=True, sigma=SYNTHETIC_MERGE_SIGMA)
    write_merge_record(root, SYNTHETIC_MERGE_SIGMA)
    print(f"wrote synthetic kth-seg dataset to {root}")


def format_inspection(store_path: str | Path) -> str:
    """Crop count, crop size and the per-class pixel shares of one store, laid out like thesis Table 4.2."""
    from mammoseg.io.store import read_crop_store

    from .crops import class_pixel_percentages

    store = read_crop_store(store_path, arrays=False)
    percentages = class_pixel_percentages(store_path)
    n_elastic = int(store.manifest["elastic"].sum())
    n_fallback = int((store.manifest["chosen_id"] < 0).sum())
    split = store.attrs.get("split", "?")
    width = max(len(name) for name in percentages.index)
    lines = [f"store: {store_path}",
             f"crop size: {store.crop_size} pixels   split: {split}   label set: {store.attrs.get('label_set')}",
             f"{'# Crops':<{width}}  {len(store)}",
             f"{'elastic':<{width}}  {n_elastic}   uniform-centre fallbacks: {n_fallback}",
             f"{'class':<{width}}  % of pixels"]
    lines += [f"{name.replace('_', ' '):<{width}}  {value:6.2f}%" for name, value in percentages.items()]
    return "\n".join(lines)


def _cmd_inspect(args) -> None:
    print(format_inspection(args.store))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Prepare kth-seg mammography data and crop stores.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    from mammoseg.io.annotations import DEFAULT_MERGE_SIGMA

    merge = sub.add_parser("merge", help="merge every case's binary masks into label.png")
    merge.add_argument("--root", required=True, type=Path, help="dataset root (holds splits.csv)")
    merge.add_argument("--sigma", type=float, default=DEFAULT_MERGE_SIGMA,
                       help=f"Gaussian smoothing of the smoothed classes, pixels (default {DEFAULT_MERGE_SIGMA})")
    merge.set_defaults(run=_cmd_merge)

    crops = sub.add_parser("crops", help="build a class-balanced crop store (thesis Table 4.2)")
    crops.add_argument("--root", required=True, type=Path, help="merged dataset root")
    crops.add_argument("--out", required=True, type=Path, help="output .h5 file")
    crops.add_argument("--size", required=True, type=_positive_int, help="crop size (thesis: 256, 700, 900, 1500)")
    crops.add_argument("--per-image", required=True, type=_positive_int, help="crops per image")
    crops.add_argument("--split", required=True, choices=("train", "val"))
    crops.add_argument("--seed", type=int, default=0)
    crops.add_argument("--elastic-p", type=_probability, default=0.25, help="elastic probability (thesis: 0.25)")
    crops.add_argument("--elastic-alpha", type=float, help="override the size-scaled default alpha")
    crops.add_argument("--elastic-sigma", type=float, help="override the size-scaled default sigma (pixels)")
    crops.set_defaults(run=_cmd_crops)

    synth = sub.add_parser("synth-kthseg", help="write a small synthetic dataset in the kth-seg layout")
    synth.add_argument("--root", required=True, type=Path)
    synth.add_argument("--cases", type=_positive_int, default=24)
    synth.add_argument("--size", type=_positive_int, nargs=2, metavar=("H", "W"), default=(384, 320))
    synth.add_argument("--seed", type=int, default=0)
    synth.set_defaults(run=_cmd_synth)

    inspect = sub.add_parser("inspect", help="crop count and %% of pixels per class of a store")
    inspect.add_argument("--store", required=True, type=Path)
    inspect.set_defaults(run=_cmd_inspect)

    for command in (merge, crops):
        command.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except MammosegError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
