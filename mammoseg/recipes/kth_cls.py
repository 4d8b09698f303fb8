"""kth-cls recipe (seed 004): the end-to-end VGG classifier (Tables 4.1-4.3) and the decomposition pipeline,
i.e. five annotation-size ROI detectors x {Dice, sensitivity-specificity} (Table 4.4, Fig. 4.3), their merged heat
map (Eq. 4.2) and the 2-channel classifier on [image, heat map] (Tables 4.5-4.7).

One run trains one pipeline and evaluates it on both splits; a table script reports its split, and the sibling
table's script can reuse the run with `--from-run DIR` (same data store, same weights). Choices where the thesis
is silent and deviations: docs/reproduction/kth-cls.md.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import ConfigError, DataError
from ..evaluate.classification_eval import TABLE_ROWS
from ..experiment import ResultRow, ThesisTable, check_scale, experiment_main, from_run_option
from ..labels import DDSM3

THESIS = "kth-cls"
CLASS_COLUMNS = ("cancer", "normal", "benign")  # the thesis' column order; model outputs follow DDSM3's ids
COLUMNS = (*CLASS_COLUMNS, "mean")
HEADERS = ("Cancer", "Normal", "Benign", "Mean")
# Thesis row title -> metric key (the thesis spells the second row "Specificy").
ROW_METRICS = dict(TABLE_ROWS)
AUC_ROW = "AUC (one-vs-all)"
# Seed 004 L1410-1413: images per split and class after filtering.
THESIS_COUNTS = {"train": {"cancer": 1483, "normal": 1901, "benign": 1401},
                 "test": {"cancer": 370, "normal": 475, "benign": 350}}
PIPELINES = ("end_to_end", "decomposition")
DETECTOR_LOSSES = ("dice", "sensitivity_specificity")
# Training recipes (mammoseg/train/recipes.py): classifier by input channels, ROI detector by loss.
CLASSIFIER_RECIPES = {1: "kth-cls/end-to-end", 2: "kth-cls/decomposition"}
DETECTOR_RECIPES = {"dice": "kth-cls/roi-dice", "sensitivity_specificity": "kth-cls/roi-ss"}
# Whose training a config's `classifier` / `detector` stage copies (Tables 4.1 = 4.5; both detector losses: 4.4).
STAGE_RECIPES = {"classifier": CLASSIFIER_RECIPES[1], "detector": DETECTOR_RECIPES["dice"]}
DATA_STORE = Path("data") / "classification.h5"
HEAT_MAPS = "roi_heat_maps.npy"
DETECTOR_SUMMARY = "detectors.json"
WEIGHTS = "best.weights.h5"


# ------------------------------------------------------------------------------------------------ configuration
@dataclass
class StageTraining:
    """One network's optimisation (Tables 4.1 / 4.4 / 4.5): Adam, rate x lr_decay ** (step / steps_per_epoch).

    The full-scale values are read from the registered training recipes (mammoseg/train/recipes.py), which
    hold the thesis' numbers (`of_recipe`); the rest of those recipes (Adam epsilon 1e-8, continuous decay, last
    weights kept) applies as is.
    """
    batch_size: int
    steps_per_epoch: int
    epochs: int
    learning_rate: float
    lr_decay: float  # Eq. 3.17's r: rate x r ** (step / steps_per_epoch)

    @classmethod
    def of_recipe(cls, name: str) -> "StageTraining":
        from ..train.recipes import get_recipe

        train = get_recipe(name).train
        return cls(train.batch_size, train.steps_per_epoch, train.epochs, train.learning_rate, train.lr_factor)

    @property
    def total_steps(self) -> int:
        return self.steps_per_epoch * self.epochs


@dataclass
class KthClsConfig:
    scale: str = "full"
    data_root: str | None = None  # DDSM-like folder (data_prep/classification.py layout); None: synthetic
    seed: int = 0
    from_run: str | None = None  # a finished run of the same pipeline: reuse its data store and weights
    # data (seed 004 §4.1)
    synthetic_per_class: int = 1000  # synthetic stand-in only
    synthetic_size: int = 512
    work_size: int = 1024  # square crop -> bilinear 1024² -> [0, 1] -> CLAHE -> input size
    input_size: int = 128
    clahe_clip: float = 0.02
    test_fraction: float = 0.2  # used when labels.csv has no split column
    flip_p: float = 0.5
    max_rotation_deg: float = 5.0
    # models (docs/models.md: vgg16_classifier, decomposition_classifier, roi_unet)
    classifier_width: float = 1.0
    classifier_dropout: float = 0.5  # keep probability never given (spec ambiguity 10)
    detector_base_filters: int = 64
    detector_depth: int = 4
    # training: Tables 4.1 / 4.5 (classifiers) and 4.4 (ROI detectors)
    classifier: StageTraining = field(default_factory=lambda: StageTraining.of_recipe(STAGE_RECIPES["classifier"]))
    detector: StageTraining = field(default_factory=lambda: StageTraining.of_recipe(STAGE_RECIPES["detector"]))
    checkpoint_every_steps: int | None = 1000  # resumable inside a 5000-step "epoch"
    # decomposition (§4.3-4.4)
    size_groups: int = 5  # q20 / q40 / q60 / q80 of the training annotation sizes -> P0 .. P4
    detector_losses: tuple[str, ...] = DETECTOR_LOSSES
    ss_weight: float = 0.05  # ρ of the SS loss, never given (Brosch et al.'s value)
    merge_loss: str = "dice"  # whose five detectors feed Eq. 4.2 (Dice "was superior for all the five")
    mask_threshold: float = 0.5  # detector probability -> binary ROI mask
    overlap_threshold: float = 0.2  # Eq. 4.1: a hit when |A∩B| / min(|A|, |B|) >= 0.2
    eval_batch_size: int = 50
    progress: bool = True

    def __post_init__(self):
        if isinstance(self.classifier, dict):
            self.classifier = StageTraining(**self.classifier)
        if isinstance(self.detector, dict):
            self.detector = StageTraining(**self.detector)
        self.detector_losses = tuple(self.detector_losses)
        check_scale(self.scale)
        unknown = set(self.detector_losses) - set(DETECTOR_LOSSES)
        if unknown or not self.detector_losses:
            raise ConfigError(f"detector losses must be among {', '.join(DETECTOR_LOSSES)}, got "
                              f"{list(self.detector_losses)}")
        if self.merge_loss not in self.detector_losses:
            raise ConfigError(f"merge_loss {self.merge_loss!r} is not one of the trained detector losses")
        if self.size_groups < 1:
            raise ConfigError("size_groups must be >= 1")


SMOKE = dict(synthetic_per_class=15, synthetic_size=256, work_size=256, input_size=64,
             classifier_width=1 / 16, detector_base_filters=4,
             checkpoint_every_steps=None, eval_batch_size=16, progress=False)
# Smoke changes to the registry's stage training (the decay factor stays the thesis' 0.75).
SMOKE_STAGES = {"classifier": dict(batch_size=8, steps_per_epoch=12, epochs=1, learning_rate=1e-3),
                "detector": dict(batch_size=4, steps_per_epoch=4, epochs=1, learning_rate=1e-3)}


def build_config(scale: str = "smoke", data_root: str | None = None, seed: int = 0,
                 from_run: str | None = None) -> KthClsConfig:
    """full = the thesis' sizes, steps and rates; smoke = tiny widths, 64 px, one short epoch per network."""
    overrides = {}
    if scale == "smoke":
        overrides = {**SMOKE, **{stage: replace(StageTraining.of_recipe(recipe), **SMOKE_STAGES[stage])
                                 for stage, recipe in STAGE_RECIPES.items()}}
    return KthClsConfig(scale=scale, data_root=data_root, seed=seed, from_run=from_run, **overrides)


