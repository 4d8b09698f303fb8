"""`mammoseg` command line: demo | models | predict (more subcommands arrive with the experiments)."""
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


def _cmd_predict(args) -> int:
    from pathlib import Path

    from .errors import DataError
    from .evaluate.predict import (build_inference_model, label_set_for, load_inference_weights,
                                   parse_model_kwargs, predict_image_file)
    from .evaluate.sliding_window import _predictor

    missing = [p for p in args.images if not Path(p).is_file()]
    if missing:  # before the (slow) model build
        raise DataError(missing[0], "input image not found")
    model = build_inference_model(args.model, parse_model_kwargs(args.model_kwargs), args.tile)
    load_inference_weights(model, args.weights)
    label_set = label_set_for(int(model.output_shape[-1]), args.labels)
    predictor = _predictor(model, "auto")
    for image in args.images:
        written = predict_image_file(model, image, args.out, label_set=label_set, overlap=args.overlap,
                                     flip_tta=args.tta, batch_size=args.batch_size, max_value=args.max_value,
                                     threshold=args.threshold, predictor=predictor)
        names = ", ".join(label_set.names[i] if i < label_set.num_classes else str(i)
                          for i in written["classes_present"])
        print(f"{image}: {written['labels']} {written['overlay']} (classes: {names})", flush=True)
    return 0


def _add_predict_parser(sub) -> None:
    predict = sub.add_parser("predict", help="label map + overlay PNG of full images (sliding window)",
                             description="Run a trained network on full images (DICOM, PNG, TIFF, PGM) by "
                                         "sliding window; write <stem>_labels.png (uint8 class ids) and "
                                         "<stem>_overlay.png into --out.")
    predict.add_argument("images", nargs="+", help="input images (.dcm, .png, .tif, .pgm)")
    predict.add_argument("--model", default="unet", help="registered network name (see `mammoseg models`)")
    predict.add_argument("--weights", required=True, help="trained weights: .weights.h5, .keras or .npz")
    predict.add_argument("--model-kwargs", default=None,
                         help='builder arguments as JSON, e.g. \'{"base_filters": 16}\'')
    predict.add_argument("--tile", type=int, default=None, help="model input tile in pixels (default: the builder's)")
    predict.add_argument("--overlap", type=float, default=0.25, help="tile overlap fraction in [0, 1)")
    predict.add_argument("--tta", action="store_true", help="average with the horizontally flipped prediction")
    predict.add_argument("--batch-size", type=int, default=4, help="tiles per forward pass")
    predict.add_argument("--max-value", type=float, default=None,
                         help="intensity scale of training (default: smallest 2**k - 1 covering the image)")
    predict.add_argument("--threshold", type=float, default=0.5, help="probability threshold of 1-output models")
    predict.add_argument("--labels", default=None, help="label set for the overlay colours (default: by class count)")
    predict.add_argument("--out", default=".", help="output folder")
    predict.set_defaults(func=_cmd_predict)


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
    _add_predict_parser(sub)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except MammosegError as exc:
        print(f"mammoseg: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
