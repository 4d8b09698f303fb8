"""`kth-seg` (seed 000) results Tables 5.1-5.6: nine segmentation networks on Cityscapes and on mammograms,
non-adversarial and after adversarial fine-tuning.

| table | data | split | rows | training |
|---|---|---|---|---|
| 5.1 | Cityscapes | val (full images) | all 9 | non-adversarial (Table 4.12) |
| 5.2 | mammography | val (crops) | all 9 | non-adversarial (Table 4.13) |
| 5.3 | mammography | test (37 full images) | FCN8, U-Net, D10 front/global, DeepLab, GCN | as 5.2 |
| 5.4 | Cityscapes | val | FCN8, U-Net, D10 front, DeepLab, GCN | 5.1's models + adversarial stage |
| 5.5 | mammography | val | same 5 | 5.2's models + adversarial stage |
| 5.6 | mammography | test | same 5 | as 5.5 |

Every table trains what it needs (FCN8 needs FCN32 -> FCN16 -> FCN8; Dilation10 global needs front -> context ->
global) unless `--from-run DIR` names an earlier run whose stages were trained with the same settings (5.3 from
5.2, 5.4 from 5.1, 5.5 from 5.2, 5.6 from 5.5). The generic machinery is `mammoseg.recipes.segmentation`; this
module holds the thesis' numbers and the smoke/full presets. Choices where the thesis is silent:
docs/reproduction/kth-seg.md.
"""
from __future__ import annotations

import argparse
import functools
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..errors import ConfigError
from ..train.recipes import (KTH_SEG_ADVERSARIAL, KTH_SEG_PATIENCE, KTH_SEG_TABLE_4_12, KTH_SEG_TABLE_4_13,
                             KTH_SEG_TRAIN, get_recipe)
from .segmentation import (METRIC_KEYS, AdversarialSettings, CityscapesData, HyperParams, MammoCropData, Schedule,
                           StageSpec, check_preset, optional_path, read_data_record, train_and_evaluate_segmentation,
                           write_data_record)

THESIS = "kth-seg"
ROWS = ("FCN32", "FCN16", "FCN8", "U-Net", "Dilation10 - Front", "Dilation10 - Context", "Dilation10 - Global",
        "Deeplab", "GCN")
TEST_ROWS = ("FCN8", "U-Net", "Dilation10 - Front", "Dilation10 - Global", "Deeplab", "GCN")  # Table 5.3
HEADERS = ("pixel accuracy", "mean iou accuracy", "mean per class accuracy")  # L1523-1526

# Table 4.12 (Cityscapes) and Table 4.13 (mammography), L1446-1476, as the training recipes hold them
# (`mammoseg.train.recipes`): learning rate, weight decay, "dropout" (a keep probability: 1.0 everywhere but
# U-Net's 0.75), batch size.
ROW_OF_MODEL = {"fcn32": "FCN32", "fcn16": "FCN16", "fcn8": "FCN8", "unet": "U-Net",
                "dilation10_front": "Dilation10 - Front", "dilation10_context": "Dilation10 - Context",
                "dilation10_global": "Dilation10 - Global", "deeplabv3": "Deeplab", "gcn": "GCN"}


def _rows(table) -> dict:
    return {ROW_OF_MODEL[model]: HyperParams(lr, wd, keep, batch) for model, lr, wd, keep, batch in table}


ADVERSARIAL_ROWS = tuple(ROW_OF_MODEL[m] for m in KTH_SEG_ADVERSARIAL)  # Tables 5.4-5.6
TABLE_4_12 = _rows(KTH_SEG_TABLE_4_12)
TABLE_4_13 = _rows(KTH_SEG_TABLE_4_13)
HYPERPARAMS = {"cityscapes": TABLE_4_12, "mammography": TABLE_4_13}


@dataclass(frozen=True)
class ModelSetup:
    """A row's network: registry name, input, crop dataset, initialisation, early-stopping patience."""
    model: str
    input_size: int
    crop_size: int
    init_from: str | None = None
    pretrained: str | None = None  # "vgg16" | "resnet18": ImageNet encoder the thesis starts from
    patience: int | None = None  # None: the registry's choice for the model (train.recipes.KTH_SEG_PATIENCE)
    kwargs: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.patience is None:
            if self.model not in KTH_SEG_PATIENCE:
                raise ConfigError(f"no early-stopping patience registered for {self.model!r}: pass patience=")
            object.__setattr__(self, "patience", KTH_SEG_PATIENCE[self.model])