# ------------------------------------------------------------------------------------------------------- data
@dataclass
class ClsData:
    """The preprocessed set: images (N, s, s) in [0, 1], ROI masks (N, s, s) 0/1, DDSM3 class ids, splits."""
    images: np.ndarray
    masks: np.ndarray
    class_ids: np.ndarray
    splits: np.ndarray
    roi_pixels: np.ndarray  # annotation size at the work size (the size groups' measure)
    path: Path

    def index(self, split: str) -> np.ndarray:
        return np.flatnonzero(self.splits == split)


def _log(message: str) -> None:
    print(f"[kth-cls] {message}", flush=True)


def prepare_data(config: KthClsConfig, run_dir: Path) -> ClsData:
    """The classification store of this run (built from --data-root or a synthetic DDSM-like set) or --from-run's."""
    from data_prep.classification import build_classification_set, read_class_store

    from ..data.preprocess import ClaheParams, KthClsParams

    if config.from_run:
        path = Path(config.from_run) / DATA_STORE
        if not path.is_file():
            raise DataError(path, "no classification store in the run given by --from-run")
    else:
        path = run_dir / DATA_STORE
        source = config.data_root
        if source is None:
            from ..data.synthetic_ddsm import make_ddsm_like

            side = config.synthetic_size
            _log(f"generating {config.synthetic_per_class} synthetic DDSM-like images per class ({side} px)")
            source = make_ddsm_like(run_dir / "data" / "ddsm", n_per_class=config.synthetic_per_class,
                                    size=(side, side), seed=config.seed)
        params = KthClsParams(work_size=config.work_size, out_size=config.input_size,
                              clahe=ClaheParams(clip_limit=config.clahe_clip))
        report = build_classification_set(source, path, params, test_fraction=config.test_fraction,
                                          seed=config.seed, progress_bar=config.progress)
        _log(f"classification store {path}: {sum(report.counts.values())} images, {len(report.dropped)} dropped")
    store = read_class_store(path)
    frame = store.manifest
    if store.images.shape[1:] != (config.input_size, config.input_size):
        raise DataError(path, f"images are {store.images.shape[1:]}, the configuration expects "
                              f"{config.input_size} px")
    data = ClsData(store.images.astype(np.float32), store.masks, frame["class_id"].to_numpy(np.int64),
                   frame["split"].to_numpy(str), frame["roi_pixels_work"].to_numpy(np.int64), path)
    for split in ("train", "test"):
        if data.index(split).size == 0:
            raise DataError(path, f"no {split} images (the thesis trains on an 80 % split and tests on the rest)")
    return data


