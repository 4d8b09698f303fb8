"""Generic "train segmentation models, then evaluate them" recipe shared by `kth-seg` and `lrh-seg`.

A thesis table is a list of `StageSpec`s (one per model row: registry name, input size, crop dataset, the
thesis' learning rate / weight decay / keep probability / batch size, and the row it is initialised from) and a
data source (`MammoCropData`: class-balanced crop stores + full test images; `CityscapesData`: the official
layout). `train_and_evaluate_segmentation` trains every row the table needs in dependency order (FCN32 -> FCN16
-> FCN8, Dilation10 front -> context -> global), optionally fine-tunes them adversarially
(`mammoseg.train.adversarial`), evaluates the reported rows on "val" or "test" and returns their metrics.

Stages write `<run_dir>/<data name>/<slug>/` (the Trainer's run folder: metrics.csv, training_curve.png,
checkpoints, best.weights.h5) plus `stage.json` (the spec it was trained with and where its best weights are).
`reuse_from=<an earlier run dir>` skips every stage whose stage.json there matches the current spec, so the tables
that share models (kth-seg 5.2 / 5.3, 5.5 / 5.6) train them once; a stage trained with other settings raises a
ConfigError instead of being silently reused.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..errors import ConfigError, DataError
from ..experiment import check_scale
from ..labels import CITYSCAPES19, MAMMO13, LabelSet

STAGE_RECORD = "stage.json"
DATA_RECORD = "data.json"  # in a run dir: where each data source of the run lives (reused by --from-run)
METRIC_KEYS = ("pixel_accuracy", "mean_iou", "mean_class_accuracy")
KTH_ELASTIC_P = 0.25  # probability of an elastically deformed crop in kth-seg's crop datasets (L879-886)


# ------------------------------------------------------------------------------------------------ specifications
@dataclass(frozen=True)
class HyperParams:
    """One row of kth-seg Tables 4.12 / 4.13. `keep_prob` is TF1's dropout argument (1.0 = no dropout)."""
    learning_rate: float
    weight_decay: float
    keep_prob: float
    batch_size: int

    @property
    def dropout_rate(self) -> float:
        return 1.0 - self.keep_prob


@dataclass(frozen=True)
class StageSpec:
    """One trained model: a results-table row."""
    row: str  # the thesis' row name, e.g. "Dilation10 - Context"
    model: str  # mammoseg.models registry name
    input_size: int  # square network input (training crop)
    crop_size: int  # crop dataset it trains on (mammography); Cityscapes crops the full images
    hparams: HyperParams
    init_from: str | None = None  # row whose trained weights start this one (FCN16 <- FCN32, ...)
    model_kwargs: dict = field(default_factory=dict)  # builder arguments (widths at smoke scale, U-Net depth)
    encoder_weights: str | None = None  # ImageNet .npz for the encoder (docs/models.md "Pretrained weights")
    patience: int = 20  # early stopping on the monitored value, epochs

    @property
    def slug(self) -> str:
        return self.model


@dataclass(frozen=True)
class Schedule:
    """Everything about training that is not per row: epochs, LR halving, momentum, logging."""
    epochs: int = 300
    lr_schedule: str = "plateau"  # plateau (kth-seg) | step (lrh-seg Table 8: x lr_factor every lr_step_epochs)
    lr_patience: int = 10  # "learning rate halved every time patience reached 10" (kth-seg L1481-1482)
    lr_factor: float = 0.5
    lr_step_epochs: int = 10
    momentum: float = 0.9  # "SGD with momentum", value unstated
    steps_per_epoch: int | None = None  # cap on steps per epoch (smoke scale); None = one pass over the data
    batch_cap: int | None = None  # smoke scale: min(thesis batch, cap)
    keep_checkpoints: int = 1
    progress: bool = True
    tensorboard: bool = True
    seed: int = 0


@dataclass(frozen=True)
class AdversarialSettings:
    """kth-seg §4.4 (L1484-1499): fixed rates, plain SGD, 1 generator update per 50 discriminator updates."""
    generator_lr: float = 1e-6
    discriminator_lr: float = 1e-5
    adversarial_weight: float = 0.1
    discriminator_steps_per_generator_step: int = 50
    gradient_penalty_weight: float = 10.0
    discriminator_kwargs: dict = field(default_factory=dict)  # e.g. width at smoke scale
    epochs: int = 300
    patience: int = 20  # epochs without a better val mean IoU


