"""One source for each thesis' training numbers: every experiment preset at full scale trains with exactly the
registered recipe's TrainConfig (`mammoseg.train.recipes`), smoke presets change only their documented fields, and
a few registry numbers are read back from the thesis text. Fast: no network is built or trained."""
import re
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from mammoseg.recipes import kth_cls, kth_seg, pig_ct, segmentation
from mammoseg.recipes import oulu_mass as om
from mammoseg.train.adversarial import AdversarialConfig, adversarial_train_config
from mammoseg.train.config import lr_multiplier
from mammoseg.train.recipes import KTH_SEG_PATIENCE, PIG_CT_LOSS, get_recipe, list_recipes

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"
# Run-level settings, not thesis numbers: a run may set them freely.
RUN_FIELDS = {"seed", "progress", "tensorboard", "keep_checkpoints", "checkpoint_every_steps", "jit_compile",
              "mixed_precision", "extra"}


def thesis_fields(config) -> dict:
    return {k: v for k, v in asdict(config).items() if k not in RUN_FIELDS}


def changed_fields(config, registered) -> set:
    ours, theirs = thesis_fields(config), thesis_fields(registered)
    return {k for k in theirs if ours[k] != theirs[k]}


# ------------------------------------------------------------------------------------------------ kth-seg
def _kth_seg_stage_configs(table: str, scale: str):
    """(spec, the TrainConfig its stage trains with, the registered recipe) for every row of a preset."""
    config = kth_seg.build_config(table, scale)
    for spec in kth_seg.stage_specs(config):
        recipe = get_recipe(f"kth-seg/{config.dataset}/{spec.model}")
        yield spec, segmentation._train_config(spec, config.schedule), recipe


@pytest.mark.parametrize("table", list(kth_seg.TABLES))
def test_kth_seg_full_presets_train_with_the_registered_recipes(table):
    config = kth_seg.build_config(table, "full")
    row_of_model = {setup.model: row for row, setup in config.models.items()}
    for spec, train, recipe in _kth_seg_stage_configs(table, "full"):
        assert changed_fields(train, recipe.train) == set(), spec.row
        assert spec.hparams.dropout_rate == pytest.approx(recipe.model_kwargs.get("dropout", 0.0))
        expected_parent = row_of_model[get_recipe(recipe.init_from).model] if recipe.init_from else None
        assert spec.init_from == expected_parent
    if config.adversarial:  # the GAN stage as `segmentation.train_stage` assembles it
        a = config.adversarial_settings
        for spec, train, _ in _kth_seg_stage_configs(table, "full"):
            if spec.row not in config.rows:
                continue
            recipe = get_recipe(f"kth-seg/{config.dataset}/{spec.model}/adversarial")
            stage = adversarial_train_config(train, learning_rate=a.generator_lr, epochs=a.epochs,
                                             patience=a.patience)
            assert changed_fields(stage, recipe.train) == set(), spec.row
            assert AdversarialConfig(a.discriminator_lr, a.adversarial_weight,
                                     a.discriminator_steps_per_generator_step, a.gradient_penalty_weight,
                                     dict(a.discriminator_kwargs)) == recipe.adversarial


def test_kth_seg_smoke_changes_only_its_documented_fields():
    for spec, train, recipe in _kth_seg_stage_configs("5.2", "smoke"):
        # 1 epoch of 4 steps, batch capped at 4, one learning rate for every row (docs/reproduction/kth-seg.md)
        assert changed_fields(train, recipe.train) <= {"epochs", "steps_per_epoch", "batch_size", "learning_rate"}
        assert train.learning_rate == kth_seg.SMOKE_LEARNING_RATE and train.patience == recipe.train.patience
    smoke = kth_seg.build_config("5.5", "smoke").adversarial_settings
    full = kth_seg.build_config("5.5", "full").adversarial_settings
    assert {k for k, v in asdict(smoke).items() if asdict(full)[k] != v} == {
        "generator_lr", "discriminator_lr", "discriminator_steps_per_generator_step", "discriminator_kwargs",
        "epochs"}