def balanced_batches(channels, class_ids, batch_size: int, steps_per_epoch: int, config: KthClsConfig,
                     start_epoch: int = 0):
    """Endless class-balanced, flipped and rotated (x (B, s, s, C), class id) batches of C stacked channels.

    `classification_dataset` takes one channel; it runs once per channel with the same seed. Its draws and its
    flip / rotation are stateless functions of (seed, epoch, position), so every channel of an example comes from
    the same image with the same geometry; the class ids of the streams are asserted equal.
    """
    import tensorflow as tf

    from ..data.pipeline import ClassifierPipelineConfig, classification_dataset

    cfg = ClassifierPipelineConfig(batch_size=batch_size, steps_per_epoch=steps_per_epoch, max_value=1.0,
                                   flip_p=config.flip_p, max_rotation_deg=config.max_rotation_deg, seed=config.seed)
    streams = tuple(classification_dataset(np.asarray(c, np.float32), class_ids, cfg, start_epoch)
                    for c in channels)

    def stack(*pairs):
        ids = pairs[0][1]
        checks = [tf.debugging.assert_equal(ids, other, message="channel streams drew different images")
                  for _, other in pairs[1:]]
        with tf.control_dependencies(checks):
            return tf.concat([x for x, _ in pairs], axis=-1), tf.identity(ids)

    return tf.data.Dataset.zip(streams).map(stack)


def mask_batches(images, masks, batch_size: int, steps_per_epoch: int, config: KthClsConfig, start_epoch: int = 0):
    """ROI-detector training batches (x (B, s, s, 1), mask (B, s, s) int32): uniform draws with replacement, the
    classifier's flip and rotation applied to image and mask alike (mask re-binarised at 0.5)."""
    import tensorflow as tf

    stacked = balanced_batches([images, masks], np.zeros(len(images), np.int64), batch_size, steps_per_epoch,
                               config, start_epoch)
    return stacked.map(lambda x, _: (x[..., :1], tf.cast(x[..., 1] > 0.5, tf.int32)))


def eval_batches(x: np.ndarray, y: np.ndarray, batch_size: int):
    """A finite dataset in order, the last partial batch kept (validation during training)."""
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)


# --------------------------------------------------------------------------------------------------- training
def train_overrides(stage: StageTraining, config: KthClsConfig) -> dict:
    """What this run changes in a training recipe: the stage's scale, the seed and the logging."""
    return dict(batch_size=stage.batch_size, steps_per_epoch=stage.steps_per_epoch, epochs=stage.epochs,
                learning_rate=stage.learning_rate, lr_factor=stage.lr_decay, seed=config.seed,
                progress=config.progress, tensorboard=config.progress,
                checkpoint_every_steps=config.checkpoint_every_steps)


