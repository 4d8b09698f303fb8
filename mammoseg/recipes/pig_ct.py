"""pig-ct recipe (seed 003): three plane networks and one 3-D block network on CT scans, scored by per-scan IoU.

What runs (thesis §4.3-4.5): one residual U-Net per plane trained on that plane's slices (transverse batch 4,
sagittal and coronal batch 1, zero-padded to a multiple of 2^depth), one 3-D residual U-Net trained on random
blocks (two per step, 50 steps per training scan and epoch), all with class-weighted binary cross-entropy (weights
1/(1-f) and 1/f, f = mask fraction of the training voxels) and RMSprop. Every test scan is predicted slice by slice
in each plane and block by block in 3-D, the planes' probability volumes are averaged for the fused columns, and
the IoU of each whole volume is one cell of Table 5.1; Table 5.2 divides a row by its transverse IoU and Table 6.1
summarises the columns over the scans.

The training inputs stream from the `data_prep` slice store (HDF5, one chunk per slice), so a full-size data set
never has to fit in memory; each epoch's order is a function of (seed, epoch) alone, so a resumed run sees the same
batches. Choices where the thesis is silent: docs/reproduction/pig-ct.md.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np

from ..data.preprocess import PLANES, extract_block, random_block_origin
from ..errors import ConfigError, DataError
from ..evaluate.plane_fusion import FUSION_RULES, PLANE_COMBINATIONS, scan_ious
from ..experiment import ResultRow, check_scale
from ..io.volume import AIR_HU, PIG_CT_WINDOW, hu_window

NETWORKS = (*PLANES, "3D")
COLUMNS = (*PLANE_COMBINATIONS, "3D")  # Tables 5.1, 5.2 and 6.1, in the thesis' column order
SUMMARY_ROWS = ("count", "mean", "std", "min", "25%", "50%", "75%", "max")  # Table 6.1 (pandas `describe`)
THESIS_POSITIVE_FRACTION = 0.289  # L1463-1464: mask fraction of the thesis' training set
PER_SCAN_FILE = "per_scan_iou"  # <run>/per_scan_iou.csv (+ .md): what Tables 5.2 and 6.1 derive from
NETWORKS_FILE = "networks.json"
_TRAIN_SALT, _VAL_SALT, _SPLIT_SALT = 1, 2, 3


# ------------------------------------------------------------------------------------------------ config
def thesis_train(network: str = "transverse"):
    """The network's registered TrainConfig (`mammoseg.train.recipes`, recipe `pig-ct/<network>`), the one source of
    the thesis' training numbers; imported when needed because the registry loads TensorFlow."""
    from ..train.recipes import get_recipe

    return get_recipe(f"pig-ct/{network.lower()}").train


def _thesis_default(attribute: str):
    """A config field whose default is the registry's value (the same for every pig-ct network)."""
    return field(default_factory=lambda: getattr(thesis_train(), attribute))


