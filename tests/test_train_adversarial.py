"""kth-seg GAN fine-tuning stage at test size: from a converged checkpoint, under MirroredStrategy (2 replicas)."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from mammoseg.data.pipeline import PipelineConfig, eval_dataset, train_dataset
from mammoseg.errors import ConfigError
from mammoseg.train.adversarial import AdversarialConfig, AdversarialTrainer, adversarial_train_config
from mammoseg.train.config import TrainConfig
from mammoseg.train.distribute import make_strategy
from mammoseg.train.loop import Trainer
from mammoseg.train.losses import weighted_cross_entropy

C = 3
STEPS = 4


def _model():
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    return keras.Model(inputs, keras.layers.Conv2D(C, 1)(x))


def _data():
    """Class = intensity band, with overlapping noise: a good but imperfect segmentation (mIoU < 1) is possible."""
    rng = np.random.default_rng(3)
    labels = rng.integers(0, C, size=(16, 20, 20)).astype(np.uint8)
    images = (labels.astype(np.uint16) * 1000 + rng.integers(0, 1500, size=labels.shape)).astype(np.uint16)
    return images, labels


def _strategy(n):
    if len(tf.config.list_logical_devices("CPU")) < n:
        pytest.skip(f"needs {n} logical CPU devices")
    return make_strategy("mirrored", n)


def _fit(trainer):
    images, labels = _data()
    pcfg = PipelineConfig(input_size=16, batch_size=4, max_value=4095, seed=1)
    return trainer.fit(lambda e: train_dataset(images, labels, pcfg, start_epoch=e),
                       lambda: eval_dataset(images, labels, pcfg), STEPS, resume=False)


@pytest.fixture(scope="module")
def converged(tmp_path_factory):
    run = tmp_path_factory.mktemp("segmentation")
    cfg = TrainConfig(epochs=8, batch_size=4, learning_rate=0.2, seed=7, progress=False, tensorboard=False)
    trainer = Trainer(_model, weighted_cross_entropy, cfg, run, C, strategy=_strategy(1))
    result = _fit(trainer)
    return cfg, run / "best.weights.h5", result


def test_gan_stage_from_converged_checkpoint(converged, tmp_path):
    seg_cfg, weights, seg_result = converged
    # Test-sized rates (the thesis' 1e-6 / 1e-5 would not move a 4-filter model in 16 steps): generator 0.05,
    # discriminator 0.01, a generator update every 2nd discriminator update.
    cfg = adversarial_train_config(seg_cfg, epochs=4, learning_rate=0.05)
    assert (cfg.optimizer, cfg.momentum, cfg.lr_schedule, cfg.monitor) == ("sgd", 0.0, "constant", "val_mean_iou")
    adv = AdversarialConfig(discriminator_lr=0.01, discriminator_steps_per_generator_step=2,
                            discriminator=dict(width=1 / 16))
    trainer = AdversarialTrainer(_model, weighted_cross_entropy, cfg, adv, tmp_path, C, init_weights=weights,
                                 strategy=_strategy(2))
    assert trainer.discriminator.input_shape[-1] == 3 * C  # Product input: image x each class map
    result = _fit(trainer)
    hist = result.history
    keys = ("train_loss", "train_d_loss", "train_gradient_penalty", "train_g_loss", "val_loss", "val_mean_iou")
    assert all(np.isfinite(h[k]) for h in hist for k in keys)
    # Started from the converged weights: the first epoch's segmentation is about as good as the converged one's.
    converged_iou = max(h["val_mean_iou"] for h in seg_result.history)
    assert converged_iou > 0.5 and hist[0]["val_mean_iou"] > 0.9 * converged_iou
    # The critic separates ground-truth maps from predicted ones on the validation set.
    assert hist[-1]["val_critic_real"] > hist[-1]["val_critic_fake"]
    # The kept checkpoint is the best by validation mean IoU (first epoch reaching the maximum).
    ious = [h["val_mean_iou"] for h in hist]
    assert result.best_epoch == int(np.argmax(ious)) + 1 and result.best_value == max(ious)
    images, labels = _data()
    best = trainer.load_best()
    assert best is trainer.model
    val = trainer.evaluate(eval_dataset(images, labels, PipelineConfig(input_size=16, batch_size=4,
                                                                       max_value=4095, seed=1)))
    assert val["mean_iou"] == pytest.approx(max(ious), abs=1e-12)
    assert trainer.tracing_counts() == {"discriminator": 1, "both": 1, "eval": 1}


def test_generator_updates_once_per_n_discriminator_updates(tmp_path):
    cfg = adversarial_train_config(TrainConfig(batch_size=4, seed=1, progress=False), epochs=1)
    adv = AdversarialConfig(discriminator={"width": 1 / 16})
    trainer = AdversarialTrainer(_model, weighted_cross_entropy, cfg, adv, tmp_path, C, strategy=_strategy(1))
    programs = [trainer._program_for_step(t) for t in range(150)]
    assert [t for t, p in enumerate(programs) if p == "both"] == [49, 99, 149]
    assert cfg.learning_rate == 1e-6 and trainer.adv.discriminator_lr == 1e-5 and trainer.adv.adversarial_weight == 0.1
    with pytest.raises(ConfigError):
        AdversarialTrainer(_model, weighted_cross_entropy, cfg,
                           AdversarialConfig(discriminator_steps_per_generator_step=0), tmp_path, C,
                           strategy=_strategy(1))