def model_overrides(config: KthClsConfig, recipe_name: str) -> dict:
    """Input size and width of the classifier (1 or 2 channels) or ROI detector of this run."""
    side = config.input_size
    if recipe_name in CLASSIFIER_RECIPES.values():
        channels = next(c for c, name in CLASSIFIER_RECIPES.items() if name == recipe_name)
        return dict(input_shape=(side, side, channels), width=config.classifier_width,
                    dropout=config.classifier_dropout)
    return dict(input_shape=(side, side, 1), base_filters=config.detector_base_filters, depth=config.detector_depth)


def build_network(config: KthClsConfig, recipe_name: str):
    """The recipe's network at this run's size, untrained (weights of a --from-run are loaded into it)."""
    from ..models import build_model
    from ..train.recipes import get_recipe

    recipe = get_recipe(recipe_name)
    return build_model(recipe.model, **{**recipe.model_kwargs, **model_overrides(config, recipe_name)})


def recipe_trainer(recipe_name: str, stage: StageTraining, stage_dir: Path, config: KthClsConfig, class_names,
                   **loss_overrides):
    from ..train.recipes import build_trainer, get_recipe

    return build_trainer(get_recipe(recipe_name), stage_dir, model_overrides=model_overrides(config, recipe_name),
                         train_overrides=train_overrides(stage, config), loss_overrides=loss_overrides,
                         class_names=class_names)


def _trained_or_loaded(stage_dir: Path, recipe_name: str, config: KthClsConfig, train: Callable):
    """The stage's final weights: trained here, or read from the --from-run directory `stage_dir`."""
    if config.from_run:
        weights = stage_dir / WEIGHTS
        if not weights.is_file():
            raise DataError(weights, "no trained weights in the run given by --from-run (was it this pipeline, "
                                     "at this scale?)")
        model = build_network(config, recipe_name)
        model.load_weights(str(weights))
        return model
    return train()


def train_classifier(stage_dir: Path, channels: list, class_ids, val_channels: list, val_ids,
                     config: KthClsConfig):
    """Fit the end-to-end (1 channel) or decomposition (2 channels) VGG classifier; returns the final model."""
    stage = config.classifier
    trainer = recipe_trainer(CLASSIFIER_RECIPES[len(channels)], stage, stage_dir, config, DDSM3.names)
    val_x = np.stack(val_channels, axis=-1).astype(np.float32)
    _log(f"training the {len(channels)}-channel classifier ({trainer.model.count_params():,} parameters) for "
         f"{stage.total_steps} steps of {stage.batch_size}")
    trainer.fit(lambda epoch: balanced_batches(channels, class_ids, stage.batch_size, stage.steps_per_epoch,
                                               config, epoch),
                lambda: eval_batches(val_x, np.asarray(val_ids, np.int32), config.eval_batch_size),
                stage.steps_per_epoch)
    return trainer.load_best()


def train_detector(stage_dir: Path, loss_name: str, images, masks, val_images, val_masks, config: KthClsConfig):
    stage = config.detector
    extra = {"sensitivity_weight": config.ss_weight} if loss_name == "sensitivity_specificity" else {}
    trainer = recipe_trainer(DETECTOR_RECIPES[loss_name], stage, stage_dir, config, ("background", "roi"), **extra)
    trainer.fit(lambda epoch: mask_batches(images, masks, stage.batch_size, stage.steps_per_epoch, config, epoch),
                lambda: eval_batches(val_images[..., None], val_masks.astype(np.int32), config.eval_batch_size),
                stage.steps_per_epoch)
    return trainer.load_best()


def predict(model, x: np.ndarray, batch_size: int) -> np.ndarray:
    """Inference-mode outputs in batches, run eagerly: `model.predict` would trace a new function for each of
    the eleven networks of a run, which costs more than the forward passes themselves at smoke scale."""
    x = np.asarray(x, np.float32)
    parts = [np.asarray(model(x[i:i + batch_size], training=False), np.float64) for i in range(0, len(x), batch_size)]
    return np.concatenate(parts) if parts else np.zeros((0, *model.output_shape[1:]))


