"""oulu-mass recipe (seed 002, Tables 5-10): patient-grouped 5-fold training, fold-ensembled test predictions and
the thesis' Dice and Dice-threshold image classification.

Protocol (seed 002 §3.2.3-3.4, L953-1091): a dataset's `split` column holds the patient-wise 75 / 25 % train+val /
test split; the train+val pool is cut into five patient-disjoint folds (GroupKFold, `group_kfold`); fold model k
trains on the other four folds and keeps the weights of its lowest validation loss on fold k; a test image's
output is the mean of the five fold models' sigmoid maps, > 0.5. Scoring is `mammoseg.evaluate.mass_eval`
(mean Dice over images with Dice > 0; TP / FP / TN / FN by the 0.4 Dice rule).

Every table script trains exactly the rows it prints. Tables the thesis filled from the same models (5 and 9,
6 and 10, 7 and 8's weight-1 rows) can reuse another run's fold weights with `--from-run RUN_DIR`. Choices where
the thesis is silent are listed in docs/reproduction/oulu-mass.md.
"""
from __future__ import annotations

import argparse
import functools
import hashlib
import json
import math
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError
from ..experiment import ResultRow, ThesisTable, check_scale, experiment_main

# ------------------------------------------------------------------------------------------------ the grid
# Table name -> registry name (seed 002 §3.2.1; "U-Net" is the randomly initialised U-Net of Fig. 11).
MODELS = {"U-Net": "oulu_unet", "ResNet22FPN": "resnet22_fpn", "ResNet22U-Net": "resnet22_unet",
          "ResNet34FPN": "resnet34_fpn", "ResNet34U-Net": "resnet34_unet"}
LOSS_NAMES = ("BCE-J", "FT-B", "FT-A")  # L949-950, L979: FT-B alpha 0.5 beta 0.5 gamma 1, FT-A 0.7 / 0.3 / 1.4
DATASETS = ("inbreast", "oudsm")  # the sub-folders of --data-root
METRICS = ("dice", "accuracy", "specificity", "f1")
HEADERS = ("Dice (x100)", "Accuracy (%)", "Specificity (%)", "F1 (x100)")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def input_channels(arch: str) -> int:
    """ResNet-34 takes 3 channels (ImageNet), ResNet-22 1 (L871-872); the random U-Net 1 (spec §1.2)."""
    return 3 if arch.startswith("resnet34") else 1


def input_normalisation(arch: str) -> str:
    """ImageNet mean/std for the ImageNet encoder; per-image z-score (GMIC's own input rule) for the others."""
    return "imagenet" if arch.startswith("resnet34") else "zscore"


@dataclass(frozen=True)
class RowSpec:
    """One printed row: which network, loss and encoder initialisation train it.

    `weight_set`: ResNet-22 NYU weight set 1-5 (Table 8) or 1 = "the pretrained encoder" of the other tables
    (ImageNet for ResNet-34); None = random initialisation (the U-Net, Table 8's "None" rows).
    """
    name: str
    arch: str
    loss: str
    weight_set: int | None



@dataclass(frozen=True)
class TableSpec:
    key: str
    train_set: str  # dataset the fold models train on
    mass_only: bool  # train only on images with masses (Tables 7-8)
    test_set: str
    test_splits: tuple[str, ...]  # ("train", "val", "test") = the whole dataset
    rows: tuple[RowSpec, ...]
    caption: str


def _model_rows(losses, unet_losses) -> tuple[RowSpec, ...]:
    rows = []
    for loss in losses:
        for model, arch in MODELS.items():
            if arch == "oulu_unet" and loss not in unet_losses:
                continue
            rows.append(RowSpec(f"{model} {loss}", arch, loss, None if arch == "oulu_unet" else 1))
    return tuple(rows)


def _weight_rows() -> tuple[RowSpec, ...]:
    return tuple(RowSpec(f"{decoder} {'None' if w is None else w}", arch, "BCE-J", w)
                 for decoder, arch in (("FPN", "resnet22_fpn"), ("U-Net", "resnet22_unet"))
                 for w in (1, 2, 3, 4, 5, None))


ALL_SPLITS = ("train", "val", "test")
TABLES = {
    # "Results on the INbreast dataset": cross-dataset tests use every INbreast image (L1594-1595, spec gap 7).
    "5": TableSpec("5", "oudsm", False, "inbreast", ALL_SPLITS, _model_rows(LOSS_NAMES, ("BCE-J", "FT-B")),
                   "INbreast (all images); trained on OUDSM, all images"),
    "6": TableSpec("6", "inbreast", False, "inbreast", ("test",), _model_rows(("FT-B", "FT-A"), ("FT-B", "FT-A")),
                   "INbreast test subset; trained on the INbreast training subset"),
    "7": TableSpec("7", "oudsm", True, "inbreast", ALL_SPLITS, _model_rows(LOSS_NAMES, ("BCE-J", "FT-B")),
                   "INbreast (all images); trained on OUDSM images with masses"),
    "8": TableSpec("8", "oudsm", True, "inbreast", ALL_SPLITS, _weight_rows(),
                   "INbreast (all images); ResNet-22 encoders with NYU weight sets 1-5 or random init, "
                   "trained on OUDSM images with masses, BCE-J"),
    "9": TableSpec("9", "oudsm", False, "oudsm", ("test",), _model_rows(LOSS_NAMES, ("BCE-J", "FT-B")),
                   "OUDSM test subset; trained on the OUDSM training subset, all images"),
    # Table 10 tests on the OUDSM test subset (thesis silent), so Tables 9 and 10 score the same images.
    "10": TableSpec("10", "inbreast", False, "oudsm", ("test",), _model_rows(("FT-B", "FT-A"), ("FT-B", "FT-A")),
                    "OUDSM test subset; trained on the INbreast training subset"),
}


def thesis_table(key: str, title: str, published: dict) -> ThesisTable:
    """The ThesisTable of Table `key` from its published rows (thesis units: fractions, 3 decimals).

    Shown x100 so that the shared two-decimal table format keeps every published digit.
    """
    spec = TABLES[key]
    expected = [r.name for r in spec.rows]
    if list(published) != expected:
        raise ConfigError(f"Table {key}: published rows {list(published)} differ from the recipe's {expected}")
    rows = {name: tuple(round(100 * v, 6) for v in values) for name, values in published.items()}
    return ThesisTable(thesis="oulu-mass", table=f"Table {key}", title=title, columns=METRICS, headers=HEADERS,
                       rows=rows, percent=True)