@dataclass
class RowOutcome:
    """What the table needs about one row."""
    row: str
    metrics: dict  # pixel_accuracy, mean_iou, mean_class_accuracy (fractions) + per-class dicts
    weights: Path | None
    reused: bool
    best_epoch: int | None = None
    epochs_run: int | None = None
    baseline: dict | None = None  # adversarial rows: the same metrics of the non-adversarial starting point
    failure: str | None = None  # why the row has no numbers (diverged, or a stage it starts from did)


def check_preset(thesis: str, table: str, known, scale: str) -> None:
    """One message for an unknown table or scale, whichever segmentation thesis asks."""
    if table not in known:
        raise ConfigError(f"unknown {thesis} table {table!r}; known: {', '.join(known)}")
    check_scale(scale)


def optional_path(value) -> str | None:
    """Paths stored in configs as plain strings (JSON-friendly); None stays None."""
    return None if value is None else str(value)


def batch_size_of(spec: StageSpec, schedule: Schedule) -> int:
    b = spec.hparams.batch_size
    return min(b, schedule.batch_cap) if schedule.batch_cap else b


def needed_rows(specs: Sequence[StageSpec], rows: Sequence[str]) -> list[StageSpec]:
    """The specs of `rows` and of every row they are initialised from, parents first."""
    by_row = {s.row: s for s in specs}
    order: list[StageSpec] = []

    def visit(row: str, chain: tuple) -> None:
        if row in chain:
            raise ConfigError(f"initialisation cycle: {' -> '.join(chain + (row,))}")
        if row not in by_row:
            raise ConfigError(f"no stage spec for row {row!r}; known: {', '.join(by_row)}")
        spec = by_row[row]
        if spec.init_from:
            visit(spec.init_from, chain + (row,))
        if spec not in order:
            order.append(spec)

    for row in rows:
        visit(row, ())
    return order


# ------------------------------------------------------------------------------------------------ evaluation
def probability_predictor(model):
    """Compiled tiles -> softmax probabilities, for the sliding window (one trace per tile shape)."""
    import keras
    import tensorflow as tf

    return tf.function(lambda x: keras.ops.softmax(model(x, training=False), axis=-1), reduce_retracing=True)


def metrics_from_confusion(cm: np.ndarray, label_set: LabelSet) -> dict:
    from ..train.metrics import segmentation_metrics

    out = segmentation_metrics(cm, label_set.names)
    out["confusion_matrix"] = np.asarray(cm).tolist()
    return out


def confusion_over_batches(model, dataset, label_set: LabelSet) -> np.ndarray:
    """One confusion matrix over a finite (x, y) dataset; labels centre-cropped to valid-padding outputs."""
    import tensorflow as tf

    from ..train.metrics import tf_confusion_matrix

    @tf.function(reduce_retracing=True)
    def step(x, y):
        return tf_confusion_matrix(y, model(x, training=False), label_set.num_classes, label_set.ignore_id)

    cm = np.zeros((label_set.num_classes,) * 2, np.float64)
    for x, y in dataset:
        cm += step(x, y).numpy()
    return cm