def test_kth_seg_patience_table_is_the_presets_and_follows_epoch_time():
    for scale in ("smoke", "full"):
        for setup in kth_seg.build_config("5.1", scale).models.values():
            assert setup.patience == KTH_SEG_PATIENCE[setup.model]
    assert set(KTH_SEG_PATIENCE.values()) <= set(range(20, 51))  # "ranging from 20 to 50" (L1478-1481)
    # cheaper epochs wait longer: 256-px FCNs > U-Net (572 px) > Dilation10 on the 1500-px crops
    assert KTH_SEG_PATIENCE["fcn8"] > KTH_SEG_PATIENCE["unet"] > KTH_SEG_PATIENCE["dilation10_global"]


# ------------------------------------------------------------------------------------------------ lrh-seg
def test_lrh_seg_table8_options_equal_the_registered_recipe():
    """lrh_seg parses its own copy of Table 8 (L2181-2209); it must give the registry's Dilation10 training."""
    from mammoseg.recipes import lrh_seg

    assert changed_fields(lrh_seg.table8_train_config(), get_recipe("lrh-seg/dilation10").train) == set()


# ------------------------------------------------------------------------------------------------ pig-ct
@pytest.mark.parametrize("network", pig_ct.NETWORKS)
def test_pig_ct_full_preset_trains_with_the_registered_recipe(network):
    recipe = get_recipe(f"pig-ct/{network.lower()}")
    assert changed_fields(pig_ct.train_config(pig_ct.build_config("full"), network), recipe.train) == set()
    smoke = pig_ct.train_config(pig_ct.build_config("smoke"), network)
    assert changed_fields(smoke, recipe.train) == {"epochs", "patience"}  # SMOKE_CHANGES: 1 epoch, patience 1


def test_pig_ct_loss_is_the_registered_one_with_the_thesis_rule(rng):
    # L1464-1468: w0 = 1 / (1 - 0.289) = 1.40647..., w1 = 1 / 0.289 = 3.46021..., printed to 3 decimals
    assert (round(1 / (1 - 0.289), 3), round(1 / 0.289, 3)) == (1.406, 3.460)
    assert PIG_CT_LOSS == {"negative_weight": 1.406, "positive_weight": 3.460}
    from mammoseg.train.recipes import recipe_loss

    logits = rng.normal(size=(2, 4, 4, 1)).astype(np.float32)
    labels = rng.integers(0, 2, size=(2, 4, 4)).astype(np.int32)
    ours = pig_ct.weighted_bce((PIG_CT_LOSS["negative_weight"], PIG_CT_LOSS["positive_weight"]))
    theirs = recipe_loss(get_recipe("pig-ct/sagittal"))
    np.testing.assert_allclose(np.asarray(ours(labels, logits)), np.asarray(theirs(labels, logits)), rtol=1e-6)


# ------------------------------------------------------------------------------------------------ oulu-mass
def test_oulu_mass_full_preset_trains_with_every_registered_recipe():
    full = om.train_config(om.build_config("full"))
    for name in list_recipes("oulu-mass"):
        assert changed_fields(full, get_recipe(name).train) == set(), name
    smoke = om.train_config(om.build_config("smoke"))
    assert changed_fields(smoke, full) == {"epochs", "batch_size", "steps_per_epoch"}


@pytest.mark.parametrize("table_loss", om.LOSS_NAMES)
def test_oulu_mass_losses_are_the_registered_ones(table_loss):
    loss = om.MassLoss()
    loss.set(table_loss)
    for model in om.MODELS.values():
        kwargs = get_recipe(f"oulu-mass/{model}/{table_loss.lower()}").loss_kwargs
        if table_loss == "BCE-J":
            assert float(loss.use_ft.numpy()) == 0.0 and kwargs == {}
        else:
            assert float(loss.use_ft.numpy()) == 1.0
            assert (float(loss.alpha.numpy()), float(loss.beta.numpy()), float(loss.gamma.numpy())) == \
                pytest.approx((kwargs["fp_weight"], kwargs["fn_weight"], kwargs["gamma"]))


# ------------------------------------------------------------------------------------------------ kth-cls
@pytest.mark.parametrize("stage,recipes", [("classifier", kth_cls.CLASSIFIER_RECIPES.values()),
                                           ("detector", kth_cls.DETECTOR_RECIPES.values())])
