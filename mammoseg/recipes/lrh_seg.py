"""lrh-seg (seed 001) recipes: Table 9 (Cityscapes validation) and Table 10 (mammography validation), trained
with the options of Table 8.

lrh-seg's methods restate kth-seg's (spec lrh-seg §6: its architecture tables are kth-seg's, its two results tables
are kth-seg's Tables 5.1/5.2 with altered numbers), so the networks, sizes, crop datasets and the training /
evaluation machinery are kth-seg's (`mammoseg.recipes.kth_seg`, `mammoseg.recipes.segmentation`). What lrh-seg
states differently, and this module adds:

- Table 8's MATLAB-style options (SGDM, piecewise rate x0.3 every 10 epochs, initial rate 1e-4, L2 0.005, 100
  epochs, batch 64, validation patience 4) -> `table8_train_config`. §3.5 calls them the options "for models
  training", so every row uses them; the batch size is the one thing §3.5 leaves to each model, and lrh-seg
  itself gives DeepLab's (2, L1884-1890).
- The mammography task as lrh-seg states it: two classes, tumour vs non-tumour (L1974-1986); 100 subjects, each
  replicated ten times by offline augmentation (L2055-2072); a random 70/30 hold-out (L2142-2152) whose 30 % is the
  "validation dataset" of Table 10; crop datasets without kth-seg's elastic deformation (lrh-seg has none).

Choices where the thesis is silent: docs/reproduction/lrh-seg.md.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError
from ..labels import BINARY
from ..train.config import TrainConfig
from . import kth_seg
from .segmentation import (METRIC_KEYS, HyperParams, MammoCropData, Schedule, check_preset, optional_path,
                           read_data_record, train_and_evaluate_segmentation, write_data_record)

THESIS = "lrh-seg"
HEADERS = ("Pixel accuracy", "Mean IoU accuracy", "Mean per class accuracy")  # as Tables 9/10 print them

# ------------------------------------------------------------------------------------------------ Table 8
# "Experimental Parameters for Dilation 10" (L2181-2209), option names as printed (MATLAB trainingOptions).
TABLE8 = {
    "Optimizer": "SGDM",
    "Learn Rate Schedule": "Piecewise",
    "Learn Rate Drop Period": 10,
    "Learn Rate Drop Factor": 0.3,
    "Momentum": 0.9,
    "Initial Learn Rate": 0.0001,
    "L2 Regularization": 0.005,
    "Validation Data": "Yes",
    "Max Epochs": 100,
    "Mini Batch Size": 64,
    "Shuffle": "Every-epoch",
    "Verbose Frequency": 10,
    "Validation Patience": 4,
}
_FIXED_OPTIONS = {"Optimizer": "SGDM", "Learn Rate Schedule": "Piecewise", "Validation Data": "Yes",
                  "Shuffle": "Every-epoch"}


def table8_train_config(options: dict = TABLE8, **overrides) -> TrainConfig:
    """Table 8 as a TrainConfig; `overrides` replace fields afterwards.

    MATLAB semantics carried over: SGDM = SGD with momentum; "Piecewise" multiplies the rate by the drop factor
    every drop period (epochs); L2 regularisation adds factor/2 * |w|^2 on weights only (MATLAB's bias L2 factor
    is 0), which is the Trainer's wd * l2_loss on kernels; ValidationPatience counts validations whose loss is not
    below the best so far, one validation per epoch (§3.5: "at every epoch"). Shuffle "every-epoch" is the
    pipelines' per-epoch reshuffle; "Verbose Frequency" only sets how often MATLAB prints.
    """
    for key, value in _FIXED_OPTIONS.items():
        if options.get(key) != value:
            raise ConfigError(f"Table 8 option {key!r} = {options.get(key)!r} has no mapping here (expected "
                              f"{value!r})")
    config = TrainConfig(
        optimizer="sgd", momentum=float(options["Momentum"]), learning_rate=float(options["Initial Learn Rate"]),
        lr_schedule="step", lr_step_epochs=int(options["Learn Rate Drop Period"]),
        lr_factor=float(options["Learn Rate Drop Factor"]), weight_decay=float(options["L2 Regularization"]),
        weight_decay_on="kernels", epochs=int(options["Max Epochs"]), batch_size=int(options["Mini Batch Size"]),
        early_stopping=True, patience=int(options["Validation Patience"]), monitor="val_loss")
    return config.replace(**overrides) if overrides else config


def table8_schedule(options: dict = TABLE8, **overrides) -> Schedule:
    """The per-table part of Table 8 (epochs, momentum, drop rule) as the shared segmentation Schedule."""
    train = table8_train_config(options)
    values = dict(epochs=train.epochs, momentum=train.momentum, lr_schedule=train.lr_schedule,
                  lr_step_epochs=train.lr_step_epochs, lr_factor=train.lr_factor)
    values.update(overrides)
    return Schedule(**values)


# ------------------------------------------------------------------------------------------------ rows
# Tables 9/10 rows (Table 9 prints "CN32" for FCN32) -> the same network's kth-seg row. kth-seg's GCN is not in lrh.
KTH_ROW = {"FCN32": "FCN32", "FCN16": "FCN16", "FCN8": "FCN8", "U-Net": "U-Net",
           "Dilation10 - Front": "Dilation10 - Front", "Dilation10 - Context": "Dilation10 - Context",
           "Dilation10 - Global": "Dilation10 - Global", "DeepLab v3 + ResNet": "Deeplab"}
ROWS = tuple(KTH_ROW)
_LRH_ROW = {kth: lrh for lrh, kth in KTH_ROW.items()}
DEEPLAB = "DeepLab v3 + ResNet"
DEEPLAB_BATCH = 2  # "mini-batch of 2" because of memory (L1884-1890)
SMOKE_LEARNING_RATE = kth_seg.SMOKE_LEARNING_RATE  # 1e-4 barely moves 1/16-width models in a few steps


def row_models(scale: str) -> dict:
    """row -> kth_seg.ModelSetup (builder, input, crop dataset, init chain) with Table 8's patience."""
    source = kth_seg.FULL_MODELS if scale == "full" else kth_seg.SMOKE_MODELS
    patience = int(TABLE8["Validation Patience"])
    return {row: replace(source[kth], patience=patience,
                         init_from=_LRH_ROW[source[kth].init_from] if source[kth].init_from else None)
            for row, kth in KTH_ROW.items()}