# ------------------------------------------------------------------------------------------------ data sources
class MammoCropData:
    """kth-seg mammography: class-balanced crop stores per crop size (train / val), full images for test.

    `root` is a merged dataset in the documented layout (`<case>/image.*`, `<case>/label.png`, `splits.csv`).
    Crop stores are built on first use into `crops_dir` (thesis §4.1: class-balanced centres, elastic deformation
    with probability `elastic_p`: 0.25 in kth-seg, 0 in lrh-seg) and streamed from disk (`open_crop_store`), so
    the 1500-px stores of Table 4.2 need no memory of their size.
    Training: random crop of the input size from each stored crop, flip and contrast p=0.5, gray -> RGB, [-0.5,
    0.5] (`mammoseg.data.pipeline.train_dataset`). Validation: the centre input-size window of every val crop.
    Test: every full test image by sliding window with the model's input tile.
    """

    name = "mammography"
    val_matches_training = True  # evaluate("val") is exactly the Trainer's per-epoch validation

    def __init__(self, root, crops_dir, crops_per_image: dict, label_set: LabelSet = MAMMO13, seed: int = 0,
                 eval_overlap: float = 0.25, size_factors: dict | None = None, progress: bool = False,
                 elastic_p: float = KTH_ELASTIC_P):
        """crops_per_image: split -> crops per image; size_factors: crop size -> multiplier on those counts
        (kth-seg Table 4.2: the 1500-px dataset holds half as many crops as the others)."""
        self.root, self.crops_dir = Path(root), Path(crops_dir)
        self.crops_per_image = dict(crops_per_image)
        self.size_factors = {int(k): float(v) for k, v in (size_factors or {}).items()}
        self.label_set, self.seed, self.eval_overlap, self.progress = label_set, seed, eval_overlap, progress
        self.elastic_p = float(elastic_p)
        self._stores: dict = {}
        self._max_value: float | None = None
        missing = {"train", "val"} - set(self.crops_per_image)
        if missing:
            raise ConfigError(f"crops_per_image needs counts for {sorted(missing)}")

    def describe(self) -> dict:
        described = {"dataset": self.name, "root": str(self.root), "crops_per_image": self.crops_per_image,
                     "size_factors": self.size_factors, "label_set": self.label_set.name, "seed": self.seed}
        if self.elastic_p != KTH_ELASTIC_P:  # kth-seg's records predate the argument: keep them matching
            described["elastic_p"] = self.elastic_p
        return described

    def crops_for(self, crop_size: int, split: str) -> int:
        return max(1, int(round(self.crops_per_image[split] * self.size_factors.get(crop_size, 1.0))))

    def store_path(self, crop_size: int, split: str) -> Path:
        """The store's file name carries everything it was built from (elastic: only when not the thesis 0.25)."""
        n = self.crops_for(crop_size, split)
        elastic = {KTH_ELASTIC_P: "", 0.0: "_noelastic"}.get(self.elastic_p, f"_elastic{self.elastic_p:g}")
        return self.crops_dir / f"crops_{crop_size}_{split}_{n}per_image_seed{self.seed}{elastic}.h5"

    def store(self, crop_size: int, split: str):
        """The (crop_size, split) store, built on first use and opened for streaming (crops stay on disk)."""
        from data_prep.crops import build_crops
        from ..io.store import open_crop_store

        key = (crop_size, split)
        if key not in self._stores:
            path = self.store_path(crop_size, split)
            if not path.exists():
                build_crops(self.root, path, crop_size=crop_size, crops_per_image=self.crops_for(crop_size, split),
                            split=split, seed=self.seed, elastic_p=self.elastic_p, label_set=self.label_set,
                            progress=self.progress)
            self._stores[key] = open_crop_store(path)
        return self._stores[key]

    @property
    def max_value(self) -> float:
        """Intensity mapped to +0.5: the smallest 2**k - 1 covering the training images (12-bit -> 4095)."""
        if self._max_value is None:
            from data_prep.crops import read_case
            from ..data.pipeline import intensity_max
            from ..io.annotations import list_cases

            cases = list_cases(self.root, "train")
            if not cases:
                raise DataError(self.root, "no training cases in splits.csv")
            self._max_value = max(intensity_max(read_case(self.root, c, self.label_set)[0]) for c in cases)
        return self._max_value

    def _pipeline(self, spec: StageSpec, batch_size: int, seed: int):
        from ..data.pipeline import PipelineConfig

        return PipelineConfig(input_size=spec.input_size, batch_size=batch_size, max_value=self.max_value, seed=seed)

    def train_data(self, spec: StageSpec, batch_size: int, seed: int) -> tuple[Callable, int]:
        from ..data.pipeline import steps_per_epoch, train_dataset

        store, cfg = self.store(spec.crop_size, "train"), self._pipeline(spec, batch_size, seed)
        return (lambda epoch: train_dataset(store.images, store.labels, cfg, start_epoch=epoch),
                steps_per_epoch(len(store), batch_size))

    def val_data(self, spec: StageSpec, batch_size: int) -> Callable:
        from ..data.pipeline import eval_dataset

        store, cfg = self.store(spec.crop_size, "val"), self._pipeline(spec, batch_size, 0)
        return lambda: eval_dataset(store.images, store.labels, cfg)

    def class_weights(self, spec: StageSpec) -> np.ndarray:
        """w = 1 - x/100, x = % of the model's training crop dataset (Table 4.2 column) held by the class."""
        from ..train.losses import class_weights_from_frequencies, pixel_frequencies

        store = self.store(spec.crop_size, "train")
        return class_weights_from_frequencies(pixel_frequencies(store.label_blocks(), self.label_set.num_classes))

    def evaluate(self, model, spec: StageSpec, split: str) -> dict:
        if split == "val":
            cm = confusion_over_batches(model, self.val_data(spec, spec.hparams.batch_size)(), self.label_set)
            return metrics_from_confusion(cm, self.label_set)
        if split != "test":
            raise ConfigError(f"mammography evaluation split must be 'val' or 'test', not {split!r}")
        from data_prep.crops import read_case
        from ..evaluate.test_set import predict_label_map
        from ..io.annotations import list_cases
        from ..train.metrics import confusion_matrix

        cases = list_cases(self.root, "test")
        if not cases:
            raise DataError(self.root / "splits.csv", "no test cases")
        predictor = probability_predictor(model)
        cm = np.zeros((self.label_set.num_classes,) * 2, np.int64)
        for case in cases:
            image, label = read_case(self.root, case, self.label_set)
            pred = predict_label_map(model, image, self.max_value, self.eval_overlap, predictor=predictor)
            cm += confusion_matrix(label, pred, self.label_set.num_classes, self.label_set.ignore_id)
        return metrics_from_confusion(cm, self.label_set)


