"""`mammoseg-prep`: build each thesis' training set on disk, inspect it, export it for nnU-Net.

    mammoseg-prep synth-kthseg --root data/kthseg --cases 24      (also synth-mass, synth-ddsm, synth-ct,
                                                                  synth-cityscapes for the other layouts)
    mammoseg-prep merge  --root data/kthseg [--sigma 2]
    mammoseg-prep crops  --root data/kthseg --out crops256_train.h5 --size 256 --per-image 50 --split train
    mammoseg-prep kth-cls   --root data/ddsm --out kthcls128.h5
    mammoseg-prep oulu-mass --root data/inbreast --out data/inbreast512
    mammoseg-prep pig-ct    --root data/pigct --out pigct_train.h5 --split train [--blocks-per-scan 100]
    mammoseg-prep inspect --store crops256_train.h5 [--store crops256_val.h5 ...]
    mammoseg-prep inspect --root data/kthseg [--dataset kth-seg|cityscapes|oulu-mass|pig-ct]
    mammoseg-prep export-nnunet --dataset kth-seg --root data/kthseg --out nnUNet_raw --id 501
    mammoseg-prep import --images imgs/ --masks masks/ --classes background=0,mass=255 --out data/Dataset501_Mass
    mammoseg-prep import --class-masks data/tissue --labels tissue4.json --out data/Dataset502_Tissue

Errors in the data or options print one line `mammoseg-prep: error: ...` and exit with status 2.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from mammoseg.errors import ConfigError, MammosegError

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

    cases = merge_dataset(args.root, sigma=args.sigma, label_set=args.labels, progress=not args.quiet)
    print(f"merged {len(cases)} cases under {args.root} (sigma {args.sigma})")


def _cmd_crops(args) -> None:
    from mammoseg.data.augment import ElasticParams, elastic_params_for

    from .crops import build_crops

    elastic = elastic_params_for(args.size)
    if args.elastic_alpha is not None or args.elastic_sigma is not None:
        elastic = ElasticParams(alpha=elastic.alpha if args.elastic_alpha is None else args.elastic_alpha,
                                sigma=elastic.sigma if args.elastic_sigma is None else args.elastic_sigma)
    out = build_crops(args.root, args.out, crop_size=args.size, crops_per_image=args.per_image, split=args.split,
                      seed=args.seed, elastic_p=args.elastic_p, progress=not args.quiet, elastic=elastic,
                      layout=args.layout, label_set=args.labels)
    print(f"wrote {out}")


def _cmd_synth(args) -> None:
    from mammoseg.data.synthetic import SYNTHETIC_MERGE_SIGMA, make_kthseg_dataset

    from .crops import write_merge_record

    root = make_kthseg_dataset(args.root, n_cases=args.cases, image_size=tuple(args.size), seed=args.seed,
                               merge=True, sigma=SYNTHETIC_MERGE_SIGMA)
    write_merge_record(root, SYNTHETIC_MERGE_SIGMA)
    print(f"wrote synthetic kth-seg dataset to {root}")


def _synth_runner(module: str, function: str, kind: str, options):
    """A `synth-*` command: the generator `module.function(root, seed=..., **options(args))`."""
    def run(args) -> None:
        make = getattr(importlib.import_module(module), function)
        root = make(args.root, seed=args.seed, **options(args))
        print(f"wrote synthetic {kind} dataset to {root}")
    return run


_SYNTH_COMMANDS = {  # command: (module, function, dataset kind, options from args, help)
    "synth-mass": ("mammoseg.data.synthetic_mass", "make_mass_dataset", "oulu-mass",
                   lambda a: {"n_cases": a.cases, "size": tuple(a.size), "fmt": a.format},
                   "write a small synthetic dataset in the oulu-mass / INbreast-like layout"),
    "synth-ddsm": ("mammoseg.data.synthetic_ddsm", "make_ddsm_like", "kth-cls",
                   lambda a: {"n_per_class": a.per_class, "size": tuple(a.size)},
                   "write a small synthetic dataset in the kth-cls (DDSM-like) layout"),
    "synth-ct": ("mammoseg.data.synthetic_ct", "make_ct_dataset", "pig-ct",
                 lambda a: {"n_scans": a.scans, "shape": tuple(a.shape), "fmt": a.format},
                 "write a small synthetic dataset in the pig-ct layout"),
    "synth-cityscapes": ("mammoseg.data.synthetic_cityscapes", "make_cityscapes_like", "Cityscapes",
                         lambda a: {"n_per_split": {"train": a.train, "val": a.val}, "size": tuple(a.size)},
                         "write a small synthetic dataset in the official Cityscapes layout"),
}


def _add_synth_commands(sub) -> None:
    parsers = {}
    for command, (module, function, kind, options, help_text) in _SYNTH_COMMANDS.items():
        parser = sub.add_parser(command, help=help_text)
        parser.add_argument("--root", required=True, type=Path)
        parser.add_argument("--seed", type=int, default=0)
        parser.set_defaults(run=_synth_runner(module, function, kind, options))
        parsers[command] = parser
    size = {"type": _positive_int, "nargs": 2, "metavar": ("H", "W")}
    parsers["synth-mass"].add_argument("--cases", type=_positive_int, default=16)
    parsers["synth-mass"].add_argument("--size", default=(256, 192), **size)
    parsers["synth-mass"].add_argument("--format", choices=("dcm", "png"), default="dcm")
    parsers["synth-ddsm"].add_argument("--per-class", type=_positive_int, default=8)
    parsers["synth-ddsm"].add_argument("--size", default=(256, 256), **size)
    parsers["synth-ct"].add_argument("--scans", type=_positive_int, default=3)
    parsers["synth-ct"].add_argument("--shape", type=_positive_int, nargs=3, metavar=("Z", "Y", "X"),
                                     default=(48, 64, 64))
    parsers["synth-ct"].add_argument("--format", choices=("npy", "dicom"), default="npy")
    parsers["synth-cityscapes"].add_argument("--train", type=int, default=8, help="images in train")
    parsers["synth-cityscapes"].add_argument("--val", type=int, default=4, help="images in val")
    parsers["synth-cityscapes"].add_argument("--size", default=(128, 256), **size)


def format_inspection(*store_paths: str | Path) -> str:
    """Crop count and % of pixels per class of one or more crop stores, one column each (thesis Table 4.2)."""
    from mammoseg.io.store import read_crop_store

    from .crops import class_pixel_percentages
    from .tables import format_percentage_table

    lines, columns = [], {}
    for path in store_paths:
        store = read_crop_store(path, arrays=False)
        split = store.attrs.get("split", "?")
        n_elastic = int(store.manifest["elastic"].sum())
        n_fallback = int((store.manifest["chosen_id"] < 0).sum())
        lines.append(f"store: {path}   crop size: {store.crop_size}   split: {split}   label set: "
                     f"{store.attrs.get('label_set')}   elastic: {n_elastic}   uniform-centre fallbacks: {n_fallback}")
        title = f"{store.crop_size} {split}"
        while title in columns:  # two stores of the same size and split: keep both columns
            title += "'"
        columns[title] = (len(store), class_pixel_percentages(path))
    return "\n".join(lines + [format_percentage_table(columns, "# Crops")])


def _cmd_inspect(args) -> None:
    if bool(args.store) == bool(args.root):
        raise ConfigError("inspect needs either --store (one or more crop stores) or --root (a dataset)")
    if args.store and args.labels:
        raise ConfigError("a crop store records its label set; --labels applies to --root")
    if args.store:
        print(format_inspection(*args.store))
        return
    from .tables import COUNT_LABELS, dataset_percentages, format_percentage_table

    columns = dataset_percentages(args.dataset, args.root, progress_bar=not args.quiet, label_set=args.labels)
    print(f"dataset: {args.root} ({args.dataset}), % of pixels per class over full label maps")
    print(format_percentage_table(columns, COUNT_LABELS[args.dataset]))


def _cmd_kth_cls(args) -> None:
    from mammoseg.data.preprocess import ClaheParams, KthClsParams

    from .classification import build_classification_set

    params = KthClsParams(crop_mode=args.crop, work_size=args.work_size, out_size=args.size,
                          clahe=ClaheParams(args.clip_limit, tuple(args.tiles), args.bins))
    report = build_classification_set(args.root, args.out, params, test_fraction=args.test_fraction,
                                      seed=args.seed, progress_bar=not args.quiet)
    kept = ", ".join(f"{split}/{name} {n}" for (split, name), n in sorted(report.counts.items()))
    print(f"wrote {report.path}: {kept}; dropped {len(report.dropped)} (ROI cut away by the square crop)")


def _cmd_oulu_mass(args) -> None:
    from .mass import MassPrepParams, build_mass_set

    params = MassPrepParams(size=args.size, breast_crop=not args.no_breast_crop, margin=args.margin,
                            remove_background=args.remove_background)
    manifest = build_mass_set(args.root, args.out, params, overwrite=args.overwrite, progress_bar=not args.quiet)
    print(f"wrote {len(manifest)} images of {args.size}x{args.size} to {args.out}")


def _cmd_pig_ct(args) -> None:
    from .slices import build_slice_store

    report = build_slice_store(args.root, args.out, args.split, planes=args.planes, pad_multiple=args.pad_multiple,
                               blocks_per_scan=args.blocks_per_scan, block_size=args.block_size, seed=args.seed,
                               pad_hu=args.pad_hu, progress_bar=not args.quiet)
    slices = ", ".join(f"{plane} {n}" for plane, n in report.n_slices.items())
    print(f"wrote {report.path}: {report.n_scans} scans, slices: {slices}, blocks: {report.n_blocks}")


def _cmd_export_nnunet(args) -> None:
    from .nnunet import export_nnunet

    target = export_nnunet(args.dataset, args.root, args.out, args.id, args.name, overwrite=args.overwrite,
                           progress_bar=not args.quiet, label_set=args.labels)
    print(f"wrote {target}")
    if (target / "splits_final.json").is_file():
        print(f"copy {target / 'splits_final.json'} to $nnUNet_preprocessed/{target.name}/ after "
              f"nnUNetv2_plan_and_preprocess, then train fold 0 to use our train/val split")


def _import_label_set(args):
    """Per-class masks: --labels, else --classes (names, id order), else the root's own declaration."""
    from mammoseg.data.importer import label_set_of, parse_class_spec, with_priority
    from mammoseg.io.annotations import dataset_label_set

    if args.labels is not None and args.classes is not None:
        raise ConfigError("give the classes once: --labels (a label set) or --classes (names in id order)")
    if args.classes is not None:
        classes = parse_class_spec(args.classes)
        if any(v is not None for v in classes.values()):
            raise ConfigError("per-class masks are named by class: --classes takes names only "
                              "(background,adipose,...), no mask values")
        label_set = label_set_of(classes, name=args.out.name)
    else:
        label_set = dataset_label_set(args.class_masks, args.labels)
    return with_priority(label_set, [p.strip() for p in (args.priority or "").split(",") if p.strip()])