@dataclass
class PigCTConfig:
    """Everything one pig-ct run needs; `full` holds the thesis' values, `smoke` a CPU-minutes version."""
    scale: str = "full"
    data_root: str | None = None  # real scans in the pig-ct layout; None: a synthetic stand-in is generated
    seed: int = 0
    from_run: str | None = None  # a finished run of any pig-ct table: reuse its per-scan IoUs, train nothing
    # synthetic stand-in (only when data_root is None)
    n_scans: int = 275  # L1266 (the generator splits 70/15/15 instead of the thesis' 238 train / 37 test)
    volume_shape: tuple[int, int, int] = (320, 192, 192)  # (z, y, x); the real scans are ~1000 x 512 x 512
    data_format: str = "npy"  # npy | dicom
    val_fraction: float = 0.1  # held out of the training scans when the data has no val split (the thesis has none)
    # 2-D plane networks (§4.3.1): 6 poolings, 16 * 2^level filters
    depth_2d: int = 6
    filters_2d: int = 16
    # 3-D block network (§4.4.1): 4 poolings, 96^3 blocks
    depth_3d: int = 4
    filters_3d: int = 16
    block_size: int = 96
    blocks_per_step: int = 2  # residual blocks per down/up step, both networks (L1404-1408)
    batch_sizes: dict = field(default_factory=lambda: {n: thesis_train(n).batch_size for n in NETWORKS})
    draws_per_scan: int = 50  # 3-D steps per training scan and epoch (L1502-1504)
    val_draws_per_scan: int = 10  # 3-D validation steps per validation scan (fixed blocks)
    # training (§4.3.2), defaults from the registry: RMSprop at Keras 2.2.2's defaults (1e-3, rho 0.9, eps 1e-7);
    # epochs and stopping are not stated (at most 10 epochs, patience 3 on the val loss, best epoch evaluated)
    learning_rate: float = _thesis_default("learning_rate")
    rho: float = _thesis_default("rho")
    epsilon: float = _thesis_default("epsilon")
    epochs: int = _thesis_default("epochs")
    patience: int = _thesis_default("patience")
    max_steps_per_epoch: int | None = None  # cap on an epoch's steps (smoke); None = one pass
    positive_fraction: float | None = None  # None: measured on the training scans (the thesis' rule, 0.289 there)
    # evaluation (§4.5)
    hu_window: tuple[float, float] = PIG_CT_WINDOW  # (center, width) -> [0, 1]; air (and padding) -> 0
    threshold: float = 0.5
    fusion_rule: str = "mean"  # mean: average probabilities, then threshold; vote: see plane_fusion
    block_overlap: float = 0.0  # 0 = the thesis' partition into blocks
    inference_batch: int = 4
    progress: bool = True

    def __post_init__(self):
        self.volume_shape = tuple(int(v) for v in self.volume_shape)
        self.hu_window = tuple(float(v) for v in self.hu_window)
        missing = set(NETWORKS) - set(self.batch_sizes)
        if missing:
            raise ConfigError(f"batch_sizes lacks {sorted(missing)}")
        if self.fusion_rule not in FUSION_RULES:
            raise ConfigError(f"fusion_rule must be one of {FUSION_RULES}, got {self.fusion_rule!r}")
        if self.block_size % 2 ** self.depth_3d:
            raise ConfigError(f"block size {self.block_size} is not divisible by 2^{self.depth_3d}")
        if not 0.0 < self.val_fraction < 1.0:
            raise ConfigError(f"val_fraction must lie in (0, 1), got {self.val_fraction}")
        if self.positive_fraction is not None and not 0.0 < self.positive_fraction < 1.0:
            raise ConfigError(f"positive_fraction must lie in (0, 1), got {self.positive_fraction}")

    @property
    def pad_multiple(self) -> int:
        return 2 ** self.depth_2d


# Smoke: tiny volumes and networks (one residual block per step halves the graph, and graph tracing, not the
# arithmetic, is what a CPU smoke run spends its time on), one short epoch per network.
SMOKE_CHANGES = dict(n_scans=20, volume_shape=(32, 48, 48), depth_2d=3, filters_2d=4, depth_3d=2, filters_3d=4,
                     block_size=32, blocks_per_step=1, draws_per_scan=2, val_draws_per_scan=1, epochs=1, patience=1,
                     max_steps_per_epoch=48)


def build_config(scale: str = "smoke", data_root: str | None = None, seed: int = 0,
                 from_run: str | None = None) -> PigCTConfig:
    check_scale(scale)
    config = PigCTConfig(scale=scale, data_root=data_root, seed=seed, from_run=from_run)
    return replace(config, **SMOKE_CHANGES) if scale == "smoke" else config


def extra_options():
    """`--from-run RUN_DIR`: reuse the per-scan IoUs of an earlier pig-ct table run instead of training."""
    from ..experiment import from_run_option

    return from_run_option("run directory of an earlier pig-ct table script: reuse its per-scan IoUs")