# ---------------------------------------------------------------------------------------- ROI detectors (§4.3)
def size_group_thresholds(train_sizes, groups: int = 5) -> np.ndarray:
    """The q20 / q40 / q60 / q80 (for 5 groups) of the training annotation sizes (L1613-1626)."""
    sizes = np.asarray(train_sizes, np.float64)
    if sizes.size == 0:
        raise DataError(None, "no annotated training images to derive the annotation-size groups from")
    return np.percentile(sizes, [100.0 * k / groups for k in range(1, groups)])


def size_groups(sizes, thresholds) -> np.ndarray:
    """Group of each size: P_k holds q_k <= size < q_{k+1} (the same training thresholds for test images)."""
    return np.searchsorted(np.asarray(thresholds, np.float64), np.asarray(sizes, np.float64), side="right")


def overlap_coefficients(masks, predicted) -> np.ndarray:
    """Szymkiewicz-Simpson |A∩B| / min(|A|, |B|) per image; 0 when either set is empty (nothing was found)."""
    a = np.asarray(masks, bool).reshape(len(masks), -1)
    b = np.asarray(predicted, bool).reshape(len(predicted), -1)
    smaller = np.minimum(a.sum(axis=1), b.sum(axis=1))
    both = (a & b).sum(axis=1)
    return np.divide(both, smaller, out=np.zeros(len(a)), where=smaller > 0)


def detector_scores(probabilities, masks, threshold: float = 0.5, overlap_threshold: float = 0.2) -> dict:
    """Per-pixel accuracy / precision / recall over a set (the thesis' TP/TN/FP/FN counts) and Eq. 4.1's
    overlap-accuracy (share of images with overlap >= 0.2)."""
    from ..train.metrics import confusion_matrix, segmentation_metrics

    masks = np.asarray(masks, bool)
    if masks.size == 0:
        return {"images": 0, "pixel_accuracy": float("nan"), "precision": float("nan"), "recall": float("nan"),
                "overlap_accuracy": float("nan")}
    predicted = np.asarray(probabilities).reshape(masks.shape) > threshold
    metrics = segmentation_metrics(confusion_matrix(masks, predicted, 2), ("background", "roi"))
    hits = overlap_coefficients(masks, predicted) >= overlap_threshold
    return {"images": int(len(masks)), "pixel_accuracy": metrics["pixel_accuracy"],
            "precision": metrics["per_class_precision"]["roi"], "recall": metrics["per_class_sensitivity"]["roi"],
            "overlap_accuracy": float(hits.mean())}


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(logits, -60.0, 60.0)))


def train_detectors(data: ClsData, out_dir: Path, config: KthClsConfig) -> tuple[np.ndarray, list[dict]]:
    """Train the size-group x loss detectors; return the merged heat map of every image (Eq. 4.2) and a summary.

    Each detector sees the annotated training images of its group only and is monitored on the group's test
    images (the whole annotated test set when the group has none). The heat map sums the binarised outputs of
    the `merge_loss` detectors over all images, normal ones included.
    """
    annotated = data.roi_pixels > 0
    train_idx = np.flatnonzero(annotated & (data.splits == "train"))
    test_idx = np.flatnonzero(annotated & (data.splits == "test"))
    thresholds = size_group_thresholds(data.roi_pixels[train_idx], config.size_groups)
    groups = size_groups(data.roi_pixels, thresholds)
    bounds = [0.0, *thresholds.tolist()]
    heat = np.zeros(data.images.shape, np.float32)
    summary = []
    for loss_name in config.detector_losses:
        for group in range(config.size_groups):
            tr = train_idx[groups[train_idx] == group]
            te = test_idx[groups[test_idx] == group]
            monitor = te if te.size else test_idx
            if tr.size == 0:
                raise DataError(data.path, f"size group P{group} has no annotated training image")
            _log(f"ROI detector {loss_name} P{group}: {tr.size} training / {te.size} test images")
            model = train_detector(out_dir / f"{loss_name}_P{group}", loss_name, data.images[tr], data.masks[tr],
                                   data.images[monitor], data.masks[monitor], config)
            probs = _sigmoid(predict(model, data.images[..., None], config.eval_batch_size)[..., 0])
            score = lambda idx: detector_scores(probs[idx], data.masks[idx], config.mask_threshold,  # noqa: E731
                                                config.overlap_threshold)
            summary.append({"loss": loss_name, "group": f"P{group}", "size_from": bounds[group],
                            "size_to": bounds[group + 1] if group + 1 < config.size_groups else None,
                            "train": score(tr), "test": score(te),
                            "complete_test": score(test_idx)})
            if loss_name == config.merge_loss:
                heat += (probs > config.mask_threshold).astype(np.float32)
    return heat, summary