# Thesis sizes (Chapter 4): inputs 256 / 572 / 632, 1024, 1400 / 769 / 800; crop datasets by "sufficient size to
# cover the input" (L1418-1421). Patience: the registry's per-model table (20-50 by epoch time, L1478-1481).
FULL_MODELS = {
    "FCN32": ModelSetup("fcn32", 256, 256, pretrained="vgg16"),
    "FCN16": ModelSetup("fcn16", 256, 256, init_from="FCN32"),
    "FCN8": ModelSetup("fcn8", 256, 256, init_from="FCN16"),
    "U-Net": ModelSetup("unet", 572, 700),
    "Dilation10 - Front": ModelSetup("dilation10_front", 632, 700, pretrained="vgg16"),
    "Dilation10 - Context": ModelSetup("dilation10_context", 1024, 1500, init_from="Dilation10 - Front"),
    "Dilation10 - Global": ModelSetup("dilation10_global", 1400, 1500, init_from="Dilation10 - Context"),
    "Deeplab": ModelSetup("deeplabv3", 769, 900, pretrained="resnet18"),
    "GCN": ModelSetup("gcn", 800, 900, pretrained="resnet18"),
}
# Smoke: the same builders at 1/16 width (U-Net: 4 base filters, 2 levels, still valid padding) and ~1/8 the
# input; the crop datasets keep their order (64 < 96 < 112 < 128 like 256 < 700 < 900 < 1500).
_TINY = {"width": 1 / 16}
SMOKE_MODELS = {
    "FCN32": ModelSetup("fcn32", 64, 64, pretrained="vgg16", kwargs=_TINY),
    "FCN16": ModelSetup("fcn16", 64, 64, init_from="FCN32", kwargs=_TINY),
    "FCN8": ModelSetup("fcn8", 64, 64, init_from="FCN16", kwargs=_TINY),
    "U-Net": ModelSetup("unet", 76, 96, kwargs={"base_filters": 4, "depth": 2}),
    "Dilation10 - Front": ModelSetup("dilation10_front", 88, 96, pretrained="vgg16", kwargs=_TINY),
    "Dilation10 - Context": ModelSetup("dilation10_context", 96, 128, init_from="Dilation10 - Front", kwargs=_TINY),
    "Dilation10 - Global": ModelSetup("dilation10_global", 120, 128, init_from="Dilation10 - Context", kwargs=_TINY),
    "Deeplab": ModelSetup("deeplabv3", 100, 112, pretrained="resnet18", kwargs=_TINY),
    "GCN": ModelSetup("gcn", 96, 112, pretrained="resnet18", kwargs=_TINY),
}
# Smoke: one rate for every row (the thesis' 1e-7..5e-3 are tuned for 100+ epochs of full-width models; 1e-2
# makes the 1/16-width GCN diverge: its linear GCN/BR branches start with logits of ~100).
SMOKE_LEARNING_RATE = 1e-3


def thesis_schedule(**run) -> Schedule:
    """The schedule every kth-seg row shares, read from the training registry (`KTH_SEG_TRAIN`: epochs, LR
    halving, momentum); `run` sets the run-level fields (seed, logging) and the smoke overrides."""
    t = KTH_SEG_TRAIN
    return Schedule(**{**dict(epochs=t.epochs, lr_schedule=t.lr_schedule, lr_patience=t.lr_patience,
                              lr_factor=t.lr_factor, lr_step_epochs=t.lr_step_epochs, momentum=t.momentum), **run})


def thesis_adversarial_settings(**changes) -> AdversarialSettings:
    """The GAN stage of the registry's adversarial recipes (the same for every model and dataset) + `changes`."""
    recipe = get_recipe(f"kth-seg/mammography/{KTH_SEG_ADVERSARIAL[0]}/adversarial")
    a, t = recipe.adversarial, recipe.train
    return replace(AdversarialSettings(
        generator_lr=t.learning_rate, discriminator_lr=a.discriminator_lr, adversarial_weight=a.adversarial_weight,
        discriminator_steps_per_generator_step=a.discriminator_steps_per_generator_step,
        gradient_penalty_weight=a.gradient_penalty_weight, discriminator_kwargs=dict(a.discriminator),
        epochs=t.epochs, patience=t.patience), **changes)