@dataclass(frozen=True)
class ColourJitter:
    """Cityscapes distortions (kth-seg L1410-1416), each applied with probability 0.5; ranges unstated."""
    p: float = 0.5
    saturation: tuple[float, float] = (0.8, 1.2)
    brightness: float = 0.2  # max delta on the [0, 1] scale
    contrast: tuple[float, float] = (0.8, 1.2)
    flip_p: float = 0.5


class CityscapesData:
    """Cityscapes (or the synthetic stand-in) in the official layout, 19 train ids, ignore 255.

    Training (thesis L1410-1416): random horizontal flip, then saturation, brightness and contrast distortions
    (each p=0.5), then a random crop of the network input, scaled to [-0.5, 0.5]. Images smaller than the input
    (Dilation10 global: 1400 > 1024) are padded, the padding labelled ignore. Every random decision is a
    stateless function of (seed, epoch, position), as in `mammoseg.data.pipeline`.
    Validation loss during training: the central input-size window of every val image. Table metrics: every
    full val image by sliding window. Class weights: w = 1 - x/100 from the training labels (ignore excluded).
    """

    name = "cityscapes"
    val_matches_training = False  # table metrics: full images; training validation: centre windows

    def __init__(self, root, label_set: LabelSet = CITYSCAPES19, jitter: ColourJitter = ColourJitter(),
                 eval_overlap: float = 0.25):
        from ..io.cityscapes import list_cityscapes_pairs

        self.root, self.label_set, self.jitter, self.eval_overlap = Path(root), label_set, jitter, eval_overlap
        self.pairs = {split: list_cityscapes_pairs(self.root, split) for split in ("train", "val")}
        self._weights: np.ndarray | None = None

    def describe(self) -> dict:
        return {"dataset": self.name, "root": str(self.root), "label_set": self.label_set.name,
                "train_images": len(self.pairs["train"]), "val_images": len(self.pairs["val"])}

    def class_weights(self, spec: StageSpec | None = None) -> np.ndarray:
        """Read (and check) every training label once; cached for all rows."""
        if self._weights is None:
            from ..io.cityscapes import read_cityscapes_label
            from ..train.losses import class_weights_from_frequencies, pixel_frequencies

            labels = (read_cityscapes_label(p.label_path) for p in self.pairs["train"])
            freqs = pixel_frequencies(labels, self.label_set.num_classes, self.label_set.ignore_id)
            self._weights = class_weights_from_frequencies(freqs)
        return self._weights

    def _files(self, split: str):
        import tensorflow as tf

        pairs = self.pairs[split]
        return (tf.constant([str(p.image_path) for p in pairs]), tf.constant([str(p.label_path) for p in pairs]))

    def _decode(self, image_path, label_path):
        """uint8 RGB -> float [0, 1]; label ids -> train ids through the 256-entry table (-1 stored as 255)."""
        import tensorflow as tf

        from ..labels import cityscapes_labelids_to_trainids

        lut = tf.constant(cityscapes_labelids_to_trainids(np.arange(256, dtype=np.uint8)), tf.int32)
        image = tf.cast(tf.io.decode_png(tf.io.read_file(image_path), channels=3), tf.float32) / 255.0
        ids = tf.cast(tf.io.decode_png(tf.io.read_file(label_path), channels=1)[..., 0], tf.int32)
        return image, tf.gather(lut, ids)

    def _pad_to(self, image, label, size: int):
        """Pad bottom/right to at least size x size: image 0.5 (mid-grey, 0 after scaling), label ignore."""
        import tensorflow as tf

        h, w = tf.shape(image)[0], tf.shape(image)[1]
        ph, pw = tf.maximum(size - h, 0), tf.maximum(size - w, 0)
        image = tf.pad(image, [[0, ph], [0, pw], [0, 0]], constant_values=0.5)
        label = tf.pad(label, [[0, ph], [0, pw]], constant_values=self.label_set.ignore_id)
        return image, label

    def train_data(self, spec: StageSpec, batch_size: int, seed: int) -> tuple[Callable, int]:
        import tensorflow as tf

        from ..data.pipeline import element_seed, steps_per_epoch

        images, labels = self._files("train")
        n, s, jit = len(self.pairs["train"]), spec.input_size, self.jitter
        steps = steps_per_epoch(n, batch_size)
        per_epoch = steps * batch_size

        def load(epoch, pos, idx):
            image, label = self._decode(images[idx], labels[idx])
            u = tf.random.stateless_uniform([4], element_seed(seed, epoch, pos, 30))
            flip = u[0] < jit.flip_p
            image = tf.where(flip, tf.reverse(image, [1]), image)
            label = tf.where(flip, tf.reverse(label, [1]), label)
            distorted = tf.image.stateless_random_saturation(image, *jit.saturation, element_seed(seed, epoch, pos, 31))
            image = tf.where(u[1] < jit.p, distorted, image)
            distorted = tf.image.stateless_random_brightness(image, jit.brightness, element_seed(seed, epoch, pos, 32))
            image = tf.where(u[2] < jit.p, distorted, image)
            distorted = tf.image.stateless_random_contrast(image, *jit.contrast, element_seed(seed, epoch, pos, 33))
            image = tf.clip_by_value(tf.where(u[3] < jit.p, distorted, image), 0.0, 1.0)
            image, label = self._pad_to(image, label, s)
            offs = tf.random.stateless_uniform([2], element_seed(seed, epoch, pos, 34), 0, 2 ** 30, tf.int64)
            top = tf.cast(offs[0] % tf.cast(tf.shape(image)[0] - s + 1, tf.int64), tf.int32)
            left = tf.cast(offs[1] % tf.cast(tf.shape(image)[1] - s + 1, tf.int64), tf.int32)
            image = tf.reshape(image[top:top + s, left:left + s], [s, s, 3]) - 0.5
            return image, tf.reshape(label[top:top + s, left:left + s], [s, s])

        def epoch_elements(epoch):
            order = tf.random.experimental.stateless_shuffle(tf.range(n), seed=element_seed(seed, epoch, 0, 35))
            return tf.data.Dataset.from_tensor_slices(order[:per_epoch]).enumerate().map(
                lambda pos, idx: (epoch, pos, idx))

        def make(start_epoch: int):
            ds = tf.data.Dataset.range(start_epoch, 2 ** 62).flat_map(epoch_elements)
            ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)

        return make, steps

    def val_data(self, spec: StageSpec, batch_size: int) -> Callable:
        import tensorflow as tf

        images, labels = self._files("val")
        s = spec.input_size

        def load(image_path, label_path):
            image, label = self._pad_to(*self._decode(image_path, label_path), s)
            top, left = (tf.shape(image)[0] - s) // 2, (tf.shape(image)[1] - s) // 2
            return (tf.reshape(image[top:top + s, left:left + s], [s, s, 3]) - 0.5,
                    tf.reshape(label[top:top + s, left:left + s], [s, s]))

        return lambda: tf.data.Dataset.from_tensor_slices((images, labels)).map(load).batch(batch_size)

    def evaluate(self, model, spec: StageSpec, split: str) -> dict:
        """Full val images by sliding window (the model's input tile); Cityscapes test labels are not public."""
        if split != "val":
            raise ConfigError(f"Cityscapes results are on the val split (test labels are private), not {split!r}")
        from ..evaluate.sliding_window import sliding_window_labels
        from ..io.cityscapes import read_cityscapes_pair
        from ..train.metrics import confusion_matrix

        predictor = probability_predictor(model)
        cm = np.zeros((self.label_set.num_classes,) * 2, np.int64)
        for pair in self.pairs["val"]:
            image, label = read_cityscapes_pair(pair)
            pred = sliding_window_labels(model, image.astype(np.float32) / 255.0 - 0.5, overlap=self.eval_overlap,
                                         predictor=predictor)
            cm += confusion_matrix(label, pred, self.label_set.num_classes, self.label_set.ignore_id)
        return metrics_from_confusion(cm, self.label_set)