DETECTOR_COLUMNS = (("test", "pixel_accuracy", "test pixel acc."), ("test", "precision", "test precision"),
                    ("test", "recall", "test recall"), ("test", "overlap_accuracy", "test overlap-acc."),
                    ("complete_test", "overlap_accuracy", "complete test overlap-acc."),
                    ("train", "overlap_accuracy", "train overlap-acc."))


def detector_table(summary: list[dict]) -> str:
    """Markdown: one row per detector, the Fig. 4.3 measures at the end of training (the thesis has no table).

    `summary` is the saved JSON form: undefined values are null, the last group's upper bound too."""
    from ..evaluate.report import markdown_table

    header = ["loss", "group", "ROI px (work size)", "train imgs", "test imgs", *(c[2] for c in DETECTOR_COLUMNS)]
    rows = []
    for s in summary:
        upper = "inf" if s["size_to"] is None else f"{s['size_to']:.0f}"
        values = [s[part][key] for part, key, _ in DETECTOR_COLUMNS]
        rows.append([s["loss"], s["group"], f"[{s['size_from']:.0f}, {upper})", s["train"]["images"],
                     s["test"]["images"], *(float("nan") if v is None else v for v in values)])
    return markdown_table(header, rows, digits=3)


def heat_map_table(heat: np.ndarray, data: ClsData) -> str:
    """EXP-3 sanity check: per class, the share of images whose merged heat map is not empty, and its mean."""
    from ..evaluate.report import markdown_table

    rows = []
    for name in CLASS_COLUMNS:
        idx = np.flatnonzero(data.class_ids == DDSM3.id(name))
        flat = heat[idx].reshape(len(idx), -1)
        rows.append([name, len(idx), float((flat > 0).any(axis=1).mean()) if len(idx) else float("nan"),
                     float(flat.mean()) if len(idx) else float("nan")])
    return markdown_table(["class", "images", "non-empty heat map", "mean heat value (0-5)"], rows, digits=3)


# ------------------------------------------------------------------------------------------------- evaluation
def evaluate_split(model, channels: list, data: ClsData, split: str, out_dir: Path, config: KthClsConfig) -> dict:
    """classification_eval's report on one split (unbalanced, no augmentation), saved as JSON and plots."""
    from ..evaluate.classification_eval import classification_report
    from ..evaluate.report import plot_confusion_matrix, plot_roc_curves
    from ..io.atomic import atomic_write_text

    idx = data.index(split)
    x = np.stack([c[idx] for c in channels], axis=-1)
    report = classification_report(data.class_ids[idx], predict(model, x, config.eval_batch_size), DDSM3.names)
    plot_confusion_matrix(report["confusion_matrix"], DDSM3.names, out_dir / f"confusion_{split}.png",
                          normalize=False, title=f"{split} set (rows = truth)")
    plot_roc_curves({n: (*report["roc"][n][:2], report["auc"][n]) for n in DDSM3.names}, out_dir / f"roc_{split}.png")
    saved = {key: report[key] for key in ("top1_accuracy", "per_class", "mean", "auc")}
    saved["confusion_matrix"] = np.asarray(report["confusion_matrix"]).tolist()
    saved["class_names"] = list(DDSM3.names)
    atomic_write_text(out_dir / f"eval_{split}.json", json.dumps(strict_json(saved), indent=1, allow_nan=False))
    return report


def table_rows(report: dict, note: str) -> list[ResultRow]:
    """Rows of Tables 4.2-4.7 (thesis columns Cancer, Normal, Benign, Mean) plus the per-class AUC (no thesis value)."""
    rows = []
    for title, key in ROW_METRICS.items():
        metrics = {c: report["per_class"][key][c] for c in CLASS_COLUMNS}
        metrics["mean"] = report["mean"][key]
        row_note = note
        if title == "Specificity":
            row_note += "; TN/(TN+FP) of argmax decisions (the thesis' row does not follow from its other rows)"
        rows.append(ResultRow(title, metrics, row_note))
    auc = {c: report["auc"][c] for c in CLASS_COLUMNS}
    auc["mean"] = float(np.nanmean([auc[c] for c in CLASS_COLUMNS]))
    rows.append(ResultRow(AUC_ROW, auc, note + "; thesis: ROC curves only (Figs 4.1 / 4.5), no AUC values"))
    return rows