# ------------------------------------------------------------------------------------------------ config
@dataclass
class Augmentation:
    """Seed 002 Table 3 (SOLT, L989-1036): every training image is cropped; each other op has p = 0.5.

    Geometric ops move image and mask together (mask nearest-neighbour); the rest touch the image only.
    Intensities are in [0, 1]; brightness is given in 8-bit grey levels as in SOLT and divided by 255.
    """
    enabled: bool = True
    p: float = 0.5
    rotation_deg: float = 5.0
    scale: tuple[float, float] = (0.7, 1.3)
    shear: float = 0.5  # shear factor, +-
    translate_px: float = 50.0  # at 512 px; scaled with the image size
    cutout: float = 0.1  # side as a share of the crop side
    gamma: tuple[float, float] = (0.5, 1.8)
    brightness: tuple[float, float] = (30.0, 100.0)
    contrast: tuple[float, float] = (0.7, 1.3)
    salt_pepper: float = 0.1  # largest share of pixels set to 0 / 1
    gaussian_noise: float = 0.5  # largest blend weight of the noise image
    blur_sigma: tuple[float, float] = (1.0, 10.0)
    blur_kernels: tuple[int, ...] = (3, 7, 11)  # Gaussian and median blur kernel sizes


@dataclass
class SyntheticSet:
    """A stand-in made by `synthetic_mass.make_mass_dataset` when the real dataset is not given."""
    n_cases: int
    size: tuple[int, int]  # raw mammogram size before the 512 px (or smoke) preprocessing
    mass_fraction: float  # share of images with masses
    seed_offset: int  # keeps the two stand-ins different for one --seed


def thesis_train():
    """The TrainConfig every oulu-mass recipe of the registry shares (`mammoseg.train.recipes`, the one source of
    the thesis' training numbers); imported when needed because the registry loads TensorFlow."""
    from ..train.recipes import get_recipe

    return get_recipe(f"oulu-mass/{MODELS['ResNet22FPN']}/bce-j").train


def _thesis_default(attribute: str):
    return field(default_factory=lambda: getattr(thesis_train(), attribute))


@dataclass
class OuluMassConfig:
    """Defaults are the thesis' values (seed 002 §3.2.3, L953-974; training ones read from the registry);
    `smoke_config` shrinks them."""
    scale: str = "full"
    seed: int = 0  # "the same seed" for every run (L969-970), value not given
    data_root: str | None = None  # holds inbreast/ and/or oudsm/ in the oulu-mass layout; else synthetic
    image_size: int = 512  # "resized and padded to 512x512" (L753-754)
    crop_size: int = 448  # random training crop (Table 3)
    folds: int = 5  # GroupKFold (L955-957)
    # training (L953-968), from the registry: 50 epochs, batch 32, Adam 1e-4 (betas 0.9 / 0.999, PyTorch's
    # epsilon 1e-8), weight decay 1e-4 (PyTorch Adam L2 on every parameter), x0.1 at epochs 20, 30, 40
    epochs: int = _thesis_default("epochs")
    batch_size: int = _thesis_default("batch_size")
    steps_per_epoch: int | None = None  # None: one pass over the fold's training images
    learning_rate: float = _thesis_default("learning_rate")
    beta_1: float = _thesis_default("beta_1")
    beta_2: float = _thesis_default("beta_2")
    epsilon: float = _thesis_default("epsilon")
    weight_decay: float = _thesis_default("weight_decay")
    lr_milestones: tuple[int, ...] = _thesis_default("lr_milestones")
    lr_factor: float = _thesis_default("lr_factor")
    resnet_kwargs: dict = field(default_factory=dict)  # extra builder kwargs of the four ResNet models
    unet_kwargs: dict = field(default_factory=dict)  # extra builder kwargs of the random-init U-Net
    augment: Augmentation = field(default_factory=Augmentation)
    probability_threshold: float = 0.5  # on the fold-mean sigmoid (not stated)
    synthetic: dict = field(default_factory=lambda: {
        "inbreast": SyntheticSet(410, (640, 512), 107 / 410, 1),  # Table 2: 410 images, 107 with masses
        "oudsm": SyntheticSet(9204, (640, 512), 1657 / 9204, 2)})  # Table 2: 9204 images, 1657 with masses
    resnet22_weights: tuple[str, ...] = ()  # converted NYU weight sets 1..5 (docs/models.md)
    resnet34_weights: str | None = None  # converted ImageNet ResNet-34
    from_run: str | None = None  # reuse this run directory's fold weights where the training is identical
    only_rows: tuple[str, ...] = ()  # train and score only these rows (empty: all)
    fast_folds: bool = False  # smoke: one traced Trainer per network, folds without checkpoint files
    data_graph_optimizations: bool = True  # tf.data's default graph rewrites (smoke: off, ~1 s less per fold)
    eval_batch_size: int = 8
    eval_chunk: int = 64  # test images held in memory at once
    progress: bool = True
    tensorboard: bool = True


def smoke_config(**changes) -> OuluMassConfig:
    """Runs every row and all five folds in minutes on 2 CPU cores: 1/16-width networks, 64 px images,
    48 px crops, 1 epoch of 2 steps per fold, ~60 small synthetic images. Nothing is expected to learn."""
    base = OuluMassConfig(
        scale="smoke", image_size=64, crop_size=48, epochs=1, batch_size=4, steps_per_epoch=2,
        resnet_kwargs={"width": 1 / 16}, unet_kwargs={"base_filters": 4},
        synthetic={"inbreast": SyntheticSet(24, (128, 96), 0.35, 1), "oudsm": SyntheticSet(40, (128, 96), 0.5, 2)},
        fast_folds=True, data_graph_optimizations=False, eval_batch_size=8, progress=False, tensorboard=False)
    return replace(base, **changes)


def build_config(scale: str = "smoke", data_root: str | None = None, seed: int = 0, **changes) -> OuluMassConfig:
    check_scale(scale)
    if scale == "smoke":
        config = smoke_config(data_root=data_root, seed=seed)
    else:
        config = OuluMassConfig(data_root=data_root, seed=seed)
    config = replace(config, **changes)
    check_config(config)
    return config