def row_hparams(row: str, options: dict = TABLE8) -> HyperParams:
    """Table 8's rate and L2 for every row; batch 64 (Table 8) except DeepLab's 2 (L1884-1890); dropout unstated in
    lrh-seg, so kth-seg's keep probability (U-Net 0.75, none elsewhere)."""
    return HyperParams(learning_rate=float(options["Initial Learn Rate"]),
                       weight_decay=float(options["L2 Regularization"]),
                       keep_prob=kth_seg.TABLE_4_13[KTH_ROW[row]].keep_prob,
                       batch_size=DEEPLAB_BATCH if row == DEEPLAB else int(options["Mini Batch Size"]))


# ------------------------------------------------------------------------------------------------ configs
SUBJECTS_ONLY = (1.0, 0.0, 0.0)  # phantoms are written as one pool; lrh-seg's 70/30 split is made afterwards
TABLES = {"9": ("Results on the validation dataset (Cityscapes)", "cityscapes"),
          "10": ("Results on the validation dataset (mammography, tumour vs non-tumour)", "mammography")}


@dataclass
class LrhSegConfig:
    table: str  # "9" | "10"
    scale: str
    data_root: str | None
    seed: int
    dataset: str  # cityscapes | mammography
    rows: tuple
    models: dict  # row -> kth_seg.ModelSetup
    hparams: dict  # row -> HyperParams
    schedule: Schedule
    synthetic: kth_seg.SyntheticSetup  # stand-ins without --data-root: subjects (L1962-1970: 100), scenes
    table8: dict = field(default_factory=lambda: dict(TABLE8))
    eval_overlap: float = 0.25
    replicas: int = 10  # "replicated ten times" (L1966-1968)
    val_fraction: float = 0.3  # 70/30 hold-out (L2146-2152)
    crops_per_image: int = 10
    from_run: str | None = None
    vgg16_weights: str | None = None
    resnet18_weights: str | None = None

    def __post_init__(self):
        if not 0 < self.val_fraction < 1:
            raise ConfigError(f"val_fraction must be in (0, 1), got {self.val_fraction}")
        missing = [r for r in self.rows if r not in self.models or r not in self.hparams]
        if missing:
            raise ConfigError(f"rows without a model or hyper-parameters: {missing}")