def parse_thesis_rows(text: str) -> dict[str, tuple[str, ...]]:
    """Rows of a table pasted from the thesis: first token is the row name, the rest its cells as printed."""
    rows = {}
    for line in text.strip().splitlines():
        name, *cells = line.split()
        rows[name] = tuple(cells)
    return rows


# ------------------------------------------------------------------------------------------------ data
@dataclass(frozen=True)
class ScanSet:
    """Scans of one slice store that a network trains or validates on."""
    store: Path
    scans: tuple[str, ...]


@dataclass
class PreparedData:
    root: Path
    synthetic: bool
    train: ScanSet
    val: ScanSet
    test: tuple  # data_prep.slices.CTScan of the test split


def prepare_data(cfg: PigCTConfig, run_dir: Path) -> PreparedData:
    """Locate (or generate) the scans and cut the training and validation scans into slice stores."""
    from data_prep.slices import build_slice_store, read_ct_dataset

    from ..data.synthetic_ct import make_ct_dataset

    synthetic = cfg.data_root is None
    if synthetic:
        root = make_ct_dataset(run_dir / "data", n_scans=cfg.n_scans, shape=cfg.volume_shape, seed=cfg.seed,
                               fmt=cfg.data_format)
    else:
        root = Path(cfg.data_root)
    scans = read_ct_dataset(root)
    by_split = {split: [s for s in scans if s.split == split] for split in ("train", "val", "test")}
    for split in ("train", "test"):
        if not by_split[split]:
            raise DataError(root / "splits.csv", f"no {split} scans")

    def store(split: str) -> Path:
        path = run_dir / f"slices_{split}.h5"
        build_slice_store(root, path, split, pad_multiple=cfg.pad_multiple, seed=cfg.seed,
                          progress_bar=cfg.progress)
        return path

    train_store = store("train")
    train_names = [s.scan for s in by_split["train"]]
    if by_split["val"]:
        val = ScanSet(store("val"), tuple(s.scan for s in by_split["val"]))
    else:
        held_out = hold_out(train_names, cfg.val_fraction, cfg.seed)
        if len(held_out) == len(train_names):
            raise DataError(root / "splits.csv", "no val split and too few training scans to hold one out")
        val = ScanSet(train_store, tuple(held_out))
        train_names = [name for name in train_names if name not in held_out]
    return PreparedData(root, synthetic, ScanSet(train_store, tuple(train_names)), val, tuple(by_split["test"]))


def hold_out(names, fraction: float, seed: int) -> list[str]:
    """A seeded choice of round(fraction * n) names (at least one), in their original order."""
    count = max(1, int(round(fraction * len(names))))
    chosen = set(np.random.default_rng([seed, _SPLIT_SALT]).choice(len(names), size=count, replace=False).tolist())
    return [name for i, name in enumerate(names) if i in chosen]


def plane_rows(scan_set: ScanSet, plane: str):
    """The store's manifest rows of one plane, in the scan set's order."""
    from data_prep.slices import read_slice_store

    manifest = read_slice_store(scan_set.store).manifest
    rows = manifest[manifest["plane"] == plane].set_index("scan")
    missing = [s for s in scan_set.scans if s not in rows.index]
    if missing:
        raise DataError(scan_set.store, f"no {plane} slices of scans {missing}")
    return rows.loc[list(scan_set.scans)]


def positive_fraction(scan_set: ScanSet) -> float:
    """Mask fraction of all voxels of the scans (the thesis' 0.289, L1463-1464), from the store's manifest."""
    rows = plane_rows(scan_set, "transverse")
    voxels = rows["n_slices"] * rows["height"] * rows["width"]
    return float((rows["foreground_fraction"] * voxels).sum() / voxels.sum())