def check_config(config: OuluMassConfig) -> None:
    if config.crop_size > config.image_size:
        raise ConfigError(f"crop_size {config.crop_size} is larger than image_size {config.image_size}")
    if config.folds < 2:
        raise ConfigError(f"folds must be >= 2, got {config.folds}")
    if len(config.resnet22_weights) > 5:
        raise ConfigError(f"at most 5 ResNet-22 weight files (sets 1-5), got {len(config.resnet22_weights)}")
    for path in (*config.resnet22_weights, *([config.resnet34_weights] if config.resnet34_weights else [])):
        if not Path(path).is_file():
            raise DataError(path, "encoder weights file not found")
    if config.from_run is not None and not Path(config.from_run).is_dir():
        raise DataError(config.from_run, "--from-run: run directory not found")


# ------------------------------------------------------------------------------------------------ folds
def group_kfold(groups, n_splits: int) -> np.ndarray:
    """Fold index (0 .. n_splits-1) of every sample; all samples of a group (patient) share one fold.

    The rule of scikit-learn's GroupKFold (not shuffled): groups from the largest to the smallest are each put in
    the fold with the fewest samples so far (lowest fold index on ties); equal-size groups are taken in sorted
    order of their ids, so the result depends only on the data.
    """
    groups = np.asarray([str(g) for g in groups])
    names, counts = np.unique(groups, return_counts=True)
    if len(names) < n_splits:
        raise ConfigError(f"{n_splits}-fold GroupKFold needs at least {n_splits} groups (patients), got {len(names)}")
    load = np.zeros(n_splits, np.int64)
    fold_of = {}
    for i in sorted(range(len(names)), key=lambda i: (-counts[i], names[i])):
        fold = int(np.argmin(load))
        fold_of[names[i]] = fold
        load[fold] += counts[i]
    return np.array([fold_of[g] for g in groups], np.int64)


# ------------------------------------------------------------------------------------------------ data
@dataclass
class MassSet:
    """A preprocessed oulu-mass dataset (512 px or smoke size PNGs) and its per-image metadata."""
    name: str
    root: Path
    source: str  # where it came from, for the report
    synthetic: bool
    ids: list
    splits: np.ndarray
    has_mass: np.ndarray
    patients: np.ndarray

    def indices(self, splits, mass_only: bool = False) -> np.ndarray:
        keep = np.isin(self.splits, list(splits))
        if mass_only:
            keep &= self.has_mass
        return np.flatnonzero(keep)

    def image_paths(self, idx) -> list[str]:
        return [str(self.root / "images" / f"{self.ids[i]}.png") for i in idx]

    def mask_paths(self, idx) -> list[str]:
        return [str(self.root / "masks" / f"{self.ids[i]}.png") for i in idx]

    def describe(self, idx=None) -> str:
        idx = np.arange(len(self.ids)) if idx is None else np.asarray(idx)
        return (f"{len(idx)} images ({int(self.has_mass[idx].sum())} with masses) of "
                f"{len(np.unique(self.patients[idx]))} patients")


def dataset_source(config: OuluMassConfig, name: str) -> Path | None:
    """`<data_root>/<name>` when it exists (real data), else None (synthetic stand-in)."""
    if config.data_root is None:
        return None
    root = Path(config.data_root)
    if not root.is_dir():
        raise DataError(root, "--data-root: folder not found")
    if not any((root / n).is_dir() for n in DATASETS):
        raise DataError(root, f"--data-root needs sub-folder(s) {' and/or '.join(DATASETS)} in the oulu-mass "
                              "layout (images/, masks/, meta.csv with a patient_id column)")
    return root / name if (root / name).is_dir() else None


def prepare_mass_set(config: OuluMassConfig, name: str, data_dir: Path) -> MassSet:
    """Real or synthetic dataset -> breast crop, resize and pad to image_size (data_prep.mass) -> MassSet."""
    from data_prep.mass import MassPrepParams, build_mass_set

    from ..data.synthetic_mass import make_mass_dataset
    from ..io.inbreast import read_mass_dataset

    source = dataset_source(config, name)
    if source is None:
        spec = config.synthetic[name]
        source = data_dir / "raw" / name
        if not (source / "meta.csv").is_file():
            make_mass_dataset(source, n_cases=spec.n_cases, size=tuple(spec.size), seed=1000 * spec.seed_offset
                              + config.seed, mass_fraction=spec.mass_fraction)
        label = f"synthetic stand-in (make_mass_dataset, {spec.n_cases} images {spec.size[0]}x{spec.size[1]})"
    else:
        label = f"real data at {source}"
    records = read_mass_dataset(source)
    missing = [r.id for r in records if not str(r.extra.get("patient_id") or "").strip()]
    if missing:
        raise DataError(source / "meta.csv", f"no patient_id for {len(missing)} image(s) (first: {missing[0]}); "
                                             "GroupKFold needs the patient of every image (seed 002 L955-964)")
    prepared = data_dir / f"{name}_{config.image_size}"
    if not (prepared / "meta.csv").is_file():
        build_mass_set(source, prepared, MassPrepParams(size=config.image_size), progress_bar=config.progress)
    return MassSet(name, prepared, label, not label.startswith("real"), [r.id for r in records],
                   np.array([r.split for r in records]), np.array([r.has_mass for r in records], bool),
                   np.array([str(r.extra["patient_id"]).strip() for r in records]))


# ------------------------------------------------------------------------------------------------ tf inputs
def unit_scale(x):
    """Per-image intensity scaling to [0, 1] by the image's maximum: 8-, 12-, 14- and 16-bit sources alike
    (the thesis does not state its normalisation; cross-dataset tests need one that ignores bit depth)."""
    import tensorflow as tf

    x = tf.cast(x, tf.float32)
    top = tf.reduce_max(x, axis=[-2, -1], keepdims=True)
    return x / tf.maximum(top, 1e-6)