def build_config(table: str, scale: str = "smoke", data_root=None, seed: int = 0, from_run=None,
                 vgg16_weights=None, resnet18_weights=None) -> LrhSegConfig:
    """Table "9" or "10" at `scale`: full = the thesis' values, smoke = minutes on a CPU."""
    check_preset(THESIS, table, TABLES, scale)
    full = scale == "full"
    hparams = {row: row_hparams(row) for row in ROWS}
    if full:
        schedule = table8_schedule(seed=seed)
        synthetic = kth_seg.SyntheticSetup(100, (2048, 1664), SUBJECTS_ONLY, {"train": 2975, "val": 500}, (1024, 2048))
        mammo = dict(replicas=10, crops_per_image=10)
    else:
        hparams = {row: replace(hp, learning_rate=SMOKE_LEARNING_RATE) for row, hp in hparams.items()}
        schedule = table8_schedule(epochs=1, steps_per_epoch=3, batch_cap=4, progress=False, tensorboard=False,
                                   seed=seed)
        synthetic = kth_seg.SyntheticSetup(10, (256, 208), SUBJECTS_ONLY, {"train": 4, "val": 2}, (128, 256))
        mammo = dict(replicas=10, crops_per_image=2)
    return LrhSegConfig(table=table, scale=scale, data_root=optional_path(data_root),
                        seed=seed, dataset=TABLES[table][1], rows=ROWS, models=row_models(scale), hparams=hparams,
                        schedule=schedule, synthetic=synthetic, from_run=optional_path(from_run),
                        vgg16_weights=optional_path(vgg16_weights), resnet18_weights=optional_path(resnet18_weights),
                        **mammo)


# ------------------------------------------------------------------------------------------------ mammography data
# Offline replication, ten images per subject (L2057-2064: "rotation, smoothing, mirror effect, sharpening, noise
# addition, contrast enhancement, etc."). No parameters are given; ours are mild, so every copy stays a
# plausible mammogram. Copy 0 is the original.
REPLICA_TECHNIQUES = ("original", "mirror", "rotate_ccw", "rotate_cw", "smooth", "sharpen", "noise", "contrast",
                      "mirror+rotate_cw", "mirror+contrast")  # "+" chains steps
ROTATION_DEGREES = (5.0, 15.0)  # |angle| drawn uniformly per copy
SMOOTHING_SIGMA = 1.0  # px, Gaussian
SHARPEN_AMOUNT = 1.0  # unsharp mask x + amount * (x - gaussian(x, SMOOTHING_SIGMA))
NOISE_STD = 0.01  # Gaussian noise, fraction of the intensity range
CONTRAST_FACTOR = (1.1, 1.3)  # stretch about the mean ("enhancement")