def _counts(data: ClsData, split: str) -> dict:
    idx = data.index(split)
    return {name: int((data.class_ids[idx] == DDSM3.id(name)).sum()) for name in CLASS_COLUMNS}


def context_text(config: KthClsConfig, data: ClsData, report: dict, split: str, pipeline: str) -> str:
    """What ran, on what, and the sanity figures of spec EXP-6 (top-1 accuracy, chance levels)."""
    counts = _counts(data, split)
    total = sum(counts.values())
    source = (f"data from {config.data_root}" if config.data_root else
              f"synthetic DDSM-like stand-in ({config.synthetic_per_class} images per class, "
              f"{config.synthetic_size} px)")
    stage = config.classifier
    random_guess = ", ".join(f"{c} {n / total / 3 + (1 - n / total) * 2 / 3:.4f}" for c, n in counts.items())
    normal_share = counts["normal"] / total
    lines = [
        f"Scale **{config.scale}**, {source}; {split} set of {total} images "
        f"({', '.join(f'{c} {n}' for c, n in counts.items())}; thesis: "
        f"{', '.join(f'{c} {n}' for c, n in THESIS_COUNTS[split].items())}). Input {config.input_size} px "
        f"(work size {config.work_size}, CLAHE clip {config.clahe_clip}).",
        f"Classifier ({pipeline.replace('_', '-')}): VGG16-BN width x{config.classifier_width:g}, dropout "
        f"{config.classifier_dropout}, Adam lr {stage.learning_rate:g} x{stage.lr_decay} per epoch, "
        f"{stage.total_steps} steps of {stage.batch_size} class-balanced images, random init (as in the thesis).",
        f"Top-1 (3-class) accuracy {report['top1_accuracy']:.4f}; mean one-vs-all accuracy = (1 + 2 top-1) / 3 = "
        f"{(1 + 2 * report['top1_accuracy']) / 3:.4f}. Chance levels (footnote 5's formula, our counts): "
        f"{random_guess}; always 'normal': mean one-vs-all accuracy {(1 + 2 * normal_share) / 3:.4f}. "
        f"Micro AUC {report['auc']['micro']:.4f}.",
    ]
    if config.scale == "smoke":
        lines.append("Smoke scale on synthetic data: the numbers show that the pipeline runs, not the thesis' "
                     "results.")
    return "\n\n".join(lines)


# ------------------------------------------------------------------------------------------------- pipelines
def _check_reusable(config: KthClsConfig) -> None:
    """--from-run must come from a run with the same data and model settings (its config.json)."""
    if not config.from_run:
        return
    path = Path(config.from_run) / "config.json"
    try:
        previous = json.loads(path.read_text())["config"]
    except FileNotFoundError:
        raise DataError(path, "not found: --from-run takes the run directory of a kth-cls table script") from None
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise DataError(path, f"not a run configuration ({exc})") from None
    ours = json.loads(json.dumps(asdict(config)))
    ignored = {"from_run", "progress"}
    differing = sorted(k for k in ours if k not in ignored and previous.get(k) != ours[k])
    if differing:
        raise DataError(path, f"its settings differ from this run's in {', '.join(differing)}; pass the same "
                              f"--scale / --data-root / --seed")


def run_end_to_end(config: KthClsConfig, run_dir: Path, split: str):
    """Tables 4.2 (test) / 4.3 (train): train (or reuse) the 1-channel classifier and evaluate both splits."""
    _check_reusable(config)
    run_dir = Path(run_dir)
    data = prepare_data(config, run_dir)
    source_dir = Path(config.from_run) if config.from_run else run_dir
    stage_dir = run_dir / "end_to_end"
    stage_dir.mkdir(parents=True, exist_ok=True)
    train, test = data.index("train"), data.index("test")
    model = _trained_or_loaded(
        source_dir / "end_to_end", CLASSIFIER_RECIPES[1], config,
        lambda: train_classifier(stage_dir, [data.images[train]], data.class_ids[train], [data.images[test]],
                                 data.class_ids[test], config))
    reports = {s: evaluate_split(model, [data.images], data, s, stage_dir, config) for s in ("test", "train")}
    note = _row_note(config, split)
    return table_rows(reports[split], note), context_text(config, data, reports[split], split, "end_to_end")