@dataclass(frozen=True)
class TableSetup:
    title: str
    dataset: str  # cityscapes | mammography
    split: str  # val | test
    rows: tuple
    adversarial: bool


TABLES = {
    "5.1": TableSetup("Cityscapes, non-adversarial, validation set", "cityscapes", "val", ROWS, False),
    "5.2": TableSetup("Mammography, non-adversarial, validation set (crops)", "mammography", "val", ROWS, False),
    "5.3": TableSetup("Mammography, non-adversarial, test set (full images)", "mammography", "test", TEST_ROWS,
                      False),
    "5.4": TableSetup("Cityscapes, adversarial fine-tuning, validation set", "cityscapes", "val", ADVERSARIAL_ROWS,
                      True),
    "5.5": TableSetup("Mammography, adversarial fine-tuning, validation set (crops)", "mammography", "val",
                      ADVERSARIAL_ROWS, True),
    "5.6": TableSetup("Mammography, adversarial fine-tuning, test set (full images)", "mammography", "test",
                      ADVERSARIAL_ROWS, True),
}


@dataclass(frozen=True)
class SyntheticSetup:
    """Stand-in data when no --data-root is given (the mammograms are private; Cityscapes needs a login)."""
    mammo_cases: int
    mammo_image_size: tuple  # (H, W)
    mammo_split_fractions: tuple  # train / val / test
    cityscapes_images: dict  # split -> count
    cityscapes_size: tuple  # (H, W)


@dataclass
class KthSegConfig:
    table: str
    scale: str
    data_root: str | None
    seed: int
    dataset: str
    split: str
    rows: tuple
    adversarial: bool
    models: dict  # row -> ModelSetup
    hparams: dict  # row -> HyperParams
    schedule: Schedule
    adversarial_settings: AdversarialSettings
    crops_per_image: dict  # split -> crops per image (Table 4.2: ~50 per image ...)
    crop_count_factors: dict  # crop size -> multiplier (... and ~25 for the 1500-px dataset)
    synthetic: SyntheticSetup
    eval_overlap: float
    from_run: str | None = None
    vgg16_weights: str | None = None
    resnet18_weights: str | None = None


def build_config(table: str, scale: str = "smoke", data_root=None, seed: int = 0, from_run=None,
                 vgg16_weights=None, resnet18_weights=None) -> KthSegConfig:
    """The preset of `table` ("5.1" ... "5.6") at `scale`: full = the thesis' values, smoke = minutes on a CPU."""
    check_preset(THESIS, table, TABLES, scale)
    setup = TABLES[table]
    thesis_hp = HYPERPARAMS[setup.dataset]
    full = scale == "full"
    if full:
        hparams = dict(thesis_hp)
        schedule = thesis_schedule(seed=seed)
        adversarial = thesis_adversarial_settings()
        synthetic = SyntheticSetup(190, (2048, 1664), (0.70, 0.105, 0.195), {"train": 2975, "val": 500},
                                   (1024, 2048))
        crops, factors = {"train": 50, "val": 50}, {1500: 0.5}
    else:
        hparams = {row: replace(hp, learning_rate=SMOKE_LEARNING_RATE) for row, hp in thesis_hp.items()}
        schedule = thesis_schedule(epochs=1, steps_per_epoch=4, batch_cap=4, progress=False, tensorboard=False,
                                   seed=seed)
        adversarial = thesis_adversarial_settings(generator_lr=1e-3, discriminator_lr=1e-2,
                                                  discriminator_steps_per_generator_step=1,
                                                  discriminator_kwargs={"width": 1 / 16}, epochs=1)
        synthetic = SyntheticSetup(10, (256, 208), (0.6, 0.2, 0.2), {"train": 6, "val": 3}, (128, 256))
        crops, factors = {"train": 8, "val": 4}, {}
    return KthSegConfig(table=table, scale=scale, data_root=optional_path(data_root),
                        seed=seed, dataset=setup.dataset, split=setup.split, rows=setup.rows,
                        adversarial=setup.adversarial, models=dict(FULL_MODELS if full else SMOKE_MODELS),
                        hparams=hparams, schedule=schedule, adversarial_settings=adversarial,
                        crops_per_image=crops, crop_count_factors=factors, synthetic=synthetic, eval_overlap=0.25,
                        from_run=optional_path(from_run), vgg16_weights=optional_path(vgg16_weights),
                        resnet18_weights=optional_path(resnet18_weights))