# ------------------------------------------------------------------------------------------------ stage records
def _canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, default=str)


def stage_identity(spec: StageSpec, data, schedule: Schedule, adversarial: AdversarialSettings | None) -> dict:
    """Everything that determines a stage's weights (logging options excluded)."""
    sched = {k: v for k, v in asdict(schedule).items() if k not in ("progress", "tensorboard", "keep_checkpoints")}
    return {"spec": asdict(spec), "data": data.describe(), "schedule": sched,
            "adversarial": asdict(adversarial) if adversarial else None}


def read_stage_record(stage_dir: Path) -> dict | None:
    path = Path(stage_dir) / STAGE_RECORD
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DataError(path, f"not valid JSON: {exc}") from None


def write_stage_record(stage_dir: Path, identity: dict, weights: Path, result: dict) -> None:
    from ..io.atomic import atomic_write_text

    stage_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(stage_dir / STAGE_RECORD, json.dumps(
        {"identity": json.loads(_canonical(identity)), "weights": None if weights is None else
         str(Path(weights).resolve()), **result}, indent=1, default=str))


def find_reusable(reuse_from: Path | None, rel: str, identity: dict) -> dict | None:
    """The stage record under an earlier run, if it trained exactly this stage; a mismatch is an error."""
    if reuse_from is None:
        return None
    record = read_stage_record(Path(reuse_from) / rel)
    if record is None:
        return None
    if _canonical(record["identity"]) != _canonical(identity):
        old, new = record["identity"], json.loads(_canonical(identity))
        differing = sorted(k for k in set(old) | set(new) if _canonical(old.get(k)) != _canonical(new.get(k)))
        raise ConfigError(f"{Path(reuse_from) / rel / STAGE_RECORD}: stage was trained with other settings "
                          f"({', '.join(differing)} differ); run without --from-run or with a matching run")
    if record["weights"] is not None and not Path(record["weights"]).is_file():
        raise DataError(record["weights"], "weights named by the reused stage record are missing")
    return record