def test_kth_cls_full_preset_trains_with_the_registered_recipes(stage, recipes):
    full, smoke = kth_cls.build_config("full"), kth_cls.build_config("smoke")
    for name in recipes:  # what `recipe_trainer` -> `build_trainer` trains with
        registered = get_recipe(name).train
        ours = registered.replace(**kth_cls.train_overrides(getattr(full, stage), full))
        assert changed_fields(ours, registered) == set(), name
        ours = registered.replace(**kth_cls.train_overrides(getattr(smoke, stage), smoke))
        assert changed_fields(ours, registered) == set(kth_cls.SMOKE_STAGES[stage])


# ------------------------------------------------------------------------------------------------ thesis text
def _seed_text(prefix: str) -> str:
    files = sorted(SEEDS.glob(f"{prefix}_*.txt"))
    if not files:
        pytest.skip("thesis text (../shared/seeds) not beside the repository")
    return " ".join(files[0].read_text(encoding="utf-8").split())


def test_kth_seg_schedule_numbers_read_from_the_thesis():
    text = _seed_text("000")
    assert "ranging from 20 to 50 depending on the time needed to train an epoch" in text
    assert "the learning rate was halved every time patience reached 10" in text
    assert "fixed to 1e-06 and 1e-05 respectively" in text and "set fix to 0.1" in text
    assert "updated only 1 time per each 50 updates of the discriminator" in text
    for name in list_recipes("kth-seg"):
        train = get_recipe(name).train
        if train.lr_schedule != "constant":  # the GAN stage's rates are fixed
            assert (train.lr_schedule, train.lr_factor, train.lr_patience) == ("plateau", 0.5, 10)
        assert 20 <= train.patience <= 50
    gan = get_recipe("kth-seg/cityscapes/gcn/adversarial")
    assert (gan.train.learning_rate, gan.adversarial.discriminator_lr, gan.adversarial.adversarial_weight,
            gan.adversarial.discriminator_steps_per_generator_step) == (1e-6, 1e-5, 0.1, 50)


def test_oulu_mass_numbers_read_from_the_thesis():
    text = _seed_text("002")
    assert "trained for 50 epochs" in text and "batch size of 32" in text
    assert "learning rate and weight decay values were both set to 0.0001" in text
    assert "reduced by a factor of 0.1 in epochs 20, 30 and 40" in text
    train = om.train_config(om.build_config("full"))
    assert (train.epochs, train.batch_size, train.learning_rate, train.weight_decay) == (50, 32, 1e-4, 1e-4)
    # by hand: 1e-4 for epochs 0-19, 1e-5 for 20-29, 1e-6 for 30-39, 1e-7 from 40
    rates = [train.learning_rate * lr_multiplier(train, e, 0, 1) for e in (19, 20, 30, 40)]
    np.testing.assert_allclose(rates, [1e-4, 1e-5, 1e-6, 1e-7], rtol=1e-12)


@pytest.mark.parametrize("caption,recipe", [("Table 4.1:", "kth-cls/end-to-end"), ("Table 4.4:", "kth-cls/roi-ss"),
                                            ("Table 4.5:", "kth-cls/decomposition")])
def test_kth_cls_tables_read_from_the_thesis(caption, recipe):
    text = _seed_text("004")
    block = text[text.index(caption):][:600]
    numbers = {key: re.search(pattern, block).group(1) for key, pattern in (
        ("batch_size", r"Batch-size (\d+)"), ("steps_per_epoch", r"Steps per epoch (\d+)"),
        ("epochs", r"Number of epochs (\d+)"), ("lr_factor", r"Learning rate decay ([0-9.]+)"))}
    assert re.search(r"Initial learning rate 5 · 10−5", block)
    train = get_recipe(recipe).train
    assert (train.batch_size, train.steps_per_epoch, train.epochs, train.lr_factor, train.learning_rate) == (
        int(numbers["batch_size"]), int(numbers["steps_per_epoch"]), int(numbers["epochs"]),
        float(numbers["lr_factor"]), 5e-5)


def test_pig_ct_batches_read_from_the_thesis():
    text = _seed_text("003")
    assert "fed mini-batches with 4 images" in text and "were fed single images" in text
    assert "two blocks (mini-batch of size two)" in text
    assert "1/(1 − 0.289) = 1.406" in text and "1/0.289 = 3.460" in text
    assert [get_recipe(f"pig-ct/{n}").train.batch_size for n in ("transverse", "sagittal", "coronal", "3d")] == [
        4, 1, 1, 2]