# ------------------------------------------------------------------------------------------------ pieces
def stage_specs(config: KthSegConfig) -> list[StageSpec]:
    """Every row as a `StageSpec`, ImageNet files attached where the thesis starts from them and we have them."""
    files = {"vgg16": config.vgg16_weights, "resnet18": config.resnet18_weights}
    return [StageSpec(row=row, model=m.model, input_size=m.input_size, crop_size=m.crop_size,
                      hparams=config.hparams[row], init_from=m.init_from, model_kwargs=dict(m.kwargs),
                      encoder_weights=files.get(m.pretrained) if m.pretrained else None, patience=m.patience)
            for row, m in config.models.items()]


def prepare_data(config: KthSegConfig, run_dir: Path, log=print):
    """The data source of the table: --data-root, else the --from-run run's data, else synthetic data here."""
    reused = read_data_record(config.from_run) if config.from_run else {}
    data_dir = Path(run_dir) / "data"
    syn = config.synthetic
    if config.dataset == "cityscapes":
        root = config.data_root or _existing(reused.get("cityscapes_root"))
        if root is None:
            from ..data.synthetic_cityscapes import make_cityscapes_like

            log(f"generating synthetic Cityscapes-like scenes {syn.cityscapes_images} in {data_dir / 'cityscapes'}")
            root = make_cityscapes_like(data_dir / "cityscapes", syn.cityscapes_images, tuple(syn.cityscapes_size),
                                        seed=config.seed)
        write_data_record(run_dir, {"cityscapes_root": Path(root).resolve()})
        return CityscapesData(root, eval_overlap=config.eval_overlap)
    root = config.data_root or _existing(reused.get("mammography_root"))
    if root is None:
        from ..data.synthetic import make_kthseg_dataset

        log(f"generating {syn.mammo_cases} synthetic mammograms in {data_dir / 'kthseg'}")
        root = make_kthseg_dataset(data_dir / "kthseg", n_cases=syn.mammo_cases,
                                   image_size=tuple(syn.mammo_image_size), seed=config.seed,
                                   split_fractions=tuple(syn.mammo_split_fractions))
    root = Path(root).resolve()
    same_root = reused.get("mammography_root") == str(root)
    crops_dir = Path(reused["mammography_crops"]) if same_root and _existing(reused.get("mammography_crops")) \
        else data_dir / "crops"
    write_data_record(run_dir, {"mammography_root": root, "mammography_crops": crops_dir.resolve()})
    return MammoCropData(root, crops_dir, config.crops_per_image, seed=config.seed, eval_overlap=config.eval_overlap,
                         size_factors=config.crop_count_factors)


def _existing(path):
    return path if path and Path(path).exists() else None


def _row_note(config: KthSegConfig, spec: StageSpec, outcome, model: ModelSetup) -> str:
    parts = [f"{config.scale} scale" + ("" if config.data_root else ", synthetic data")]
    if outcome.failure:
        parts.append(outcome.failure)
    if model.pretrained and not spec.encoder_weights:
        parts.append(f"random init (no ImageNet {model.pretrained} file given)")
    if spec.init_from:
        parts.append(f"init from {spec.init_from}")
    stage = "adversarial stage: " if outcome.baseline is not None else ""
    if outcome.best_epoch is not None and outcome.epochs_run is not None:
        parts.append(f"{stage}best epoch {outcome.best_epoch}/{outcome.epochs_run}")
    if outcome.reused:
        parts.append("weights reused (--from-run)")
    if outcome.baseline is not None:
        delta = 100 * (outcome.metrics["mean_iou"] - outcome.baseline["mean_iou"])
        parts.append(f"mIoU {delta:+.2f} vs non-adversarial")
    return "; ".join(parts)