def model_input(x01, norm: str, channels: int):
    """(..., H, W) in [0, 1] -> (..., H, W, channels) network input."""
    import tensorflow as tf

    if norm == "zscore":
        mean = tf.reduce_mean(x01, axis=[-2, -1], keepdims=True)
        std = tf.math.reduce_std(x01, axis=[-2, -1], keepdims=True)
        x = ((x01 - mean) / tf.maximum(std, 1e-6))[..., None]
        return tf.repeat(x, channels, axis=-1) if channels > 1 else x
    if norm == "imagenet":
        rgb = tf.repeat(x01[..., None], 3, axis=-1)
        x = (rgb - tf.constant(IMAGENET_MEAN)) / tf.constant(IMAGENET_STD)
        return x if channels == 3 else x[..., :channels]
    raise ConfigError(f"unknown input normalisation {norm!r}")


def _seeds(seed, count: int):
    import tensorflow as tf

    return tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=count)


def geometry_maps(seed, size: int, crop: int, aug: Augmentation, translate: float):
    """Source coordinates (ys, xs), each (crop, crop), of a random crop of the flipped, scaled, sheared, rotated
    and translated image (applied in that order about the image centre; each but the crop with p = aug.p)."""
    import tensorflow as tf

    u = tf.random.stateless_uniform([12], seed)
    on = u[:5] < (aug.p if aug.enabled else 0.0)  # rotate, scale, shear, translate, flip

    def draw(i, lo, hi, off):
        return tf.where(on[i], lo + (hi - lo) * u[5 + i], off)

    angle = draw(0, -math.radians(aug.rotation_deg), math.radians(aug.rotation_deg), 0.0)
    scale = draw(1, aug.scale[0], aug.scale[1], 1.0)
    shear = draw(2, -aug.shear, aug.shear, 0.0)
    shift_y = draw(3, -translate, translate, 0.0)
    shift_x = tf.where(on[3], -translate + 2 * translate * u[9], 0.0)
    top = tf.floor(u[10] * (size - crop + 1))
    left = tf.floor(u[11] * (size - crop + 1))
    grid = tf.range(crop, dtype=tf.float32)
    centre = (size - 1) / 2.0
    dy = grid[:, None] + top - centre - shift_y
    dx = grid[None, :] + left - centre - shift_x
    cos, sin = tf.cos(angle), tf.sin(angle)
    ry, rx = -sin * dx + cos * dy, cos * dx + sin * dy  # undo the rotation
    ys = centre + ry / scale  # undo the shear (x' = x + shear * y) and the scaling
    xs = centre + (rx - shear * ry) / scale
    xs = tf.where(on[4], (size - 1) - xs, xs)
    return tf.broadcast_to(ys, [crop, crop]), xs


def _gaussian_blur(x, kernel: int, sigma):
    import tensorflow as tf

    r = kernel // 2
    t = tf.range(-r, r + 1, dtype=tf.float32)
    w = tf.exp(-t * t / (2.0 * sigma * sigma))
    w /= tf.reduce_sum(w)
    y = tf.pad(x[None, :, :, None], [[0, 0], [r, r], [r, r], [0, 0]], "REFLECT")
    y = tf.nn.conv2d(y, tf.reshape(w, [kernel, 1, 1, 1]), 1, "VALID")
    return tf.nn.conv2d(y, tf.reshape(w, [1, kernel, 1, 1]), 1, "VALID")[0, :, :, 0]