def read_subject(case_dir: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(image, label) of one subject: label 1 = tumour, 0 = non-tumour (BINARY ids).

    Layout: the kth-seg case folder (`image.*`, `masks/<class>.png` exported from QuPath, L1980-1982). Only the
    tumour map is used; other anatomical maps may be present and are ignored; no tumour map = no tumour. The
    tumour map is Gaussian-smoothed as at kth-seg's merge (lrh-seg L1996-2012 lists it among the smoothed maps).
    """
    from ..io.annotations import DEFAULT_MERGE_SIGMA, MASKS_DIR, find_case_image, list_mask_files, smooth_mask
    from ..io.raster import read_image, read_mask
    from ..labels import MAMMO13

    case_dir = Path(case_dir)
    image_path = find_case_image(case_dir)
    image = read_image(image_path)
    if image.ndim != 2:
        raise DataError(image_path, f"expected a 2-D grayscale image, got shape {image.shape}")
    files = list_mask_files(case_dir, MAMMO13) if (case_dir / MASKS_DIR).is_dir() else {}
    tumour = np.zeros(image.shape, bool)
    if "tumor" in files:
        tumour = smooth_mask(read_mask(files["tumor"], expected_shape=image.shape), DEFAULT_MERGE_SIGMA)
    return image, tumour.astype(np.uint8) * np.uint8(BINARY.id("foreground"))


def list_subjects(root: str | Path) -> list[str]:
    """Subject folders under root (those holding an `image.*`), sorted; a splits.csv there is not used."""
    from ..io.annotations import IMAGE_STEM
    from ..io.raster import RASTER_SUFFIXES

    root = Path(root)
    if not root.is_dir():
        raise DataError(root, "dataset root not found")
    subjects = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")
                      and any((p / f"{IMAGE_STEM}{s}").is_file() for s in RASTER_SUFFIXES))
    if len(subjects) < 2:
        raise DataError(root, f"found {len(subjects)} subject folder(s) with an image.* file; the 70/30 hold-out "
                              f"needs at least 2")
    return subjects


def split_subjects(subjects, val_fraction: float = 0.3, seed: int = 0) -> dict[str, str]:
    """subject -> "train" | "val": a random hold-out by subject, so no subject's copies sit on both sides.

    The thesis splits "randomly" 70/30 (L2146-2152) without saying whether before or after replication;
    splitting after would put copies of one image in both sets.
    """
    subjects = list(subjects)
    if len(set(subjects)) != len(subjects):
        raise ConfigError("subject names must be unique")
    n_val = min(len(subjects) - 1, max(1, int(round(val_fraction * len(subjects)))))
    order = np.random.default_rng(np.random.SeedSequence([seed, 1])).permutation(len(subjects))
    val = {subjects[i] for i in order[:n_val]}
    return {s: ("val" if s in val else "train") for s in subjects}


def _rotate(image: np.ndarray, label: np.ndarray, degrees: float):
    import cv2

    h, w = label.shape
    matrix = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), degrees, 1.0)
    image = cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                           borderValue=0.0)
    label = cv2.warpAffine(label, matrix, (w, h), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT,
                           borderValue=0)
    return image, label


def _blur(image: np.ndarray, sigma: float) -> np.ndarray:
    import cv2

    return cv2.GaussianBlur(image, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)


def apply_technique(technique: str, image: np.ndarray, label: np.ndarray, rng: np.random.Generator,
                    max_value: float) -> tuple[np.ndarray, np.ndarray]:
    """One replication technique (or a '+'-joined sequence) on a float32 image and its label map."""
    for step in technique.split("+"):
        if step == "original":
            continue
        if step == "mirror":
            image, label = image[:, ::-1], label[:, ::-1]
        elif step in ("rotate_ccw", "rotate_cw"):
            sign = 1.0 if step == "rotate_ccw" else -1.0  # OpenCV: positive angles turn counter-clockwise
            image, label = _rotate(np.ascontiguousarray(image), np.ascontiguousarray(label),
                                   sign * rng.uniform(*ROTATION_DEGREES))
        elif step == "smooth":
            image = _blur(image, SMOOTHING_SIGMA)
        elif step == "sharpen":
            image = image + SHARPEN_AMOUNT * (image - _blur(image, SMOOTHING_SIGMA))
        elif step == "noise":
            image = image + rng.normal(0.0, NOISE_STD * max_value, image.shape).astype(np.float32)
        elif step == "contrast":
            mean = float(image.mean())
            image = (image - mean) * rng.uniform(*CONTRAST_FACTOR) + mean
        else:
            raise ConfigError(f"unknown replication step {step!r} in {technique!r}")
    return np.clip(image, 0.0, max_value), np.ascontiguousarray(label)


def replicate_subject(image: np.ndarray, label: np.ndarray, copies: int, rng: np.random.Generator):
    """`copies` (technique, image, label) triples; copy k uses REPLICA_TECHNIQUES[k % 10], copy 0 the original.

    Images keep their dtype and value range (12-bit data stays <= 4095), labels their ids.
    """
    from ..data.pipeline import intensity_max

    if copies < 1:
        raise ConfigError(f"copies must be >= 1, got {copies}")
    if image.shape != label.shape:
        raise DataError(None, f"image {image.shape} and label {label.shape} differ in shape")
    max_value = intensity_max(image)
    out = []
    for k in range(copies):
        technique = REPLICA_TECHNIQUES[k % len(REPLICA_TECHNIQUES)]
        x, y = apply_technique(technique, image.astype(np.float32), label, rng, max_value)
        if np.issubdtype(image.dtype, np.integer):
            x = np.round(x)
        out.append((technique, x.astype(image.dtype), y))
    return out


def replica_name(subject: str, copy: int) -> str:
    return f"{subject}_r{copy:02d}"


def write_replicated_dataset(source: str | Path, out_root: str | Path, replicas: int, val_fraction: float,
                             seed: int) -> dict[str, str]:
    """Replicate every subject under `source` into a merged kth-seg layout (image.png, label.png with BINARY ids,
    splits.csv train/val by subject) that data_prep.crops.build_crops reads. Returns replica -> split."""
    from ..io.annotations import LABEL_FILE, SPLITS_FILE, format_splits
    from ..io.atomic import atomic_write_bytes
    from ..io.raster import write_image

    subjects = list_subjects(source)
    subject_split = split_subjects(subjects, val_fraction, seed)
    out_root = Path(out_root)
    splits = {}
    for index, subject in enumerate(subjects):
        image, label = read_subject(Path(source) / subject)
        rng = np.random.default_rng(np.random.SeedSequence([seed, 2, index]))
        for k, (_, x, y) in enumerate(replicate_subject(image, label, replicas, rng)):
            name = replica_name(subject, k)
            write_image(out_root / name / "image.png", x)
            write_image(out_root / name / LABEL_FILE, y)
            splits[name] = subject_split[subject]
    atomic_write_bytes(out_root / SPLITS_FILE, format_splits(splits))
    return splits


class LrhCropData(MammoCropData):
    """kth-seg's crop data (class-balanced crops, flip + contrast, val = centre windows of the val crops) over the
    replicated lrh-seg set, without kth-seg's elastic deformation: lrh-seg's crop datasets (L2014-2053) have none.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, elastic_p=0.0, **kwargs)