def _cmd_import(args) -> None:
    from mammoseg.data.importer import import_class_masks, import_folders

    common = {"splits": args.splits, "skip_unlabelled": args.skip_unlabelled, "channel_name": args.channel_name,
              "overwrite": args.overwrite, "progress": not args.quiet}
    if args.class_masks is not None:
        if args.images or args.masks or args.mask_suffix:
            raise ConfigError("--class-masks reads <root>/<case>/image.* + masks/<class>.png; "
                              "--images/--masks/--mask-suffix are for value-coded masks")
        report = import_class_masks(args.class_masks, args.out, _import_label_set(args), sigma=args.sigma, **common)
    else:
        if args.images is None or args.masks is None:
            raise ConfigError("import needs --images DIR and --masks DIR, or --class-masks ROOT")
        if args.classes is None:
            raise ConfigError("value-coded masks need --classes background=0,mass=255 (or a JSON file "
                              '{"background": 0, "mass": 255}): which mask value is which class')
        if args.labels is not None or args.priority or args.sigma:
            raise ConfigError("--labels, --priority and --sigma are for per-class masks (--class-masks)")
        report = import_folders(args.images, args.masks, args.out, args.classes, mask_suffix=args.mask_suffix or "",
                                **common)
    counts = ", ".join(f"{split} {n}" for split, n in report.counts.items() if n)
    print(f"wrote {report.path}: {counts}")
    if report.skipped:
        print(f"skipped {len(report.skipped)} image(s) without a mask: "
              + ", ".join(p.name for p in report.skipped[:10]) + (" ..." if len(report.skipped) > 10 else ""))
    if report.dicom:
        print(f"{report.dicom} DICOM image(s) decoded as displayed and written as 16-bit PNG")