# ------------------------------------------------------------------------------------------------ training
def model_kwargs(spec: StageSpec, num_classes: int, with_encoder: bool = False) -> dict:
    """Builder arguments of a row: its input, classes, widths, dropout = 1 - keep_prob, optional ImageNet file."""
    import inspect

    from ..models.registry import get_entry

    kw = dict(input_shape=(spec.input_size, spec.input_size, 3), num_classes=num_classes, **spec.model_kwargs)
    if "dropout" in inspect.signature(get_entry(spec.model).builder).parameters and "dropout" not in kw:
        kw["dropout"] = spec.hparams.dropout_rate
    if with_encoder and spec.encoder_weights:
        kw["encoder_weights"] = spec.encoder_weights
    return kw


def _model_builder(spec: StageSpec, num_classes: int, init: tuple | None = None, with_encoder: bool = True):
    """Build the row's network; `init` = (weights, spec) of the row it starts from, copied layer by layer."""
    from ..models import build_model
    from ..models.weights import transfer_weights

    def build():
        model = build_model(spec.model, **model_kwargs(spec, num_classes, with_encoder and init is None))
        if init is not None:
            weights, parent = init
            source = build_model(parent.model, **model_kwargs(parent, num_classes))
            source.load_weights(str(weights))
            if not transfer_weights(source, model):
                raise ConfigError(f"{spec.row}: no layer shared with {parent.row} to initialise from")
        return model

    return build


def _loss(class_weights: np.ndarray, ignore_id: int | None):
    import tensorflow as tf

    from ..train.losses import weighted_cross_entropy

    weights = tf.constant(class_weights, tf.float32)
    return lambda labels, logits: weighted_cross_entropy(labels, logits, class_weights=weights, ignore_id=ignore_id)


def _train_config(spec: StageSpec, schedule: Schedule):
    from ..train.config import TrainConfig

    return TrainConfig(epochs=schedule.epochs, batch_size=batch_size_of(spec, schedule),
                       learning_rate=spec.hparams.learning_rate, momentum=schedule.momentum,
                       weight_decay=spec.hparams.weight_decay, lr_schedule=schedule.lr_schedule,
                       lr_factor=schedule.lr_factor, lr_patience=schedule.lr_patience,
                       lr_step_epochs=schedule.lr_step_epochs, patience=spec.patience, monitor="val_loss",
                       steps_per_epoch=schedule.steps_per_epoch, seed=schedule.seed, progress=schedule.progress,
                       tensorboard=schedule.tensorboard, keep_checkpoints=schedule.keep_checkpoints)