def _context(config: KthSegConfig, data) -> str:
    setup = TABLES[config.table]
    source = f"data: {config.data_root}" if config.data_root else (
        "data: synthetic stand-in (the Karolinska mammograms are private)" if config.dataset == "mammography"
        else "data: synthetic Cityscapes-like scenes (real Cityscapes needs --data-root)")
    lines = [f"{config.scale} scale; {source}. Thesis numbers: the author's real data, shown for layout and scale; "
             + ("smoke numbers on synthetic data are not comparable." if config.scale == "smoke" else "")]
    if config.split == "test":
        lines.append(f"Test: every full test image by sliding window (model input tile, overlap "
                     f"{config.eval_overlap}); one confusion matrix over the set.")
    elif config.dataset == "mammography":
        lines.append("Validation: centre input-size window of every val crop of the model's crop dataset.")
    else:
        lines.append(f"Validation: every full val image by sliding window (overlap {config.eval_overlap}).")
    if setup.adversarial:
        a = config.adversarial_settings
        lines.append(f"Adversarial stage from the non-adversarial best weights: G lr {a.generator_lr:g}, D lr "
                     f"{a.discriminator_lr:g}, weight {a.adversarial_weight}, "
                     f"{a.discriminator_steps_per_generator_step} D updates per G update, best by val mIoU.")
    if config.scale == "smoke":
        lines.append(f"Smoke: 1/16-width networks, small inputs, {config.schedule.epochs} epochs of at most "
                     f"{config.schedule.steps_per_epoch} steps, batch <= {config.schedule.batch_cap}, "
                     f"learning rate {SMOKE_LEARNING_RATE} for every row.")
    lines.append("Means over the classes present (undefined IoU/accuracy left out).")
    return "\n".join(lines)


def run(config: KthSegConfig, run_dir) -> tuple[list, str]:
    """Train / reuse, evaluate, and return the table rows (fractions) and the context text."""
    from ..experiment import ResultRow

    run_dir = Path(run_dir)

    started = time.perf_counter()

    def log(message: str) -> None:
        print(f"[kth-seg {config.table} {time.perf_counter() - started:6.1f}s] {message}", flush=True)

    data = prepare_data(config, run_dir, log)
    if config.from_run and not (Path(config.from_run) / data.name).is_dir():
        log(f"--from-run {config.from_run} holds no {data.name} stages: training every stage here")
    specs = stage_specs(config)
    outcomes = train_and_evaluate_segmentation(
        specs, data, config.schedule, run_dir, rows=config.rows, split=config.split,
        adversarial=config.adversarial_settings if config.adversarial else None, reuse_from=config.from_run,
        log=log)
    by_row = {s.row: s for s in specs}
    rows = [ResultRow(row, {k: o.metrics[k] for k in METRIC_KEYS},
                      _row_note(config, by_row[row], o, config.models[row])) for row, o in outcomes.items()]
    return rows, _context(config, data)


# ------------------------------------------------------------------------------------------------ scripts
def thesis_table(table: str, published: dict):
    """The ThesisTable of `table` with its published rows (values in %, columns as the thesis prints them)."""
    from ..experiment import ThesisTable

    setup = TABLES[table]
    if tuple(published) != setup.rows:
        raise ConfigError(f"Table {table} rows {tuple(published)} differ from the recipe's {setup.rows}")
    return ThesisTable(thesis=THESIS, table=f"Table {table}", title=setup.title, columns=METRIC_KEYS,
                       headers=HEADERS, rows=dict(published))


def extra_options() -> argparse.ArgumentParser:
    from ..experiment import from_run_option

    p = from_run_option("run directory of an earlier kth-seg table whose trained stages to reuse")
    p.add_argument("--vgg16-weights", default=None, help="ImageNet VGG16 .npz (FCN32, Dilation10 front)")
    p.add_argument("--resnet18-weights", default=None, help="ImageNet ResNet-18 .npz (DeepLab, GCN)")
    return p


def main(name: str, table, argv=None) -> int:
    """Entry point of experiments/0N_kth_seg_table5_N.py: the common options + --from-run and weight files."""
    from ..experiment import experiment_main

    table_id = table.table.removeprefix("Table ")
    return experiment_main(name, table, functools.partial(build_config, table_id), run, argv, extra_options())
