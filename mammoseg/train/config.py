"""Training configuration: one dataclass that every thesis recipe fills in (values from Tables 4.12/4.13 etc.)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ..errors import ConfigError


@dataclass
class TrainConfig:
    epochs: int = 300  # upper bound; early stopping usually ends training first (kth-seg §4.4)
    batch_size: int = 4  # global batch, split across replicas
    learning_rate: float = 1e-3
    optimizer: str = "sgd"  # sgd | adam | adamw
    momentum: float = 0.9  # kth-seg: "SGD with momentum", value unstated -> 0.9
    weight_decay: float = 0.0  # TF1-style L2 term wd * sum(l2_loss(kernel)) added to the loss
    patience: int = 20  # early stopping: epochs without improvement of `monitor` (thesis: 20-50)
    lr_patience: int = 10  # halve the LR each time this many epochs pass without improvement (thesis §4.4)
    lr_factor: float = 0.5
    monitor: str = "val_loss"  # val_loss (min) | val_mean_iou (max; adversarial stage)
    min_delta: float = 0.0
    seed: int = 0
    jit_compile: bool = False  # pass True explicitly: "auto" silently disables XLA under tf.distribute
    keep_checkpoints: int = 2
    progress: bool = True
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.monitor not in ("val_loss", "val_mean_iou"):
            raise ConfigError(f"monitor must be val_loss or val_mean_iou, not {self.monitor!r}")
        if self.optimizer not in ("sgd", "adam", "adamw"):
            raise ConfigError(f"unknown optimizer {self.optimizer!r}")
        if self.batch_size < 1 or self.epochs < 1:
            raise ConfigError("batch_size and epochs must be >= 1")

    def to_dict(self) -> dict:
        return asdict(self)