def _add_import(sub) -> None:
    parser = sub.add_parser("import", help="images + masks folders (or per-class binary masks) -> the nnU-Net v2 "
                                           "raw layout that `mammoseg train` reads")
    parser.add_argument("--out", required=True, type=Path,
                        help="dataset folder to write (e.g. nnUNet_raw/Dataset501_Mass); appears whole or not at all")
    parser.add_argument("--images", type=Path, help="folder of images <stem>.{png,tif,tiff,pgm,dcm} (8/16-bit)")
    parser.add_argument("--masks", type=Path, help="folder of value-coded masks <stem><suffix>.png")
    parser.add_argument("--mask-suffix", help="mask file stem = image stem + this (e.g. _mask); default none")
    parser.add_argument("--classes", help="class table in id order: background=0,mass=255 or a JSON file "
                                          '{"background": 0, "mass": 255} (mask value per class); with '
                                          "--class-masks: class names only, background first")
    parser.add_argument("--class-masks", type=Path, metavar="ROOT",
                        help="per-class binary masks in the kth-seg layout: ROOT/<case>/image.* + "
                             "ROOT/<case>/masks/<class>.png (splits from ROOT/splits.csv when present)")
    parser.add_argument("--labels", help="with --class-masks: label set NAME or FILE.json (default: "
                                         "ROOT/labels.json)")
    parser.add_argument("--priority", help="with --class-masks: classes from the one painted on top, comma "
                                           "separated (default: the label set's; none: overlaps are an error)")
    parser.add_argument("--sigma", type=float, default=0.0,
                        help="with --class-masks: Gaussian smoothing of the label set's smoothed classes (default 0)")
    parser.add_argument("--splits", type=Path, help="CSV with columns case (or id) and split (train/val/test): "
                                                    "test -> imagesTs, val -> splits_final.json; default all train")
    parser.add_argument("--skip-unlabelled", action="store_true", help="leave out images that have no mask")
    parser.add_argument("--channel-name", default="mammogram", help="dataset.json channel name (default mammogram)")
    parser.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    _add_quiet(parser)
    parser.set_defaults(run=_cmd_import)