# ------------------------------------------------------------------------------------------------ sampling plans
def slice_plan(slice_shapes, n_slices, batch_size: int, rng: np.random.Generator) -> np.ndarray:
    """One epoch of 2-D training batches (n_batches, batch_size, 2) of (scan index, slice index).

    Every slice once in random order (L1472-1474); a batch only holds slices of one padded shape (sagittal and
    coronal slices differ in length between scans). A shape with fewer slices than a batch is drawn with
    replacement; otherwise the remainder of each shape is dropped, so every epoch has the same length.
    """
    groups: dict[tuple, list] = {}
    for scan, (shape, count) in enumerate(zip(slice_shapes, n_slices)):
        groups.setdefault(tuple(shape), []).extend((scan, j) for j in range(count))
    batches = []
    for entries in groups.values():
        entries = np.asarray(entries, np.int64)
        if len(entries) < batch_size:
            order = rng.choice(len(entries), size=batch_size, replace=True)
        else:
            order = rng.permutation(len(entries))[:len(entries) // batch_size * batch_size]
        batches.append(entries[order].reshape(-1, batch_size, 2))
    plan = np.concatenate(batches)
    return plan[rng.permutation(len(plan))]


def ordered_slice_plan(n_slices, batch_size: int) -> np.ndarray:
    """Every slice of every scan once, in order, batches never spanning two scans; -1 rows fill short batches."""
    batches = []
    for scan, count in enumerate(n_slices):
        for start in range(0, count, batch_size):
            batch = np.full((batch_size, 2), -1, np.int64)
            stop = min(start + batch_size, count)
            batch[:stop - start] = [(scan, j) for j in range(start, stop)]
            batches.append(batch)
    return np.stack(batches)


def block_plan(volume_shapes, draws_per_scan: int, batch_size: int, block_size: int,
               rng: np.random.Generator) -> np.ndarray:
    """One epoch of 3-D steps (n_steps, batch_size, 4) of (scan index, z, y, x).

    Each step takes its blocks from random locations of one scan, each scan `draws_per_scan` times (L1502-1504).
    """
    n_scans = len(volume_shapes)
    steps = np.repeat(np.arange(n_scans), draws_per_scan)[rng.permutation(n_scans * draws_per_scan)]
    plan = np.empty((len(steps), batch_size, 4), np.int64)
    for i, scan in enumerate(steps):
        for k in range(batch_size):
            plan[i, k] = (scan, *random_block_origin(volume_shapes[scan], block_size, rng))
    return plan


def fit_plan_length(plan: np.ndarray, steps: int) -> np.ndarray:
    """Exactly `steps` batches: cut, or repeat the plan from its start."""
    repeats = -(-steps // len(plan))
    return np.concatenate([plan] * repeats)[:steps]


# ------------------------------------------------------------------------------------------------ tf.data
class StoreReader:
    """Windowed training inputs read from a slice store: 2-D slices of one plane, or 3-D blocks."""

    def __init__(self, scan_set: ScanSet, plane: str, window: tuple[float, float], block_size: int | None = None):
        self.scan_set, self.plane, self.window, self.block_size = scan_set, plane, window, block_size
        self.rows = plane_rows(scan_set, plane)

    @property
    def slice_shapes(self) -> list[tuple[int, int]]:
        return list(zip(self.rows["padded_height"], self.rows["padded_width"]))

    @property
    def volume_shapes(self) -> list[tuple[int, int, int]]:
        """(z, y, x) of each scan (the transverse stack is the volume itself)."""
        return [tuple(int(v) for v in r) for r in self.rows[["n_slices", "height", "width"]].to_numpy()]

    def read(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(images (n, *spatial, 1) float32 in [0, 1], labels (n, *spatial) uint8) of plan rows; -1 rows skipped."""
        from data_prep.slices import read_slices

        images, labels = [], []
        for row in np.asarray(rows):
            if row[0] < 0:
                continue
            scan = self.scan_set.scans[int(row[0])]
            if self.block_size is None:
                image, label = read_slices(self.scan_set.store, self.plane, scan, int(row[1]))
            else:
                z, y, x = (int(v) for v in row[1:])
                image, label = read_slices(self.scan_set.store, self.plane, scan, slice(z, z + self.block_size))
                image = extract_block(image, (0, y, x), self.block_size, AIR_HU)
                label = extract_block(label, (0, y, x), self.block_size, 0)
            images.append(image)
            labels.append(label)
        return hu_window(np.stack(images), *self.window)[..., None], np.stack(labels).astype(np.uint8)


def plan_batches(plans, reader: StoreReader, batch_size: int | None):
    """Map a dataset of plan rows to (images, labels) batches read through `reader`."""
    import tensorflow as tf

    rank = 2 if reader.block_size is None else 3

    def load(rows):
        images, labels = tf.numpy_function(reader.read, [rows], (tf.float32, tf.uint8), stateful=False)
        images.set_shape((batch_size, *(None,) * rank, 1))
        labels.set_shape((batch_size, *(None,) * rank))
        return images, labels

    return plans.map(load).prefetch(2)


def train_dataset(plan_for_epoch: Callable[[int], np.ndarray], reader: StoreReader, batch_size: int, steps: int,
                  start_epoch: int = 0):
    """Endless batches; epoch e follows `plan_for_epoch(e)`, fitted to `steps` batches."""
    import tensorflow as tf

    def epoch_rows(epoch):
        rows = tf.numpy_function(lambda e: fit_plan_length(plan_for_epoch(int(e)), steps), [epoch], tf.int64,
                                 stateful=False)
        rows = tf.ensure_shape(rows, (steps, batch_size, None))
        return tf.data.Dataset.from_tensor_slices(rows)

    plans = tf.data.Dataset.range(start_epoch, 2 ** 62).flat_map(epoch_rows)
    return plan_batches(plans, reader, batch_size)


def eval_dataset(plan: np.ndarray, reader: StoreReader):
    import tensorflow as tf

    return plan_batches(tf.data.Dataset.from_tensor_slices(plan), reader, None)


# ------------------------------------------------------------------------------------------------ networks
def model_spec(cfg: PigCTConfig, network: str) -> tuple[str, dict]:
    """(registry name, keyword arguments) of a network: 2-D ones take slices of any padded size."""
    if network == "3D":
        return "residual_unet_3d", dict(input_shape=(cfg.block_size,) * 3 + (1,), depth=cfg.depth_3d,
                                        base_filters=cfg.filters_3d, blocks_per_step=cfg.blocks_per_step)
    if network not in PLANES:
        raise ConfigError(f"unknown network {network!r}; expected one of {NETWORKS}")
    return "residual_unet_2d", dict(input_shape=(None, None, 1), depth=cfg.depth_2d, base_filters=cfg.filters_2d,
                                    blocks_per_step=cfg.blocks_per_step)


def network_data(cfg: PigCTConfig, network: str, data: PreparedData):
    """(train_data(start_epoch), val_data(), steps per epoch) of one network."""
    batch = cfg.batch_sizes[network]
    if network == "3D":
        train = StoreReader(data.train, "transverse", cfg.hu_window, cfg.block_size)
        val = StoreReader(data.val, "transverse", cfg.hu_window, cfg.block_size)

        def plan(epoch: int) -> np.ndarray:
            return block_plan(train.volume_shapes, cfg.draws_per_scan, batch, cfg.block_size,
                              np.random.default_rng([cfg.seed, _TRAIN_SALT, epoch]))

        val_plan = block_plan(val.volume_shapes, cfg.val_draws_per_scan, batch, cfg.block_size,
                              np.random.default_rng([cfg.seed, _VAL_SALT]))
    else:
        train = StoreReader(data.train, network, cfg.hu_window)
        val = StoreReader(data.val, network, cfg.hu_window)
        salt = PLANES.index(network)

        def plan(epoch: int) -> np.ndarray:
            return slice_plan(train.slice_shapes, train.rows["n_slices"].tolist(), batch,
                              np.random.default_rng([cfg.seed, _TRAIN_SALT, salt, epoch]))

        val_plan = ordered_slice_plan(val.rows["n_slices"].tolist(), batch)
    steps = len(plan(0))
    if cfg.max_steps_per_epoch:
        steps = min(steps, cfg.max_steps_per_epoch)
    return (lambda start_epoch: train_dataset(plan, train, batch, steps, start_epoch),
            lambda: eval_dataset(val_plan, val), steps)


def train_config(cfg: PigCTConfig, network: str):
    """The registry's TrainConfig of the network with this run's knobs (equal to it at full scale)."""
    if network not in NETWORKS:
        raise ConfigError(f"unknown network {network!r}; expected one of {NETWORKS}")
    return thesis_train(network).replace(
        epochs=cfg.epochs, batch_size=cfg.batch_sizes[network], learning_rate=cfg.learning_rate, rho=cfg.rho,
        epsilon=cfg.epsilon, patience=cfg.patience, seed=cfg.seed, progress=cfg.progress)


def weighted_bce(class_weights: tuple[float, float]) -> Callable:
    """The registry's pig-ct loss (BCE on logits, L1464-1468) with this data's background / mask weights w0, w1
    in place of the thesis' 1.406 / 3.460 (the same rule, 1/(1-f) and 1/f, on the measured mask fraction f)."""
    from ..train.recipes import get_recipe, recipe_loss

    negative, positive = class_weights
    return recipe_loss(get_recipe("pig-ct/transverse"), negative_weight=float(negative),
                       positive_weight=float(positive))


def train_network(cfg: PigCTConfig, network: str, data: PreparedData, class_weights, out_dir: Path):
    """Train one network and return (best model, summary dict)."""
    from ..labels import BINARY
    from ..models import build_model
    from ..train.loop import Trainer

    name, kwargs = model_spec(cfg, network)
    train_data, val_data, steps = network_data(cfg, network, data)
    trainer = Trainer(lambda: build_model(name, **kwargs), weighted_bce(class_weights), train_config(cfg, network),
                      out_dir / network.lower(), num_classes=2, class_names=BINARY.names)
    started = time.perf_counter()
    result = trainer.fit(train_data, val_data, steps)
    model = trainer.load_best()
    summary = {"model": name, **{k: v for k, v in kwargs.items() if k != "input_shape"},
               "parameters": int(model.count_params()), "steps_per_epoch": steps, "epochs_run": result.epochs_run,
               "best_epoch": result.best_epoch, "best_val_loss": result.best_value,
               "seconds": round(time.perf_counter() - started, 1)}
    return model, summary


# ------------------------------------------------------------------------------------------------ evaluation
def scan_probabilities(cfg: PigCTConfig, models: dict, hu: np.ndarray) -> tuple[dict, np.ndarray]:
    """({plane: probability volume}, 3-D block probability volume) of one scan."""
    from ..evaluate.volume_inference import predict_planes, predict_volume_blocks

    volume = hu_window(hu, *cfg.hu_window)
    planes = predict_planes({p: models[p] for p in PLANES}, volume, batch_size=cfg.inference_batch,
                            pad_multiple=cfg.pad_multiple, pad_value=0.0, activation="sigmoid")
    blocks = predict_volume_blocks(models["3D"], volume, overlap=cfg.block_overlap,
                                   batch_size=cfg.batch_sizes["3D"], pad_value=0.0, activation="sigmoid")
    return planes, blocks


def evaluate_scans(cfg: PigCTConfig, models: dict, scans) -> dict[str, dict]:
    """{scan: {column: IoU}} over the test scans (Table 5.1's rows)."""
    from data_prep.slices import load_scan

    per_scan = {}
    for scan in scans:
        hu, mask, _ = load_scan(scan)
        planes, blocks = scan_probabilities(cfg, models, hu)
        per_scan[scan.scan] = scan_ious(mask, planes, blocks, threshold=cfg.threshold, rule=cfg.fusion_rule)
    return per_scan


def write_per_scan(run_dir: Path, per_scan: dict[str, dict]) -> None:
    from ..evaluate.report import write_table

    rows = [[scan, *[values[c] for c in COLUMNS]] for scan, values in per_scan.items()]
    write_table(run_dir / PER_SCAN_FILE, ["scan", *COLUMNS], rows, title="Per-scan IoU (layout of Table 5.1)")


def read_per_scan(run_dir: str | Path):
    """Per-scan IoU table (pandas, index = scan) of a finished pig-ct run."""
    import pandas as pd

    path = Path(run_dir) / f"{PER_SCAN_FILE}.csv"
    if not path.is_file():
        raise DataError(path, "not found: --from-run must name the run directory of a pig-ct table script")
    try:
        frame = pd.read_csv(path, dtype={"scan": str}).set_index("scan")
    except (ValueError, pd.errors.ParserError) as exc:
        raise DataError(path, f"cannot parse the per-scan IoU table: {exc}") from None
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing or frame.empty:
        raise DataError(path, f"expected one row per scan with columns {list(COLUMNS)}; missing {missing}"
                        if missing else "no scans in the table")
    return frame[list(COLUMNS)].astype(float)


def plot_iou_boxes(frame, path: Path) -> None:
    """Box plot of the per-scan IoUs per column (the thesis' Figure 6.1)."""
    from ..evaluate.report import atomic_savefig, pyplot

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9, 3.5))
    ax.boxplot([frame[c].to_numpy() for c in COLUMNS], tick_labels=list(COLUMNS))
    ax.set_ylabel("IoU per scan")
    ax.tick_params(axis="x", labelrotation=30)
    fig.tight_layout()
    atomic_savefig(fig, path)
    plt.close(fig)


def train_and_evaluate(cfg: PigCTConfig, run_dir: Path) -> tuple[dict, str]:
    """Train the four networks, score the test scans, write per_scan_iou.csv; (per-scan IoUs, context text)."""
    from ..train.losses import binary_weights_from_fraction
    from ..train.loop import write_json

    data = prepare_data(cfg, run_dir)
    fraction = cfg.positive_fraction or positive_fraction(data.train)
    class_weights = binary_weights_from_fraction(fraction)
    models, summaries = {}, {}
    for network in NETWORKS:
        models[network], summaries[network] = train_network(cfg, network, data, class_weights, run_dir / "networks")
    started = time.perf_counter()
    per_scan = evaluate_scans(cfg, models, data.test)
    write_json(run_dir / NETWORKS_FILE, {"networks": summaries, "positive_fraction": fraction,
                                         "class_weights": list(class_weights), "train_scans": list(data.train.scans),
                                         "val_scans": list(data.val.scans),
                                         "test_scans": [s.scan for s in data.test],
                                         "evaluation_seconds": round(time.perf_counter() - started, 1)})
    write_per_scan(run_dir, per_scan)
    data_text = (f"synthetic pig-CT stand-in ({cfg.n_scans} scans of {'x'.join(map(str, cfg.volume_shape))} "
                 f"voxels; the thesis' Norsvin scans are private)" if data.synthetic else f"scans in {data.root}")
    context = (
        f"{cfg.scale} scale, {data_text}: {len(data.train.scans)} training, {len(data.val.scans)} validation, "
        f"{len(data.test)} test scans. Networks: " + "; ".join(
            f"{n} {s['model']} depth {s['depth']} width {s['base_filters']} ({s['parameters']:,} parameters, "
            f"{s['epochs_run']} epoch(s) of {s['steps_per_epoch']} steps, best epoch {s['best_epoch']})"
            for n, s in summaries.items())
        + f". RMSprop lr {cfg.learning_rate:g}; weighted BCE w0 = {class_weights[0]:.3f}, w1 = "
        f"{class_weights[1]:.3f} (mask fraction {fraction:.3f}; thesis 0.289 -> 1.406 / 3.460). Fused columns: "
        f"{cfg.fusion_rule} of the planes' probabilities, threshold {cfg.threshold}; 3D: "
        + ("non-overlapping" if cfg.block_overlap == 0 else f"{cfg.block_overlap:.0%}-overlapping")
        + f" {cfg.block_size}^3 blocks.")
    return per_scan_frame(per_scan), context


def per_scan_frame(per_scan: dict[str, dict]):
    import pandas as pd

    return pd.DataFrame.from_dict(per_scan, orient="index")[list(COLUMNS)].astype(float)


@dataclass(frozen=True)
class Provenance:
    """Where a run's per-scan IoUs came from, for the notes beside each row."""
    scale: str
    synthetic: bool

    @property
    def scan_note(self) -> str:
        return f"{self.scale} scale" + (", synthetic scan" if self.synthetic else "")

    def summary_note(self, n_scans: int) -> str:
        return f"{self.scale} scale, over {n_scans} " + ("synthetic " if self.synthetic else "") + "test scans"


def per_scan_ious(cfg: PigCTConfig, run_dir: Path):
    """(per-scan IoU frame, context, Provenance): from `cfg.from_run` when given, else by training everything."""
    from ..train.loop import write_json

    if cfg.from_run is None:
        frame, context = train_and_evaluate(cfg, run_dir)
        provenance = Provenance(cfg.scale, cfg.data_root is None)
    else:
        source = Path(cfg.from_run)
        frame = read_per_scan(source)
        source_config = _run_config(source)
        write_json(run_dir / "source_run.json", {"from_run": str(source.resolve()), "config": source_config})
        write_per_scan(run_dir, {scan: row.to_dict() for scan, row in frame.iterrows()})
        provenance = Provenance(str(source_config.get("scale", "unknown")), source_config.get("data_root") is None)
        context = f"Per-scan IoUs reused from {source} ({provenance.scale} scale; nothing trained in this run)."
    plot_iou_boxes(frame, run_dir / "iou_boxplot.png")
    return frame, context, provenance


def _run_config(run_dir: Path) -> dict:
    path = run_dir / "config.json"
    try:
        return json.loads(path.read_text())["config"]
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(path, f"cannot read the source run's config: {exc}") from None


# ------------------------------------------------------------------------------------------------ tables
def relative_to_transverse(frame):
    """Table 5.2: every column of a scan divided by its transverse IoU."""
    return frame.div(frame["transverse"], axis=0)


def summary_statistics(frame):
    """Table 6.1: count, mean, sample std, min, quartiles (linear interpolation) and max of every column."""
    return frame.describe().loc[list(SUMMARY_ROWS)]


def _result_rows(frame, note: str, thesis_rows=(), missing_note: str = "") -> list[ResultRow]:
    rows = [ResultRow(str(name), {c: float(v) for c, v in values.items()}, note) for name, values in frame.iterrows()]
    ours = set(frame.index.astype(str))
    rows += [ResultRow(name, {}, missing_note) for name in thesis_rows if name not in ours]
    return rows


_PRIVATE_SCAN = "Norsvin scan, not in this data set (private)"


def run_table_5_1(config: PigCTConfig, run_dir: Path, thesis_rows=()) -> tuple[list[ResultRow], str]:
    """One row per test scan: the IoU of each plane network, each fusion and the 3-D network."""
    frame, context, provenance = per_scan_ious(config, run_dir)
    return _result_rows(frame, provenance.scan_note, thesis_rows, _PRIVATE_SCAN), context


def run_table_5_2(config: PigCTConfig, run_dir: Path, thesis_rows=()) -> tuple[list[ResultRow], str]:
    """Table 5.1's rows divided by their transverse IoU."""
    frame, context, provenance = per_scan_ious(config, run_dir)
    return _result_rows(relative_to_transverse(frame), provenance.scan_note, thesis_rows, _PRIVATE_SCAN), context


def run_table_6_1(config: PigCTConfig, run_dir: Path, thesis_rows=()) -> tuple[list[ResultRow], str]:
    """Summary statistics of Table 5.1's columns over the test scans."""
    frame, context, provenance = per_scan_ious(config, run_dir)
    return _result_rows(summary_statistics(frame), provenance.summary_note(len(frame))), context