def _median_blur(x, kernel: int):
    import tensorflow as tf

    r = kernel // 2
    padded = tf.pad(x[None, :, :, None], [[0, 0], [r, r], [r, r], [0, 0]], "REFLECT")
    patches = tf.image.extract_patches(padded, [1, kernel, kernel, 1], [1, 1, 1, 1], [1, 1, 1, 1], "VALID")
    return tf.sort(patches[0], axis=-1)[:, :, kernel * kernel // 2]


def intensity_augment(x, seed, aug: Augmentation):
    """Table 3's image-only ops on a [0, 1] crop, in this order, each with p = aug.p: gamma, brightness, contrast,
    salt and pepper, Gaussian noise, blur (Gaussian or median, one of them), cutout."""
    import tensorflow as tf

    if not aug.enabled:
        return x
    keys = _seeds(seed, 8)
    u = tf.random.stateless_uniform([16], keys[0])
    on = u[:7] < aug.p
    shape = tf.shape(x)

    def span(i, lo, hi):
        return lo + (hi - lo) * u[7 + i]

    x = tf.where(on[0], tf.pow(x, span(0, *aug.gamma)), x)
    x = tf.where(on[1], tf.clip_by_value(x + span(1, *aug.brightness) / 255.0, 0.0, 1.0), x)
    x = tf.where(on[2], tf.clip_by_value(x * span(2, *aug.contrast), 0.0, 1.0), x)
    amount = span(3, 0.0, aug.salt_pepper)
    r = tf.random.stateless_uniform(shape, keys[1])
    x = tf.where(on[3], tf.where(r < amount / 2, 1.0, tf.where(r < amount, 0.0, x)), x)
    noise = tf.random.stateless_normal(shape, keys[2])
    noise = (noise - tf.reduce_min(noise)) / (tf.reduce_max(noise) - tf.reduce_min(noise))
    gain = span(4, 0.0, aug.gaussian_noise)
    x = tf.where(on[4], (1.0 - gain) * x + gain * noise, x)
    kernel_index = tf.cast(tf.floor(u[14] * len(aug.blur_kernels)), tf.int32)
    sigma = span(5, *aug.blur_sigma)
    gaussian = [functools.partial(_gaussian_blur, x, k, sigma) for k in aug.blur_kernels]
    median = [functools.partial(_median_blur, x, k) for k in aug.blur_kernels]
    x = tf.cond(on[5], lambda: tf.cond(u[15] < 0.5, lambda: tf.switch_case(kernel_index, gaussian),
                                       lambda: tf.switch_case(kernel_index, median)), lambda: x)
    side = tf.cast(tf.round(aug.cutout * tf.cast(shape[0], tf.float32)), tf.int32)
    corner = tf.random.stateless_uniform([2], keys[3], maxval=tf.maximum(shape[0] - side + 1, 1), dtype=tf.int32)
    rows, cols = tf.range(shape[0])[:, None], tf.range(shape[1])[None, :]
    hole = (rows >= corner[0]) & (rows < corner[0] + side) & (cols >= corner[1]) & (cols < corner[1] + side)
    return tf.where(on[6] & hole, 0.0, x)


class MassPipeline:
    """tf.data inputs of one run: files -> [0, 1] image -> Table 3 augmentation -> network input.

    The augmentation is one `tf.function`, traced once and called by every fold's dataset. Random draws are
    stateless functions of (seed, epoch, position), so a resumed fold sees the batches an uninterrupted one would.
    """

    def __init__(self, config: OuluMassConfig):
        import tensorflow as tf

        from ..data.augment_tf import remap

        self.config = config
        aug, size, crop = config.augment, config.image_size, config.crop_size
        translate = aug.translate_px * size / 512.0

        @tf.function(input_signature=[tf.TensorSpec([size, size], tf.float32), tf.TensorSpec([size, size], tf.uint8),
                                      tf.TensorSpec([2], tf.int64)])
        def augment(image, mask, seed):
            keys = _seeds(seed, 2)
            ys, xs = geometry_maps(keys[0], size, crop, aug, translate)
            image, mask = remap(image[None], mask[None], ys[None], xs[None], "constant", 0.0, 0)
            return intensity_augment(image[0], keys[1], aug), mask[0]

        self.augment = augment

    def _read(self, image_path, mask_path):
        import tensorflow as tf

        size = self.config.image_size
        image = tf.io.decode_png(tf.io.read_file(image_path), channels=1, dtype=tf.uint16)[..., 0]
        mask = tf.io.decode_png(tf.io.read_file(mask_path), channels=1)[..., 0]
        image = tf.ensure_shape(unit_scale(image), [size, size])
        return image, tf.ensure_shape(tf.cast(mask > 0, tf.uint8), [size, size])

    def train(self, images, masks, arch: str, start_epoch: int = 0):
        """Endless batches; epoch e's order is a stateless shuffle seeded by (seed, e)."""
        import tensorflow as tf

        from ..data.pipeline import element_seed

        cfg = self.config
        n = len(images)
        per_epoch = max(1, n // cfg.batch_size) * cfg.batch_size
        paths = tf.constant(images), tf.constant(masks)
        norm, channels = input_normalisation(arch), input_channels(arch)

        def epoch_elements(epoch):
            order = tf.random.experimental.stateless_shuffle(tf.range(n), seed=element_seed(cfg.seed, epoch, 0, 30))
            order = tf.tile(order, [per_epoch // n + 1])[:per_epoch]  # a fold smaller than one batch repeats
            return tf.data.Dataset.from_tensor_slices(order).enumerate().map(lambda pos, i: (epoch, pos, i))

        def load(epoch, pos, i):
            image, mask = self._read(paths[0][i], paths[1][i])
            image, mask = self.augment(image, mask, element_seed(cfg.seed, epoch, pos, 31))
            return model_input(image, norm, channels), tf.cast(mask, tf.int32)

        ds = tf.data.Dataset.range(start_epoch, 2 ** 62).flat_map(epoch_elements)
        ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return self._finish(ds.batch(cfg.batch_size, drop_remainder=True))

    def val(self, images, masks, arch: str):
        """Centre crops of crop_size, no augmentation: the trained network has a fixed input size."""
        import tensorflow as tf

        cfg = self.config
        offset = (cfg.image_size - cfg.crop_size) // 2
        window = slice(offset, offset + cfg.crop_size)
        norm, channels = input_normalisation(arch), input_channels(arch)

        def load(image_path, mask_path):
            image, mask = self._read(image_path, mask_path)
            return model_input(image[window, window], norm, channels), tf.cast(mask[window, window], tf.int32)

        ds = tf.data.Dataset.from_tensor_slices((list(images), list(masks))).map(load)
        return self._finish(ds.batch(cfg.batch_size))

    def _finish(self, ds):
        """Prefetch; without tf.data's default rewrites when asked (they cost ~1 s per new iterator, i.e. per
        smoke fold, and gain little on tiny batches)."""
        import tensorflow as tf

        options = tf.data.Options()
        options.experimental_optimization.apply_default_optimizations = self.config.data_graph_optimizations
        return ds.prefetch(tf.data.AUTOTUNE).with_options(options)


# ------------------------------------------------------------------------------------------------ training
class MassLoss:
    """BCE-J or focal Tversky, picked by variables so one compiled training step serves every loss of a table.

    Both terms are computed and weighted 1 / 0, so the value is exactly the chosen loss (`train.losses`).
    """

    def __init__(self):
        import tensorflow as tf

        self.use_ft = tf.Variable(0.0, trainable=False, name="use_focal_tversky")
        self.alpha = tf.Variable(0.5, trainable=False, name="ft_alpha")
        self.beta = tf.Variable(0.5, trainable=False, name="ft_beta")
        self.gamma = tf.Variable(1.0, trainable=False, name="ft_gamma")

    def set(self, name: str) -> None:
        from ..train.losses import FOCAL_TVERSKY_A, FOCAL_TVERSKY_B

        presets = {"FT-A": FOCAL_TVERSKY_A, "FT-B": FOCAL_TVERSKY_B}
        if name not in LOSS_NAMES:
            raise ConfigError(f"loss must be one of {LOSS_NAMES}, got {name!r}")
        self.use_ft.assign(float(name in presets))
        if name in presets:
            self.alpha.assign(presets[name]["fp_weight"])
            self.beta.assign(presets[name]["fn_weight"])
            self.gamma.assign(presets[name]["gamma"])

    def __call__(self, labels, logits):
        from ..train.losses import bce_jaccard, focal_tversky

        ft = focal_tversky(labels, logits, fn_weight=self.beta, fp_weight=self.alpha, gamma=self.gamma)
        return self.use_ft * ft + (1.0 - self.use_ft) * bce_jaccard(labels, logits)


def train_config(config: OuluMassConfig):
    """The registry's TrainConfig (Adam, L2 on every parameter, multistep, no early stopping, best val loss) with
    this run's knobs; equal to it at full scale."""
    return thesis_train().replace(
        epochs=config.epochs, batch_size=config.batch_size, learning_rate=config.learning_rate,
        beta_1=config.beta_1, beta_2=config.beta_2, epsilon=config.epsilon, weight_decay=config.weight_decay,
        lr_milestones=config.lr_milestones, lr_factor=config.lr_factor, steps_per_epoch=config.steps_per_epoch,
        seed=config.seed, progress=config.progress, tensorboard=config.tensorboard)


def build_network(config: OuluMassConfig, arch: str, size: int, encoder_weights: str | None = None):
    from ..models import build_model

    kwargs = dict(config.unet_kwargs if arch == "oulu_unet" else config.resnet_kwargs)
    if encoder_weights is not None:
        kwargs["encoder_weights"] = encoder_weights
    return build_model(arch, input_shape=(size, size, input_channels(arch)), **kwargs)


def encoder_weights_file(config: OuluMassConfig, row: RowSpec) -> str | None:
    """The converted weight file of the row's pretrained encoder, or None (random init)."""
    if row.weight_set is None:
        return None
    if row.arch.startswith("resnet34"):
        return config.resnet34_weights
    files = config.resnet22_weights
    return files[row.weight_set - 1] if row.weight_set <= len(files) else None


def model_key(config: OuluMassConfig, row: RowSpec) -> str:
    """Names the fold models by what trains them: rows whose encoder file is missing share the random-init models
    (Table 8's sets 1-5 without files are its 'None' rows)."""
    path = encoder_weights_file(config, row)
    return f"{row.arch}-{row.loss}-{'random' if path is None else Path(path).stem}"


def init_note(config: OuluMassConfig, row: RowSpec) -> str:
    path = encoder_weights_file(config, row)
    if row.weight_set is None:
        return "random init (as in the thesis)"
    if path is not None:
        return f"encoder weights {Path(path).name}"
    option = "--resnet34-weights (ImageNet)" if row.arch.startswith("resnet34") else \
        f"--resnet22-weights (NYU set {row.weight_set})"
    return f"encoder random init: no {option} file given (the random-init models)"


class _ReusableTrainer:
    """One Trainer (one traced training and validation program) for every row and fold of a network.

    Before each fold the model and optimizer variables go back to their values right after construction: what a
    new Trainer with the same seed would start from.
    """

    def __init__(self, trainer, loss: MassLoss):
        import tensorflow as tf

        self.trainer, self.loss = trainer, loss
        variables = [*trainer.model.variables, *trainer.optimizer.variables]
        initial = [tf.constant(v.numpy()) for v in variables]

        @tf.function(autograph=False)  # one call instead of ~1 ms of eager dispatch per variable
        def restore():
            for variable, value in zip(variables, initial):
                variable.assign(value)

        self._restore = restore

    def reset(self, encoder_weights: str | None) -> None:
        from ..models.resnet import load_encoder_weights

        self._restore()
        if encoder_weights is not None:
            load_encoder_weights(self.trainer.model, encoder_weights, norm="batch")


def _fingerprint(config: OuluMassConfig, train_set: MassSet, spec: TableSpec, row: RowSpec) -> str:
    """What decides a fold model's weights; a stored fold is reused only when this matches."""
    ignore = {"from_run", "only_rows", "progress", "tensorboard", "eval_batch_size", "eval_chunk",
              "probability_threshold", "data_root", "scale", "resnet22_weights", "resnet34_weights",
              "data_graph_optimizations"}
    identity = {k: v for k, v in asdict(config).items() if k not in ignore}
    identity.update(train_set=train_set.name, source=train_set.source, mass_only=spec.mass_only,
                    model=model_key(config, row), encoder_weights=encoder_weights_file(config, row))
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:16]


def named_weights(model) -> dict:
    """{variable path: value}: the same network built for another input size may order its weights differently,
    but the zoo names every layer, so paths match."""
    return {v.path: np.asarray(v.numpy()) for v in model.weights}


def set_named_weights(model, weights: dict) -> None:
    variables = {v.path: v for v in model.weights}
    if set(variables) != set(weights):
        diff = sorted(set(variables) ^ set(weights))
        raise ConfigError(f"weights do not fit model {model.name!r}: {len(diff)} variable(s) differ, e.g. {diff[0]}")
    for path, value in weights.items():
        variables[path].assign(value)


def _save_weights_npz(path: Path, weights: dict) -> None:
    from ..io.atomic import atomic_path

    with atomic_path(path) as tmp:
        np.savez(tmp, paths=np.array(list(weights)), **{f"w{i}": v for i, v in enumerate(weights.values())})


def _load_weights_npz(path: Path) -> dict:
    with np.load(path) as data:
        return {str(p): data[f"w{i}"] for i, p in enumerate(data["paths"])}


def _stored_fold(fold_dir: Path, fingerprint: str) -> dict | None:
    info_path = fold_dir / "fold.json"
    if not (info_path.is_file() and (fold_dir / "weights.npz").is_file()):
        return None
    info = json.loads(info_path.read_text())
    return info if info.get("fingerprint") == fingerprint else None


class FoldTrainer:
    """Trains, or finds already trained, the fold models of a table's rows.

    Full scale: a Trainer per fold and `Trainer.fit` (checkpoints, exact resume, lowest validation loss kept).
    `fast_folds` (smoke): one Trainer per network, reset before each fold, and each epoch is `run_steps` plus one
    `evaluate` of the validation fold with the lowest-loss weights kept in memory: the same steps, learning rates
    and selection rule without the checkpoint files, which cost seconds per fold on a CPU.
    """

    def __init__(self, config: OuluMassConfig, run_dir: Path, pipeline: MassPipeline):
        self.config, self.run_dir, self.pipeline = config, Path(run_dir), pipeline
        self._shared: dict[str, _ReusableTrainer] = {}
        self.reused = 0

    def _trainer(self, arch: str, fold_dir: Path, encoder_weights: str | None):
        from ..train.loop import Trainer

        def make(run_dir, weights):
            loss = MassLoss()
            trainer = Trainer(lambda: build_network(self.config, arch, self.config.crop_size, weights), loss,
                              train_config(self.config), run_dir, 2, class_names=("background", "mass"))
            return trainer, loss

        if not self.config.fast_folds:
            return make(fold_dir, encoder_weights)
        if arch not in self._shared:
            self._shared[arch] = _ReusableTrainer(*make(self.run_dir / "scratch" / arch, None))
        shared = self._shared[arch]
        shared.reset(encoder_weights)
        return shared.trainer, shared.loss

    def fold_weights(self, spec: TableSpec, row: RowSpec, train_set: MassSet, pool, fold_of) -> list[dict]:
        """The weights of the row's fold models (k = 0 .. folds-1), training the ones not stored yet."""
        fingerprint = _fingerprint(self.config, train_set, spec, row)
        relative = (Path("models") / f"{train_set.name}{'-massonly' if spec.mass_only else ''}"
                    / model_key(self.config, row))
        result = []
        for k in range(self.config.folds):
            candidates = [self.run_dir / relative / f"fold{k}"]
            if self.config.from_run:
                candidates.append(Path(self.config.from_run) / relative / f"fold{k}")
            found = [d for d in candidates if _stored_fold(d, fingerprint) is not None]
            if found:
                self.reused += found[0] != candidates[0]
                result.append(_load_weights_npz(found[0] / "weights.npz"))
                continue
            train_idx, val_idx = pool[fold_of != k], pool[fold_of == k]
            result.append(self._train_fold(row, train_set, train_idx, val_idx, candidates[0], fingerprint))
        return result

    def _train_fold(self, row, train_set, train_idx, val_idx, fold_dir: Path, fingerprint: str) -> dict:
        from ..io.atomic import atomic_write_text

        start = time.perf_counter()
        fold_dir.mkdir(parents=True, exist_ok=True)
        trainer, loss = self._trainer(row.arch, fold_dir, encoder_weights_file(self.config, row))
        loss.set(row.loss)
        images, masks = train_set.image_paths(train_idx), train_set.mask_paths(train_idx)
        val_images, val_masks = train_set.image_paths(val_idx), train_set.mask_paths(val_idx)

        def train_data(epoch):
            return self.pipeline.train(images, masks, row.arch, start_epoch=epoch)

        def val_data():
            return self.pipeline.val(val_images, val_masks, row.arch)

        steps = max(1, len(images) // self.config.batch_size)
        if self.config.fast_folds:
            weights, best_epoch, best_loss, history = _fit_in_memory(trainer, train_data, val_data, steps)
            lines = ["epoch,learning_rate,train_loss,val_loss"] + [",".join(map(str, h)) for h in history]
            atomic_write_text(fold_dir / "metrics.csv", "\n".join(lines) + "\n")
        else:
            result = trainer.fit(train_data, val_data, steps_per_epoch=steps)
            weights, best_epoch, best_loss = named_weights(trainer.load_best()), result.best_epoch, result.best_value
        _save_weights_npz(fold_dir / "weights.npz", weights)
        info = {"fingerprint": fingerprint, "row": row.name, "train_images": len(train_idx),
                "val_images": len(val_idx), "val_patients": sorted(set(train_set.patients[val_idx].tolist())),
                "best_epoch": best_epoch, "best_val_loss": best_loss, "seconds": time.perf_counter() - start}
        atomic_write_text(fold_dir / "fold.json", json.dumps(info, indent=2, default=float))
        return weights


def _fit_in_memory(trainer, train_data, val_data, steps_per_epoch: int):
    """Epochs of `trainer.run_steps` + `trainer.evaluate`, learning rate from the Trainer's schedule, weights of
    the lowest validation loss kept: (weights, best epoch, best loss, [(epoch, lr, train loss, val loss)])."""
    from ..train.config import lr_multiplier

    cfg = trainer.cfg
    steps = cfg.steps_per_epoch or steps_per_epoch
    best_loss, best_epoch, best_weights, history = math.inf, 0, None, []
    for epoch in range(cfg.epochs):
        rate = cfg.learning_rate * lr_multiplier(cfg, epoch, 0, steps)
        trainer.optimizer.learning_rate.assign(rate)
        train_loss = trainer.run_steps(train_data(epoch), steps, first_step=epoch * steps)
        val_loss = float(trainer.evaluate(val_data())["loss"])
        history.append((epoch + 1, rate, train_loss, val_loss))
        if best_weights is None or val_loss < best_loss:
            best_loss, best_epoch, best_weights = val_loss, epoch + 1, named_weights(trainer.model)
    return best_weights, best_epoch, best_loss, history


# ------------------------------------------------------------------------------------------------ evaluation
class EnsemblePredictor:
    """One full-size network per architecture whose weights are swapped per fold: one traced predict function
    serves every row and fold (the training crops are smaller than the test images; the nets are fully
    convolutional)."""

    def __init__(self, config: OuluMassConfig, arch: str):
        import tensorflow as tf

        size = config.image_size
        self.config, self.model = config, build_network(config, arch, size)
        norm, channels = input_normalisation(arch), input_channels(arch)

        @tf.function(input_signature=[tf.TensorSpec([None, size, size], tf.float32)])
        def probabilities(raw):
            logits = self.model(model_input(unit_scale(raw), norm, channels), training=False)
            return tf.sigmoid(tf.cast(logits[..., 0], tf.float32))

        self._probabilities = probabilities

    def fold_probabilities(self, weights: dict, images: np.ndarray) -> np.ndarray:
        set_named_weights(self.model, weights)
        step = self.config.eval_batch_size
        return np.concatenate([self._probabilities(images[i:i + step]).numpy() for i in range(0, len(images), step)])


def load_test_images(test_set: MassSet, idx) -> tuple[np.ndarray, np.ndarray]:
    from ..io.raster import read_image, read_mask

    images = np.stack([read_image(p).astype(np.float32) for p in test_set.image_paths(idx)])
    masks = np.stack([read_mask(p) for p in test_set.mask_paths(idx)])
    return images, masks


def evaluate_row(predictor: EnsemblePredictor, fold_weights: list, test_set: MassSet, test_idx):
    """Fold-mean probabilities of every test image, scored by the thesis' rules (mass_eval)."""
    from ..evaluate.mass_eval import average_fold_probabilities, evaluate_masses

    cases = []
    for start in range(0, len(test_idx), predictor.config.eval_chunk):
        idx = test_idx[start:start + predictor.config.eval_chunk]
        images, masks = load_test_images(test_set, idx)
        per_fold = [predictor.fold_probabilities(w, images) for w in fold_weights]
        for j, i in enumerate(idx):
            cases.append((test_set.ids[i], masks[j], average_fold_probabilities([p[j] for p in per_fold])))
    return evaluate_masses(cases, threshold=predictor.config.probability_threshold)


def write_per_image(path: Path, evaluation) -> None:
    from ..io.atomic import atomic_write_text

    lines = ["case,outcome,dice,truth_pixels,predicted_pixels"]
    lines += [f"{r['case']},{r['outcome']},{'' if math.isnan(r['dice']) else round(r['dice'], 6)},"
              f"{r['truth_pixels']},{r['predicted_pixels']}" for r in evaluation.per_image]
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, "\n".join(lines) + "\n")


# ------------------------------------------------------------------------------------------------ a table
def _log(message: str) -> None:
    print(f"[oulu-mass] {message}", flush=True)


def run_table(config: OuluMassConfig, run_dir, table_key: str):
    """Train (or reuse) and score every row of Table `table_key`; returns (ResultRows, context text)."""
    start = time.perf_counter()
    spec, run_dir = TABLES[table_key], Path(run_dir)
    unknown = set(config.only_rows) - {r.name for r in spec.rows}
    if unknown:
        raise ConfigError(f"Table {table_key} has no row(s) {sorted(unknown)}")
    rows = [r for r in spec.rows if not config.only_rows or r.name in config.only_rows]
    data_dir = run_dir / "data"
    sets = {name: prepare_mass_set(config, name, data_dir) for name in dict.fromkeys((spec.train_set, spec.test_set))}
    train_set, test_set = sets[spec.train_set], sets[spec.test_set]
    pool = train_set.indices(("train", "val"), spec.mass_only)
    fold_of = group_kfold(train_set.patients[pool], config.folds)
    test_idx = test_set.indices(spec.test_splits)
    if len(test_idx) == 0:
        raise DataError(test_set.root / "meta.csv", f"no images in split(s) {', '.join(spec.test_splits)}")

    pipeline = MassPipeline(config)
    trainer = FoldTrainer(config, run_dir, pipeline)
    predictors: dict[str, EnsemblePredictor] = {}
    results, evaluations = [], {}
    for row in rows:
        key = model_key(config, row)
        if key not in evaluations:  # rows sharing fold models share their scores
            t0 = time.perf_counter()
            weights = trainer.fold_weights(spec, row, train_set, pool, fold_of)
            t1 = time.perf_counter()
            if row.arch not in predictors:
                predictors[row.arch] = EnsemblePredictor(config, row.arch)
            evaluations[key] = evaluate_row(predictors[row.arch], weights, test_set, test_idx)
            write_per_image(run_dir / "predictions" / f"{key}.csv", evaluations[key])
            _log(f"Table {table_key} {row.name}: {config.folds} fold models {t1 - t0:.1f} s, "
                 f"ensemble test {time.perf_counter() - t1:.1f} s")
        evaluation = evaluations[key]
        metrics = dict(zip(METRICS, evaluation.row()))
        note = "; ".join([f"{config.scale} scale" + (", synthetic data" if train_set.synthetic or test_set.synthetic
                                                      else ""), init_note(config, row),
                          f"Dice over {evaluation.images_in_dice} image(s)",
                          "TP/FP/TN/FN " + "/".join(str(evaluation.counts[k]) for k in ("TP", "FP", "TN", "FN"))])
        results.append(ResultRow(row.name, metrics, note))
    shutil.rmtree(run_dir / "scratch", ignore_errors=True)
    return results, _context(config, spec, sets, pool, fold_of, test_idx, trainer.reused, time.perf_counter() - start)


def _context(config, spec: TableSpec, sets, pool, fold_of, test_idx, reused: int, seconds: float) -> str:
    train_set, test_set = sets[spec.train_set], sets[spec.test_set]
    fold_sizes = ", ".join(str(int((fold_of == k).sum())) for k in range(config.folds))
    lines = [f"Thesis: {spec.caption}. Ours ({config.scale} scale): "
             f"{config.folds}-fold GroupKFold by patient on {train_set.name} "
             f"{'mass images of ' if spec.mass_only else ''}train+val ({train_set.describe(pool)}; fold sizes "
             f"{fold_sizes}); each fold model keeps its lowest-validation-loss epoch; test = {test_set.name} "
             f"split(s) {'/'.join(spec.test_splits)} ({test_set.describe(test_idx)}), mean of the "
             f"{config.folds} fold models' sigmoid maps > {config.probability_threshold}.",
             f"Images {config.image_size} px, training crops {config.crop_size} px, {config.epochs} epoch(s)"
             + (f" of {config.steps_per_epoch} step(s)" if config.steps_per_epoch else "")
             + f", batch {config.batch_size}, Adam {config.learning_rate:g}, weight decay {config.weight_decay:g}"
             + (f", networks {config.resnet_kwargs or 'full width'} / U-Net {config.unet_kwargs or 'full width'}"
                if config.scale == "smoke" else "") + ".",
             "Data: " + "; ".join(f"{s.name} = {s.source}" for s in sets.values()) + ".",
             "Dice = mean over test images with Dice > 0; Accuracy / Specificity / F1 from one TP/FP/TN/FN label per "
             "image (TP: Dice > 0.4; FP: output not empty and truth empty or Dice <= 0.4; TN: both empty; FN: "
             "output empty, truth not)."]
    if reused:
        lines.append(f"{reused} fold model(s) reused from --from-run {config.from_run}.")
    if config.scale == "smoke" or train_set.synthetic or test_set.synthetic:
        lines.append("Smoke scale and/or synthetic stand-ins (OUDSM is private): the numbers show that the protocol "
                     "runs end to end, they are not comparable with the thesis.")
    lines.append(f"Wall time {seconds:.0f} s.")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------ CLI
def _extra_options() -> argparse.ArgumentParser:
    from ..experiment import from_run_option

    p = from_run_option("reuse fold weights of this run directory where identical")
    p.add_argument("--resnet22-weights", nargs="+", default=(), metavar="FILE",
                   help="converted NYU ResNet-22 weight sets 1..5 (docs/models.md)")
    p.add_argument("--resnet34-weights", default=None, metavar="FILE", help="converted ImageNet ResNet-34")
    p.add_argument("--rows", nargs="+", default=(), metavar="ROW", help="run only these rows (names as printed)")
    return p


def main(name: str, table: ThesisTable, table_key: str, argv=None) -> int:
    """The common experiment CLI plus --from-run, --resnet22-weights, --resnet34-weights and --rows."""
    def build(scale, data_root, seed, from_run, resnet22_weights, resnet34_weights, rows):
        return build_config(scale, data_root, seed, from_run=from_run, resnet22_weights=tuple(resnet22_weights),
                            resnet34_weights=resnet34_weights, only_rows=tuple(rows))

    return experiment_main(name, table, build, functools.partial(run_table, table_key=table_key), argv,
                           _extra_options())
