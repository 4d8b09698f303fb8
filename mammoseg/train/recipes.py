"""Every thesis' training procedure as data: a TrainConfig + a model name + a loss name (+ the GAN stage's
AdversarialConfig), registered under a name like `kth-seg/mammography/unet` or `oulu-mass/resnet22_fpn/ft-a`.

    recipe = get_recipe("kth-seg/mammography/unet")
    trainer = build_trainer(recipe, run_dir, loss_overrides={"class_weights": w})
    trainer.fit(train_data, val_data, steps)

A recipe holds only what the thesis states (or what docs/training.md chose where it is silent); data-derived
arguments (class weights, the converged checkpoint) and test-size overrides are passed to `build_trainer`.
This module is the one source of these numbers: the experiment recipes (`mammoseg.recipes.*`) derive their
full-scale training from `get_recipe(name).train` (tests/test_recipe_consistency.py pins it).
Sources: kth-seg Tables 4.12 / 4.13 and §4.4 (L1428-1499); lrh-seg Table 8 (L2181-2209); oulu-mass §3.2.3
(L952-974); pig-ct §4.3 (L1423-1476, L1502); kth-cls Tables 4.1 / 4.4 / 4.5 and Eq. 3.17.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from typing import Callable

from ..errors import ConfigError
from .adversarial import AdversarialConfig, adversarial_train_config
from .config import TrainConfig
from .losses import FOCAL_TVERSKY_A, FOCAL_TVERSKY_B, build_loss

TASKS = ("segmentation", "binary", "classification")


@dataclass(frozen=True)
class Recipe:
    name: str
    thesis: str  # kth-seg | lrh-seg | oulu-mass | pig-ct | kth-cls
    source: str  # where the thesis states it
    model: str  # mammoseg.models registry name
    loss: str  # mammoseg.train.losses.build_loss name
    train: TrainConfig
    task: str = "segmentation"  # segmentation (C-class logits) | binary (one channel) | classification (scores)
    num_classes: int = 13
    model_kwargs: dict = field(default_factory=dict)
    loss_kwargs: dict = field(default_factory=dict)
    from_logits: bool = True  # False: the model ends in a sigmoid (kth-cls classifiers)
    ignore_id: int | None = None
    adversarial: AdversarialConfig | None = None
    init_from: str | None = None  # recipe whose trained weights start this one (FCN / Dilation10 chains, GAN)
    notes: str = ""


RECIPES: dict[str, Recipe] = {}


def _register(recipe: Recipe) -> Recipe:
    if recipe.name in RECIPES:
        raise ConfigError(f"recipe {recipe.name!r} registered twice")
    if recipe.task not in TASKS:
        raise ConfigError(f"recipe {recipe.name!r}: task must be one of {TASKS}")
    RECIPES[recipe.name] = recipe
    return recipe


# ------------------------------------------------------------------------------------------------- kth-seg
# (model, learning rate, weight decay, "dropout" column = keep probability, batch size): Tables 4.12 / 4.13.
KTH_SEG_TABLE_4_12 = (  # Cityscapes
    ("fcn32", 1e-4, 0.0, 1.0, 20), ("fcn16", 1e-5, 1e-8, 1.0, 20), ("fcn8", 1e-5, 1e-8, 1.0, 20),
    ("unet", 1e-3, 0.0, 0.75, 4), ("dilation10_front", 1e-4, 1e-10, 1.0, 8),
    ("dilation10_context", 1e-5, 1e-15, 1.0, 4), ("dilation10_global", 1e-5, 1e-15, 1.0, 1),
    ("deeplabv3", 1e-3, 0.0, 1.0, 4), ("gcn", 7e-7, 5e-5, 1.0, 2),
)
KTH_SEG_TABLE_4_13 = (  # mammography
    ("fcn32", 1e-4, 1e-8, 1.0, 20), ("fcn16", 1e-7, 1e-8, 1.0, 20), ("fcn8", 1e-6, 1e-8, 1.0, 20),
    ("unet", 1e-3, 0.0, 0.75, 4), ("dilation10_front", 1e-5, 1e-15, 1.0, 8),
    ("dilation10_context", 1e-6, 1e-15, 1.0, 4), ("dilation10_global", 1e-6, 1e-15, 1.0, 1),
    ("deeplabv3", 5e-3, 0.0, 1.0, 4), ("gcn", 5e-3, 0.0, 1.0, 2),
)
KTH_SEG_CHAIN = {"fcn16": "fcn32", "fcn8": "fcn16", "dilation10_context": "dilation10_front",
                 "dilation10_global": "dilation10_context"}  # L1050-1053, L1232-1239
KTH_SEG_ADVERSARIAL = ("fcn8", "unet", "dilation10_front", "deeplabv3", "gcn")  # Tables 5.4-5.6
# Early-stopping patience "ranging from 20 to 50 depending on the time needed to train an epoch" (L1478-1481); the
# per-model values are ours (docs/training.md): 50 for the cheap 256-px FCN epochs, 20 for the Dilation10 stages on
# the 1500-px crop dataset (1024 / 1400-px inputs, batch 4 / 1), 30 for the rest.
KTH_SEG_PATIENCE = {"fcn32": 50, "fcn16": 50, "fcn8": 50, "unet": 30, "dilation10_front": 30,
                    "dilation10_context": 20, "dilation10_global": 20, "deeplabv3": 30, "gcn": 30}
KTH_SEG_ADVERSARIAL_PATIENCE = 20  # epochs without a better val mean IoU (unstated; the range's low end)
# What every kth-seg row shares (§4.4, L1428-1482): SGD with momentum (0.9: value unstated), L2 on the kernels
# (TF1), LR halved each time 10 epochs pass without a lower val loss, early stopping on (and best by) the val loss,
# at most 300 epochs (unstated). The rows add learning rate, weight decay, batch size and patience.
KTH_SEG_TRAIN = TrainConfig(
    optimizer="sgd", momentum=0.9, weight_decay_on="kernels", lr_schedule="plateau", lr_factor=0.5, lr_patience=10,
    early_stopping=True, monitor="val_loss", epochs=300)
_NO_DROPOUT_ARG = ("gcn",)  # builders without a dropout argument (their keep probability is 1.0 anyway)


def _kth_seg_recipes(dataset: str, table: tuple, table_name: str, num_classes: int, ignore_id):
    for model, lr, wd, keep, batch in table:
        base = KTH_SEG_TRAIN.replace(learning_rate=lr, weight_decay=wd, batch_size=batch,
                                     patience=KTH_SEG_PATIENCE[model])
        model_kwargs = {"num_classes": num_classes}
        if model not in _NO_DROPOUT_ARG:
            model_kwargs["dropout"] = round(1.0 - keep, 6)  # TF1 keep probability -> Keras drop rate
        prefix = f"kth-seg/{dataset}"
        segmentation = _register(Recipe(
            name=f"{prefix}/{model}", thesis="kth-seg", source=f"{table_name}, §4.4 (L1428-1499)", model=model,
            loss="weighted_cross_entropy", loss_kwargs={"ignore_id": ignore_id} if ignore_id is not None else {},
            train=base, num_classes=num_classes, model_kwargs=model_kwargs, ignore_id=ignore_id,
            init_from=f"{prefix}/{KTH_SEG_CHAIN[model]}" if model in KTH_SEG_CHAIN else None,
            notes=f"keep probability {keep}; class weights w = 1 - x/100 from the training crops "
                  "(pass loss_overrides={'class_weights': ...})"))
        if model in KTH_SEG_ADVERSARIAL:
            _register(replace(
                segmentation, name=f"{prefix}/{model}/adversarial", source="§4.2.6, §4.4 (L1338-1403, L1484-1499)",
                train=adversarial_train_config(base, patience=KTH_SEG_ADVERSARIAL_PATIENCE),
                adversarial=AdversarialConfig(), init_from=segmentation.name,
                notes="GAN fine-tuning from the converged weights (pass init_weights=<run>/best.weights.h5)"))


_kth_seg_recipes("mammography", KTH_SEG_TABLE_4_13, "Table 4.13", 13, None)
_kth_seg_recipes("cityscapes", KTH_SEG_TABLE_4_12, "Table 4.12", 19, 255)

# ------------------------------------------------------------------------------------------------- lrh-seg
# Table 8 "Experimental Parameters for Dilation 10" (MATLAB trainingOptions): SGDM 0.9, LR 1e-4 x0.3 every
# 10 epochs, L2 0.005 (MATLAB: factor/2 |w|^2 on weights only = wd * l2_loss on kernels), 100 epochs, batch 64,
# validation patience 4. The other lrh-seg models reuse kth-seg's recipes (spec lrh-seg §3).
_register(Recipe(
    name="lrh-seg/dilation10", thesis="lrh-seg", source="Table 8 (L2181-2209), §3.5", model="dilation10_front",
    loss="weighted_cross_entropy", num_classes=2, model_kwargs={"num_classes": 2},
    train=TrainConfig(optimizer="sgd", momentum=0.9, learning_rate=1e-4, lr_schedule="step", lr_step_epochs=10,
                      lr_factor=0.3, weight_decay=0.005, weight_decay_on="kernels", epochs=100, batch_size=64,
                      early_stopping=True, patience=4, monitor="val_loss"),
    notes="2-class framing; patience 4 is Table 8's (the copied prose says 20-50)"))

# ------------------------------------------------------------------------------------------------- oulu-mass
# Adam 1e-4 (betas 0.9 / 0.999, PyTorch eps 1e-8), weight decay 1e-4 as PyTorch Adam applies it (grad += wd*w on
# every parameter = wd * l2_loss on all), x0.1 at epochs 20 / 30 / 40, 50 epochs, batch 32, best val loss.
OULU_MASS_MODELS = ("resnet22_unet", "resnet22_fpn", "resnet34_unet", "resnet34_fpn", "oulu_unet")
OULU_MASS_LOSSES = {
    "bce-j": ("bce_jaccard", {}),
    "ft-b": ("focal_tversky", dict(FOCAL_TVERSKY_B)),
    "ft-a": ("focal_tversky", dict(FOCAL_TVERSKY_A)),
}
OULU_MASS_TRAIN = TrainConfig(
    optimizer="adam", learning_rate=1e-4, beta_1=0.9, beta_2=0.999, epsilon=1e-8, weight_decay=1e-4,
    weight_decay_on="all", lr_schedule="multistep", lr_milestones=(20, 30, 40), lr_factor=0.1, epochs=50,
    batch_size=32, early_stopping=False, monitor="val_loss")
for _model in OULU_MASS_MODELS:
    for _short, (_loss, _kwargs) in OULU_MASS_LOSSES.items():
        _register(Recipe(
            name=f"oulu-mass/{_model}/{_short}", thesis="oulu-mass", source="§3.2.2-3.2.3 (L892-974)",
            model=_model, loss=_loss, loss_kwargs=_kwargs, train=OULU_MASS_TRAIN, task="binary", num_classes=2))

# ------------------------------------------------------------------------------------------------- pig-ct
# RMSprop (Keras 2.2.2 defaults: lr 1e-3, rho 0.9, eps 1e-7), weighted BCE w0 = 1/(1 - 0.289) = 1.406,
# w1 = 1/0.289 = 3.460 (L1463-1468); batch 4 (transverse), 1 (sagittal / coronal), 2 (3-D blocks). Epochs and
# stopping are not given: at most 10 epochs, early stopping after 3 without a lower validation loss, best val loss
# kept (an epoch is a pass over ~240 k slices: docs/training.md).
PIG_CT_LOSS = {"negative_weight": 1.406, "positive_weight": 3.460}
PIG_CT_TRAIN = TrainConfig(optimizer="rmsprop", learning_rate=1e-3, rho=0.9, epsilon=1e-7, lr_schedule="constant",
                           epochs=10, early_stopping=True, patience=3, monitor="val_loss")
for _name, _model, _batch in (("transverse", "residual_unet_2d", 4), ("sagittal", "residual_unet_2d", 1),
                              ("coronal", "residual_unet_2d", 1), ("3d", "residual_unet_3d", 2)):
    _register(Recipe(
        name=f"pig-ct/{_name}", thesis="pig-ct", source="§4.3-4.4 (L1423-1476, L1502)", model=_model,
        loss="binary_cross_entropy", loss_kwargs={"from_logits": True, **PIG_CT_LOSS},
        train=PIG_CT_TRAIN.replace(batch_size=_batch), task="binary", num_classes=2,
        notes="the network's sigmoid is folded into the loss (from_logits=True)"))

# ------------------------------------------------------------------------------------------------- kth-cls
# Adam 5e-5 (TF1 eps 1e-8), lr x0.75 per "epoch" of a fixed step count (Eq. 3.17, continuous), batch 50, no
# validation-based selection: the last weights are kept.
KTH_CLS_CLASSIFIER_TRAIN = TrainConfig(
    optimizer="adam", learning_rate=5e-5, epsilon=1e-8, lr_schedule="exponential", lr_factor=0.75, batch_size=50,
    steps_per_epoch=5000, epochs=10, early_stopping=False, monitor="last")
KTH_CLS_DETECTOR_TRAIN = KTH_CLS_CLASSIFIER_TRAIN.replace(steps_per_epoch=100, epochs=20)
_register(Recipe(
    name="kth-cls/end-to-end", thesis="kth-cls", source="Table 4.1, §3.1.7", model="vgg16_classifier",
    loss="binary_cross_entropy", train=KTH_CLS_CLASSIFIER_TRAIN, task="classification", num_classes=3,
    from_logits=False, notes="BCE of the three sigmoid scores against the one-hot class (DDSM3)"))
_register(Recipe(
    name="kth-cls/decomposition", thesis="kth-cls", source="Table 4.5, Eq. 4.2", model="decomposition_classifier",
    loss="binary_cross_entropy", train=KTH_CLS_CLASSIFIER_TRAIN, task="classification", num_classes=3,
    from_logits=False, notes="2 input channels: image + ROI-detector heat map"))
for _short, _loss in (("dice", "dice"), ("ss", "sensitivity_specificity")):
    _register(Recipe(
        name=f"kth-cls/roi-{_short}", thesis="kth-cls", source="Table 4.4, code A.3.5",
        model="roi_unet", loss=_loss, loss_kwargs={"from_logits": True}, train=KTH_CLS_DETECTOR_TRAIN,
        task="binary", num_classes=2, notes="one detector per annotation-size group P0-P4"))


# ------------------------------------------------------------------------------------------------- access
def get_recipe(name: str) -> Recipe:
    try:
        return RECIPES[name]
    except KeyError:
        raise ConfigError(f"unknown recipe {name!r}; known: {', '.join(RECIPES)}") from None


def list_recipes(thesis: str | None = None) -> list[str]:
    return [name for name, r in RECIPES.items() if thesis is None or r.thesis == thesis]


def one_hot_targets(loss_fn: Callable, num_classes: int) -> Callable:
    """Class ids (B,) -> one-hot targets for a loss on per-class scores (kth-cls' three sigmoid outputs)."""
    import tensorflow as tf

    @functools.wraps(loss_fn)
    def wrapped(class_ids, scores):
        return loss_fn(tf.one_hot(tf.cast(class_ids, tf.int32), num_classes), scores)

    return wrapped


def recipe_loss(recipe: Recipe, **overrides) -> Callable:
    """The recipe's loss (per-example values), with data-derived arguments such as class_weights added."""
    loss = build_loss(recipe.loss, **{**recipe.loss_kwargs, **overrides})
    return one_hot_targets(loss, recipe.num_classes) if recipe.task == "classification" else loss


def build_trainer(recipe: Recipe, run_dir, *, model_overrides: dict | None = None,
                  train_overrides: dict | None = None, loss_overrides: dict | None = None, strategy=None,
                  init_weights=None, class_names=None, discriminator_overrides: dict | None = None):
    """A Trainer (or AdversarialTrainer) configured by the recipe; overrides are for data and test sizes."""
    from ..models import build_model
    from .adversarial import AdversarialTrainer
    from .loop import Trainer

    model_kwargs = {**recipe.model_kwargs, **(model_overrides or {})}
    config = recipe.train.replace(**(train_overrides or {}))
    loss = recipe_loss(recipe, **(loss_overrides or {}))
    common = dict(class_names=class_names, ignore_id=recipe.ignore_id, strategy=strategy)

    def make_model():
        return build_model(recipe.model, **model_kwargs)

    if recipe.adversarial is not None:
        adversarial = recipe.adversarial
        if discriminator_overrides:
            adversarial = replace(adversarial, discriminator={**adversarial.discriminator, **discriminator_overrides})
        return AdversarialTrainer(make_model, loss, config, adversarial, run_dir, recipe.num_classes,
                                  init_weights=init_weights, **common)
    if init_weights is not None:  # staged training: same-named layers of the previous stage's model carry over
        previous = get_recipe(recipe.init_from) if recipe.init_from else recipe

        def make_model():  # noqa: F811
            from ..models.weights import transfer_weights

            model = build_model(recipe.model, **model_kwargs)
            source = build_model(previous.model, **{**previous.model_kwargs, **(model_overrides or {})})
            source.load_weights(str(init_weights))
            transfer_weights(source, model)
            return model

    return Trainer(make_model, loss, config, run_dir, recipe.num_classes, from_logits=recipe.from_logits, **common)