def _add_quiet(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def _add_builder(sub, command: str, help_text: str, run, root_help: str, out_help: str) -> argparse.ArgumentParser:
    """A subcommand that reads a dataset (--root) and writes a store or a folder (--out), with a progress bar."""
    parser = sub.add_parser(command, help=help_text)
    parser.add_argument("--root", required=True, type=Path, help=root_help)
    parser.add_argument("--out", required=True, type=Path, help=out_help)
    _add_quiet(parser)
    parser.set_defaults(run=run)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Build each thesis' training set on disk, inspect it, "
                                                            "export it for nnU-Net.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    from mammoseg.io.annotations import DEFAULT_MERGE_SIGMA

    from .kinds import EXPORT_KINDS, TABLE_KINDS

    merge = sub.add_parser("merge", help="merge every case's binary masks into label.png")
    merge.add_argument("--root", required=True, type=Path, help="dataset root (holds splits.csv)")
    merge.add_argument("--sigma", type=float, default=DEFAULT_MERGE_SIGMA,
                       help=f"Gaussian smoothing of the smoothed classes, pixels (default {DEFAULT_MERGE_SIGMA})")
    merge.set_defaults(run=_cmd_merge)

    crops = _add_builder(sub, "crops", "build a class-balanced crop store (thesis Table 4.2)", _cmd_crops,
                         "merged dataset root", "output .h5 file")
    crops.add_argument("--size", required=True, type=_positive_int, help="crop size (thesis: 256, 700, 900, 1500)")
    crops.add_argument("--per-image", required=True, type=_positive_int, help="crops per image")
    crops.add_argument("--split", required=True, choices=("train", "val"))
    crops.add_argument("--seed", type=int, default=0)
    crops.add_argument("--elastic-p", type=_probability, default=0.25, help="elastic probability (thesis: 0.25)")
    crops.add_argument("--elastic-alpha", type=float, help="override the size-scaled default alpha")
    crops.add_argument("--elastic-sigma", type=float, help="override the size-scaled default sigma (pixels)")
    crops.add_argument("--layout", choices=("contiguous", "chunked"), default="contiguous",
                       help="contiguous (default): uncompressed, streamed by memory map in training; chunked: gzip, "
                            "smaller on disk, read through h5py (slower)")

    synth = sub.add_parser("synth-kthseg", help="write a small synthetic dataset in the kth-seg layout")
    synth.add_argument("--root", required=True, type=Path)
    synth.add_argument("--cases", type=_positive_int, default=24)
    synth.add_argument("--size", type=_positive_int, nargs=2, metavar=("H", "W"), default=(384, 320))
    synth.add_argument("--seed", type=int, default=0)
    synth.set_defaults(run=_cmd_synth)

    _add_synth_commands(sub)

    inspect = sub.add_parser("inspect", help="%% of pixels per class of crop stores or of a dataset's splits "
                                             "(thesis Tables 4.1-4.3)")
    inspect.add_argument("--store", type=Path, action="append", help="a crop store (repeat for more columns)")
    inspect.add_argument("--root", type=Path, help="a dataset root: one column per split, full label maps")
    inspect.add_argument("--dataset", choices=TABLE_KINDS, default="kth-seg", help="layout of --root")
    inspect.set_defaults(run=_cmd_inspect)

    kth_cls = _add_builder(sub, "kth-cls", "build the kth-cls classification set (square crop, 1024, CLAHE, 128)",
                           _cmd_kth_cls, "images/, labels.csv (id, class[, split]), rois/", "output .h5 file")
    kth_cls.add_argument("--size", type=_positive_int, default=128, help="model input size (thesis: 128)")
    kth_cls.add_argument("--work-size", type=_positive_int, default=1024, help="resize before CLAHE (thesis: 1024)")
    kth_cls.add_argument("--crop", choices=("mass", "centre"), default="mass",
                         help="square crop centred on the intensity centre of mass (default) or the image centre")
    kth_cls.add_argument("--clip-limit", type=float, default=0.02, help="CLAHE clip limit, skimage units (0.02)")
    kth_cls.add_argument("--tiles", type=_positive_int, nargs=2, default=(8, 8), metavar=("ROWS", "COLS"),
                         help="CLAHE contextual regions (8 8)")
    kth_cls.add_argument("--bins", type=_positive_int, default=256, help="CLAHE histogram bins (256)")
    kth_cls.add_argument("--test-fraction", type=_probability, default=0.2,
                         help="per-class test share when labels.csv has no split column (0.2)")
    kth_cls.add_argument("--seed", type=int, default=0)

    mass = _add_builder(sub, "oulu-mass", "crop to the breast and fit to 512x512 16-bit PNG (oulu-mass layout)",
                        _cmd_oulu_mass, "images/, masks/, meta.csv", "output dataset folder")
    mass.add_argument("--size", type=_positive_int, default=512, help="square side (thesis: 512)")
    mass.add_argument("--margin", type=float, default=0.02, help="breast-box margin, share of the image size")
    mass.add_argument("--no-breast-crop", action="store_true", help="resize the whole image")
    mass.add_argument("--remove-background", action="store_true", help="blank everything outside the breast")
    mass.add_argument("--overwrite", action="store_true", help="replace --out if it exists")

    pig = _add_builder(sub, "pig-ct", "three-plane slice store (padded to 64) and optional random 96^3 blocks",
                       _cmd_pig_ct, "<scan>/volume.npy|ct/, <scan>/label.npy, splits.csv", "output .h5 file")
    pig.add_argument("--split", required=True, choices=("train", "val", "test"))
    pig.add_argument("--planes", nargs="+", help="any of transverse, sagittal, coronal (default: all three)")
    pig.add_argument("--pad-multiple", type=_positive_int, default=64, help="pad slices to a multiple (thesis: 64)")
    pig.add_argument("--pad-hu", type=float, default=-1000.0,
                     help="padding value in HU (default air, which the HU window maps to 0; 0 = raw-HU zeros)")
    pig.add_argument("--blocks-per-scan", type=int, default=0,
                     help="random training blocks per scan (thesis: 100 = 50 steps x 2); 0 = none")
    pig.add_argument("--block-size", type=_positive_int, default=96, help="block side (thesis: 96)")
    pig.add_argument("--seed", type=int, default=0)

    export = _add_builder(sub, "export-nnunet", "write the dataset and our split in nnU-Net v2's raw format",
                          _cmd_export_nnunet, "dataset root in its mammoseg layout", "nnUNet_raw folder")
    export.add_argument("--dataset", required=True, choices=EXPORT_KINDS)
    export.add_argument("--id", required=True, type=int, help="nnU-Net dataset id, 1..999 (custom: from 500)")
    export.add_argument("--name", help="dataset name (default: KthSeg, OuluMass, Cityscapes, PigCT)")
    export.add_argument("--overwrite", action="store_true", help="replace an existing Dataset<ID>_<Name>")

    _add_import(sub)

    for command in (merge, inspect):
        _add_quiet(command)
    for command in (merge, crops, inspect, export):
        command.add_argument("--labels", metavar="NAME|FILE.json",
                             help="label set of the dataset's label maps (default: kth-seg ROOT/labels.json, "
                                  "nnunet ROOT/dataset.json; merge: else mammo13, the mask file names are checked "
                                  "against it)")
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
