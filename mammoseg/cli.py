"""`mammoseg` command line: demo | models (more subcommands arrive with the experiments)."""
from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _cmd_demo(args) -> int:
    from .demo import DemoConfig, run_demo

    cfg = DemoConfig(out_root=args.out, seed=args.seed, progress=not args.no_progress)
    if args.quick:  # a smoke run for tests: tiny data, two epochs
        cfg.n_cases, cfg.image_size, cfg.crop_size, cfg.input_size = 6, (192, 160), 80, 64
        cfg.train_crops_per_image, cfg.val_crops_per_image, cfg.epochs = 8, 4, 2
        cfg.model = dict(cfg.model, base_filters=4, depth=2)
    if args.epochs:
        cfg.epochs = args.epochs
    result = run_demo(cfg)
    return 0 if result else 1


def _cmd_models(args) -> int:
    from .models.registry import describe_models

    rows = describe_models()
    width = max(len(r[0]) for r in rows)
    print(f"{'model':<{width}}  {'parameters':>12}  thesis table")
    for name, params, table in rows:
        print(f"{name:<{width}}  {params:>12,}  {table}")
    return 0


def main(argv=None) -> int:
    from .errors import MammosegError

    parser = argparse.ArgumentParser(prog="mammoseg", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="synthetic data -> crops -> U-Net -> full-image test table")
    demo.add_argument("--out", default="runs/demo", help="parent folder of the run directory")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--epochs", type=int, default=None)
    demo.add_argument("--quick", action="store_true", help="tiny smoke run (tests)")
    demo.add_argument("--no-progress", action="store_true")
    demo.set_defaults(func=_cmd_demo)
    models = sub.add_parser("models", help="list every registered network with its parameter count")
    models.set_defaults(func=_cmd_models)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except MammosegError as exc:
        print(f"mammoseg: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