def train_stage(spec: StageSpec, data, schedule: Schedule, stage_dir: Path, *, init: tuple | None = None,
                adversarial: AdversarialSettings | None = None) -> dict:
    """Train one row from scratch / ImageNet, or from `init` = (weights, parent spec) (FCN16 <- FCN32), or
    fine-tune it adversarially from `init` = (its own non-adversarial weights, spec); returns best-epoch facts."""
    import keras

    from ..train.loop import Trainer

    label_set = data.label_set
    batch = batch_size_of(spec, schedule)
    train_data, steps = data.train_data(spec, batch, schedule.seed)
    val_data = data.val_data(spec, batch)
    loss_fn = _loss(data.class_weights(spec), label_set.ignore_id)
    cfg = _train_config(spec, schedule)
    if adversarial is None:
        trainer = Trainer(_model_builder(spec, label_set.num_classes, init), loss_fn, cfg,
                          stage_dir, label_set.num_classes, class_names=label_set.names,
                          ignore_id=label_set.ignore_id)
    else:
        from ..train.adversarial import AdversarialConfig, AdversarialTrainer, adversarial_train_config

        if init is None:
            raise ConfigError(f"{spec.row}: adversarial fine-tuning starts from trained weights; none given")
        a = adversarial
        cfg = adversarial_train_config(cfg, learning_rate=a.generator_lr, epochs=a.epochs, patience=a.patience)
        adv = AdversarialConfig(discriminator_lr=a.discriminator_lr, adversarial_weight=a.adversarial_weight,
                                discriminator_steps_per_generator_step=a.discriminator_steps_per_generator_step,
                                gradient_penalty_weight=a.gradient_penalty_weight,
                                discriminator=dict(a.discriminator_kwargs))
        trainer = AdversarialTrainer(_model_builder(spec, label_set.num_classes, with_encoder=False), loss_fn, cfg,
                                     adv, stage_dir, label_set.num_classes, init_weights=init[0],
                                     class_names=label_set.names, ignore_id=label_set.ignore_id)
    result = trainer.fit(train_data, val_data, steps, resume=True)
    weights = Path(stage_dir) / "best.weights.h5"
    del trainer
    keras.backend.clear_session()
    best = next((h for h in result.history if h["epoch"] == result.best_epoch), {})
    facts = {"weights": weights if weights.is_file() else None, "best_epoch": result.best_epoch,
             "best_val": {k: best[f"val_{k}"] for k in METRIC_KEYS if f"val_{k}" in best},
             "epochs_run": result.epochs_run, "best_value": result.best_value,
             "stopped_early": result.stopped_early, "monitor": cfg.monitor}
    if facts["weights"] is None:  # the monitored value was never finite: nothing worth keeping
        facts["failure"] = f"diverged (no finite {cfg.monitor} in {result.epochs_run} epochs)"
    return facts


def load_trained(spec: StageSpec, num_classes: int, weights: Path):
    from ..models import build_model

    model = build_model(spec.model, **model_kwargs(spec, num_classes))
    model.load_weights(str(weights))
    return model


def _obtain(spec: StageSpec, data, schedule: Schedule, run_dir: Path, reuse_from: Path | None, log: Callable, *,
            init: tuple | None = None, adversarial: AdversarialSettings | None = None) -> tuple[dict, bool]:
    """A stage's record: reused from `reuse_from` when it trained exactly this, else trained now into run_dir."""
    rel = f"{data.name}/{spec.slug}{'_adversarial' if adversarial else ''}"
    identity = stage_identity(spec, data, schedule, adversarial)
    if init is not None:
        identity["init_from"] = {"stage": stage_identity(init[1], data, schedule, None),
                                 "weights": str(Path(init[0]).resolve())}
    existing = find_reusable(Path(run_dir), rel, identity)  # a rerun into the same folder
    reused = find_reusable(reuse_from, rel, identity) if existing is None else None
    record = existing or reused
    if record is not None:
        if reused is not None:  # point this run at the reused weights, so a later --from-run here finds them
            write_stage_record(Path(run_dir) / rel, identity, record["weights"],
                               {k: v for k, v in record.items() if k not in ("identity", "weights")}
                               | {"reused_from": str(Path(reuse_from) / rel)})
        return {**record, "rel": rel}, reused is not None
    kind = "adversarial fine-tuning of" if adversarial else "training"
    log(f"{kind} {spec.row} ({spec.model}, input {spec.input_size}, batch {batch_size_of(spec, schedule)})")
    stage_dir = Path(run_dir) / rel
    facts = train_stage(spec, data, schedule, stage_dir, init=init, adversarial=adversarial)
    write_stage_record(stage_dir, identity, facts.pop("weights"), facts)
    return {**read_stage_record(stage_dir), "rel": rel}, False