def run_decomposition(config: KthClsConfig, run_dir: Path, split: str):
    """Tables 4.6 (test) / 4.7 (train): ROI detectors -> heat map -> 2-channel classifier (or reuse them)."""
    from ..io.atomic import atomic_write_text

    _check_reusable(config)
    run_dir = Path(run_dir)
    data = prepare_data(config, run_dir)
    stage_dir = run_dir / "decomposition"
    stage_dir.mkdir(parents=True, exist_ok=True)
    if config.from_run:
        source = Path(config.from_run) / "decomposition"
        heat_path = source / HEAT_MAPS
        if not heat_path.is_file():
            raise DataError(heat_path, "no ROI heat maps in the run given by --from-run")
        heat = np.load(heat_path)
        summary = json.loads((source / DETECTOR_SUMMARY).read_text())
    else:
        heat, summary = train_detectors(data, run_dir / "detectors", config)
        _save_npy(stage_dir / HEAT_MAPS, heat)
        atomic_write_text(stage_dir / DETECTOR_SUMMARY, json.dumps(strict_json(summary), indent=1, allow_nan=False))
        summary = json.loads((stage_dir / DETECTOR_SUMMARY).read_text())  # the same form a --from-run reads
    channels = [data.images, heat]
    train, test = data.index("train"), data.index("test")
    model = _trained_or_loaded(
        Path(config.from_run) / "decomposition" if config.from_run else stage_dir, CLASSIFIER_RECIPES[2], config,
        lambda: train_classifier(stage_dir, [c[train] for c in channels], data.class_ids[train],
                                 [c[test] for c in channels], data.class_ids[test], config))
    reports = {s: evaluate_split(model, channels, data, s, stage_dir, config) for s in ("test", "train")}
    detectors = detector_table(summary)
    atomic_write_text(stage_dir / "detectors.md", detectors)
    stage = config.detector
    context = context_text(config, data, reports[split], split, "decomposition")
    context += (f"\n\nROI detectors (Fig. 4.3 has curves, no table): roi_unet base {config.detector_base_filters}, "
                f"{stage.total_steps} steps of {stage.batch_size}, Adam lr {stage.learning_rate:g} "
                f"x{stage.lr_decay} per {stage.steps_per_epoch} steps; SS weight ρ = {config.ss_weight}; "
                f"a detector's output is a mask where its probability > {config.mask_threshold}; overlap-accuracy: "
                f"share of images with |A∩B| / min(|A|, |B|) >= {config.overlap_threshold}. The heat map channel "
                f"sums the five {config.merge_loss} detectors' masks.\n\n" + detectors
                + "\nMerged heat map (Eq. 4.2), all images of both splits:\n\n" + heat_map_table(heat, data))
    return table_rows(reports[split], _row_note(config, split)), context


def _row_note(config: KthClsConfig, split: str) -> str:
    where = "synthetic data" if config.data_root is None else "given data"
    return f"{config.scale} scale, {where}, {split} set"


def strict_json(value):
    """JSON-safe copy: numpy scalars as Python numbers, NaN / inf (undefined metrics) as null."""
    if isinstance(value, dict):
        return {str(k): strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def _save_npy(path: Path, array: np.ndarray) -> None:
    from ..io.atomic import atomic_path

    with atomic_path(path) as tmp:
        np.save(tmp, array)


FROM_RUN_HELP = "run directory of this pipeline's other table script: reuse its data store and trained weights"
RUNS = {"end_to_end": run_end_to_end, "decomposition": run_decomposition}


def script_main(name: str, table: ThesisTable, pipeline: str, split: str, argv=None) -> int:
    """The common experiment command line plus `--from-run DIR` (reuse a finished run of the same pipeline)."""
    if pipeline not in RUNS or split not in ("train", "test"):
        raise ConfigError(f"unknown pipeline / split {pipeline!r} / {split!r}")
    return experiment_main(name, table, build_config, lambda config, run_dir: RUNS[pipeline](config, run_dir, split),
                           argv, from_run_option(FROM_RUN_HELP))