# ------------------------------------------------------------------------------------------------ running
def _existing(path):
    return path if path and Path(path).exists() else None


def prepare_mammography(config: LrhSegConfig, run_dir: Path, log=print) -> LrhCropData:
    """Subjects (--data-root, else synthetic phantoms) -> x10 replication + 70/30 split -> crop data source.

    A --from-run run's replicated set and crop stores are reused when they came from the same subjects, copies,
    hold-out fraction and seed.
    """
    run_dir = Path(run_dir)
    reused = read_data_record(config.from_run) if config.from_run else {}
    data_dir = run_dir / "data"
    source = config.data_root
    if source is None:
        source = _existing(reused.get("lrh_subjects_root"))
    if source is None:
        from ..data.synthetic import make_kthseg_dataset

        syn = config.synthetic
        log(f"generating {syn.mammo_cases} synthetic subjects {tuple(syn.mammo_image_size)} in "
            f"{data_dir / 'subjects'}")
        source = make_kthseg_dataset(data_dir / "subjects", n_cases=syn.mammo_cases,
                                     image_size=tuple(syn.mammo_image_size), seed=config.seed,
                                     split_fractions=tuple(syn.mammo_split_fractions), merge=False)
    source = Path(source).resolve()
    recipe = f"replicas={config.replicas} val_fraction={config.val_fraction} seed={config.seed}"
    same = reused.get("lrh_subjects_root") == str(source) and reused.get("lrh_replication") == recipe
    replicated = _existing(reused.get("lrh_replicated_root")) if same else None
    crops_dir = Path(reused["lrh_crops"]) if same and _existing(reused.get("lrh_crops")) else data_dir / "crops"
    if replicated is None:
        replicated = data_dir / "replicated"
        log(f"replicating every subject x{config.replicas} and holding out {config.val_fraction:.0%} of the "
            f"subjects into {replicated}")
        write_replicated_dataset(source, replicated, config.replicas, config.val_fraction, config.seed)
    write_data_record(run_dir, {"lrh_subjects_root": source, "lrh_replication": recipe,
                                "lrh_replicated_root": Path(replicated).resolve(), "lrh_crops": crops_dir.resolve()})
    per_image = {"train": config.crops_per_image, "val": config.crops_per_image}
    return LrhCropData(replicated, crops_dir, per_image, label_set=BINARY, seed=config.seed,
                       eval_overlap=config.eval_overlap)


def prepare_data(config: LrhSegConfig, run_dir: Path, log=print):
    if config.dataset == "mammography":
        return prepare_mammography(config, run_dir, log)
    return kth_seg.prepare_data(config, run_dir, log)  # Cityscapes: the same data source and stand-in as kth-seg