def train_and_evaluate_segmentation(specs: Sequence[StageSpec], data, schedule: Schedule, run_dir, *,
                                    rows: Sequence[str], split: str = "val",
                                    adversarial: AdversarialSettings | None = None, reuse_from=None,
                                    compare_baseline: bool = True,
                                    log: Callable[[str], None] = print) -> dict[str, RowOutcome]:
    """Train what `rows` need, then evaluate each row on `split` ("val" or "test").

    specs: every row the thesis trains (initialisation parents included); rows: the table's rows, in order.
    adversarial: when given, each row is fine-tuned adversarially from its non-adversarial best weights and the
    table reports the fine-tuned model (`baseline` holds the non-adversarial metrics when compare_baseline).
    data: a `MammoCropData` / `CityscapesData` (anything with name, label_set, describe, train_data, val_data,
    class_weights, evaluate). Returns row -> RowOutcome, in `rows` order.
    """
    import keras

    run_dir = Path(run_dir)
    reuse_from = Path(reuse_from) if reuse_from else None
    num_classes = data.label_set.num_classes
    by_row = {s.row: s for s in specs}
    trained: dict[str, tuple[dict, bool]] = {}
    for spec in needed_rows(specs, rows):
        init = None
        if spec.init_from:
            parent, _ = trained[spec.init_from]
            if parent["weights"] is None:
                cause = parent.get("failure") or "has no weights"
                if not cause.startswith("not trained: "):  # name the stage that failed, not each link
                    cause = f"not trained: {spec.init_from} {cause}"
                trained[spec.row] = ({"weights": None, "failure": cause}, False)
                continue
            init = (Path(parent["weights"]), by_row[spec.init_from])
        trained[spec.row] = _obtain(spec, data, schedule, run_dir, reuse_from, log, init=init)

    key = f"{split}@overlap{getattr(data, 'eval_overlap', '')}"

    def evaluate(spec: StageSpec, record: dict) -> dict:
        """The row's metrics on `split`: the training run's own validation where that is the same computation
        (`data.val_matches_training`), else a saved evaluation of the same weights, else computed now."""
        if split == "val" and getattr(data, "val_matches_training", False) and record.get("best_val"):
            return dict(record["best_val"])
        saved = record.get("evaluations", {}).get(key)
        if saved is not None:
            return dict(saved)
        log(f"evaluating {spec.row} on {data.name} {split}")
        model = load_trained(spec, num_classes, Path(record["weights"]))
        metrics = data.evaluate(model, spec, split)
        del model
        keras.backend.clear_session()
        _save_evaluation(run_dir / record["rel"], key, metrics)
        return metrics

    outcomes: dict[str, RowOutcome] = {}
    for row in rows:
        spec = by_row[row]
        record, reused = trained[row]
        baseline = None
        if adversarial is not None and record["weights"] is not None:
            if compare_baseline:
                baseline = evaluate(spec, record)
            record, reused = _obtain(spec, data, schedule, run_dir, reuse_from, log,
                                     init=(Path(record["weights"]), spec), adversarial=adversarial)
        if record["weights"] is None:
            log(f"{row}: {record.get('failure')}")
            metrics = {name: float("nan") for name in METRIC_KEYS}
        else:
            metrics = evaluate(spec, record)
        outcomes[row] = RowOutcome(row, metrics, None if record["weights"] is None else Path(record["weights"]),
                                   reused, record.get("best_epoch"), record.get("epochs_run"), baseline,
                                   record.get("failure"))
    return outcomes


def _save_evaluation(stage_dir: Path, key: str, metrics: dict) -> None:
    """Keep a stage's evaluation in its record: a --from-run table of the same split then reads it back."""
    from ..io.atomic import atomic_write_text

    record = read_stage_record(stage_dir)
    if record is None:
        return
    kept = {k: metrics[k] for k in (*METRIC_KEYS, "per_class_iou") if k in metrics}
    record.setdefault("evaluations", {})[key] = kept
    atomic_write_text(Path(stage_dir) / STAGE_RECORD, json.dumps(record, indent=1, default=str))


# ------------------------------------------------------------------------------------------------ data records
def write_data_record(run_dir: Path, entries: dict) -> None:
    """Remember where this run's data lives, so a --from-run run can use the same files."""
    from ..io.atomic import atomic_write_text

    path = Path(run_dir) / DATA_RECORD
    current = json.loads(path.read_text()) if path.is_file() else {}
    current.update({k: str(v) for k, v in entries.items()})
    atomic_write_text(path, json.dumps(current, indent=1))


def read_data_record(run_dir) -> dict:
    path = Path(run_dir) / DATA_RECORD
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DataError(path, f"not valid JSON: {exc}") from None


__all__ = ["HyperParams", "StageSpec", "Schedule", "AdversarialSettings", "RowOutcome", "MammoCropData",
           "CityscapesData", "ColourJitter", "train_and_evaluate_segmentation", "train_stage", "needed_rows",
           "load_trained", "model_kwargs", "write_data_record", "read_data_record", "METRIC_KEYS"]
