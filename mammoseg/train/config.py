"""Training configuration: one dataclass that every thesis recipe fills in (values from Tables 4.12/4.13 etc.).

The learning-rate schedules of the five theses are all "base rate x a multiplier"; `lr_multiplier` computes the
multiplier from (epoch, step) and the plateau state alone, so a resumed run sets exactly the rate an uninterrupted
one would have had (docs/training.md, "Schedules").
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

from ..errors import ConfigError

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
LR_SCHEDULES = ("plateau", "constant", "step", "multistep", "exponential")
PRECISIONS = (None, "mixed_float16", "mixed_bfloat16")
WEIGHT_DECAY_TARGETS = ("kernels", "all")

# Monitored quantity -> direction of improvement. "last" keeps the final weights (kth-cls has no validation rule).
MONITORS = {
    "val_loss": "min",
    "val_mean_iou": "max",
    "val_mean_dice": "max",
    "val_pixel_accuracy": "max",
    "val_mean_class_accuracy": "max",
    "val_mean_one_vs_all_accuracy": "max",
    "last": None,
}


@dataclass
class TrainConfig:
    epochs: int = 300  # upper bound; early stopping usually ends training first (kth-seg §4.4)
    batch_size: int = 4  # global batch, split across replicas
    learning_rate: float = 1e-3
    optimizer: str = "sgd"  # sgd | adam | adamw | rmsprop
    momentum: float = 0.9  # kth-seg: "SGD with momentum", value unstated -> 0.9; 0 = plain SGD (adversarial stage)
    beta_1: float = 0.9  # Adam
    beta_2: float = 0.999  # Adam
    rho: float = 0.9  # RMSprop (pig-ct: Keras 2.2.2 default)
    epsilon: float = 1e-7  # Adam / RMSprop; kth-cls (TF1 AdamOptimizer) uses 1e-8
    weight_decay: float = 0.0  # L2 term wd * sum(l2_loss(w)) added to the loss (AdamW: decoupled decay instead)
    weight_decay_on: str = "kernels"  # kernels (TF1 / MATLAB convention) | all (PyTorch Adam weight_decay)
    lr_schedule: str = "plateau"  # plateau | constant | step | multistep | exponential
    lr_factor: float = 0.5  # the multiplier each schedule applies (plateau 0.5, step 0.3, multistep 0.1, exp 0.75)
    lr_patience: int = 10  # plateau: multiply by lr_factor each time this many epochs pass without improvement
    lr_step_epochs: int = 10  # step: multiply by lr_factor every this many epochs
    lr_milestones: tuple[int, ...] = ()  # multistep: epochs (0-based starts) at which to multiply by lr_factor
    lr_staircase: bool = False  # exponential: factor ** floor(t / steps_per_epoch) instead of t / steps_per_epoch
    early_stopping: bool = True
    patience: int = 20  # early stopping: epochs without improvement of `monitor` (thesis: 20-50)
    monitor: str = "val_loss"  # see MONITORS; val_mean_iou for the adversarial stage
    min_delta: float = 0.0
    steps_per_epoch: int | None = None  # fixed "epoch" length (kth-cls: 5000 steps); None = one pass over the data
    seed: int = 0
    jit_compile: bool = False  # XLA on the replica step; pass True explicitly ("auto" is off under tf.distribute)
    mixed_precision: str | None = None  # None | mixed_float16 (with loss scaling) | mixed_bfloat16
    keep_checkpoints: int = 2
    checkpoint_every_steps: int | None = None  # also checkpoint inside an epoch (long kth-cls epochs)
    progress: bool = True
    tensorboard: bool = True
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        self.lr_milestones = tuple(int(m) for m in self.lr_milestones)
        _check_choice("monitor", self.monitor, tuple(MONITORS))
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        _check_choice("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        _check_choice("mixed_precision", self.mixed_precision, PRECISIONS)
        _check_choice("weight_decay_on", self.weight_decay_on, WEIGHT_DECAY_TARGETS)
        if self.batch_size < 1 or self.epochs < 1:
            raise ConfigError("batch_size and epochs must be >= 1")
        if self.learning_rate <= 0 or self.lr_factor <= 0:
            raise ConfigError("learning_rate and lr_factor must be > 0")
        if self.steps_per_epoch is not None and self.steps_per_epoch < 1:
            raise ConfigError("steps_per_epoch must be >= 1 (or None)")
        if self.checkpoint_every_steps is not None and self.checkpoint_every_steps < 1:
            raise ConfigError("checkpoint_every_steps must be >= 1 (or None)")
        if self.monitor == "last" and (self.early_stopping or self.lr_schedule == "plateau"):
            raise ConfigError("monitor='last' has nothing to watch: set early_stopping=False and a schedule other "
                              "than 'plateau'")
        if self.lr_schedule == "step" and self.lr_step_epochs < 1:
            raise ConfigError("lr_step_epochs must be >= 1")

    @property
    def mode(self) -> str | None:
        """'min' or 'max' for the monitored quantity, None for 'last'."""
        return MONITORS[self.monitor]

    def to_dict(self) -> dict:
        return asdict(self)

    def replace(self, **changes) -> "TrainConfig":
        return replace(self, **changes)


def _check_choice(name: str, value, choices) -> None:
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(map(repr, choices))}, not {value!r}")


def lr_multiplier(cfg: TrainConfig, epoch: int, step: int, steps_per_epoch: int, plateau_scale: float = 1.0
                  ) -> float:
    """Multiplier on the base learning rate during step `step` (0-based) of epoch `epoch` (0-based).

    plateau: the product of the halvings so far (kept in the trainer state); step: lr_factor ** (epoch // period)
    (lrh-seg, x0.3 every 10 epochs); multistep: lr_factor per milestone reached (oulu-mass, x0.1 at 20/30/40);
    exponential: lr_factor ** (t / steps_per_epoch), t the global step (kth-cls Eq. 3.17, x0.75 per epoch).
    """
    if cfg.lr_schedule == "plateau":
        return plateau_scale
    if cfg.lr_schedule == "constant":
        return 1.0
    if cfg.lr_schedule == "step":
        return cfg.lr_factor ** (epoch // cfg.lr_step_epochs)
    if cfg.lr_schedule == "multistep":
        return cfg.lr_factor ** sum(epoch >= m for m in cfg.lr_milestones)
    exponent = (epoch * steps_per_epoch + step) / steps_per_epoch
    return cfg.lr_factor ** (math.floor(exponent) if cfg.lr_staircase else exponent)