def _row_note(config: LrhSegConfig, row: str, outcome) -> str:
    parts = [f"{config.scale} scale" + ("" if config.data_root else ", synthetic data")]
    model = config.models[row]
    if model.pretrained and not (config.vgg16_weights if model.pretrained == "vgg16" else config.resnet18_weights):
        parts.append(f"random init (no ImageNet {model.pretrained} file given)")
    if model.init_from:
        parts.append(f"init from {model.init_from}")
    if outcome.best_epoch is not None and outcome.epochs_run is not None:
        parts.append(f"best epoch {outcome.best_epoch}/{outcome.epochs_run}")
    if outcome.reused:
        parts.append("weights reused (--from-run)")
    return "; ".join(parts)


def _context(config: LrhSegConfig) -> str:
    if config.data_root:
        source = f"data: {config.data_root}"
    elif config.dataset == "mammography":
        source = (f"data: synthetic stand-in ({config.synthetic.mammo_cases} phantom subjects; the Lady Reading "
                  f"Hospital mammograms are private)")
    else:
        source = "data: synthetic Cityscapes-like scenes (real Cityscapes needs --data-root)"
    lines = [f"{config.scale} scale; {source}."
             + (" Smoke numbers on synthetic data are not comparable to the thesis." if config.scale == "smoke"
                else ""),
             "The thesis' numbers are kth-seg's Tables 5.1/5.2 altered (spec lrh-seg §6); reproduced anyway, with "
             "lrh-seg's own statements (Table 8 options" + (", 2 classes, x10 replication, 70/30 subject hold-out"
                                                            if config.dataset == "mammography" else "") + ")."]
    if config.dataset == "mammography":
        lines.append(f"Validation: centre input-size window of every class-balanced crop of the held-out "
                     f"{config.val_fraction:.0%} of the subjects ({config.replicas} copies each); classes "
                     f"non-tumour / tumour.")
    else:
        lines.append(f"Validation: every full val image by sliding window (overlap {config.eval_overlap}).")
    s = config.schedule
    lines.append(f"Training (Table 8): SGD momentum {s.momentum}, L2 {config.table8['L2 Regularization']}, "
                 f"rate x{s.lr_factor} every {s.lr_step_epochs} epochs, early stopping on val loss, patience "
                 f"{config.table8['Validation Patience']}.")
    if config.scale == "smoke":
        lines.append(f"Smoke: 1/16-width networks, small inputs, {s.epochs} epoch(s) of at most "
                     f"{s.steps_per_epoch} steps, batch <= {s.batch_cap}, learning rate {SMOKE_LEARNING_RATE}.")
    lines.append("Means over the classes present (undefined IoU/accuracy left out).")
    return "\n".join(lines)


def run(config: LrhSegConfig, run_dir) -> tuple[list, str]:
    """Train every row (FCN and Dilation10 chains in order), evaluate on the validation split, table rows."""
    from ..experiment import ResultRow

    def log(message: str) -> None:
        print(f"[lrh-seg Table {config.table}] {message}", flush=True)

    run_dir = Path(run_dir)
    data = prepare_data(config, run_dir, log)
    outcomes = train_and_evaluate_segmentation(kth_seg.stage_specs(config), data, config.schedule, run_dir,
                                               rows=config.rows, split="val", reuse_from=config.from_run, log=log)
    rows = [ResultRow(row, {k: o.metrics[k] for k in METRIC_KEYS}, _row_note(config, row, o))
            for row, o in outcomes.items()]
    return rows, _context(config)


# ------------------------------------------------------------------------------------------------ scripts
def thesis_table(table: str, published: dict):
    """The ThesisTable of Table 9 or 10 with its published rows (%, the thesis' column order)."""
    from ..experiment import ThesisTable

    if tuple(published) != ROWS:
        raise ConfigError(f"Table {table} rows {tuple(published)} differ from the recipe's {ROWS}")
    return ThesisTable(thesis=THESIS, table=f"Table {table}", title=TABLES[table][0], columns=METRIC_KEYS,
                       headers=HEADERS, rows=dict(published))


def main(name: str, table, argv=None) -> int:
    """Entry point of experiments/0N_lrh_seg_table*.py: the common options + kth-seg's --from-run and weight files."""
    from ..experiment import experiment_main

    table_id = table.table.removeprefix("Table ")
    return experiment_main(name, table, functools.partial(build_config, table_id), run, argv,
                           kth_seg.extra_options())
