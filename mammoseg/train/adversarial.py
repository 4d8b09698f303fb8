"""GAN fine-tuning stage of `kth-seg` §4.2.6 / §4.4 (Luc et al. 2016 scheme), as a configuration of the Trainer.

The segmentor (generator) starts from the converged weights of ordinary training; a randomly initialised
discriminator (Table 4.11) sees the "Product" input: the image multiplied by each class map, 3C channels, where the
map is the segmentor's softmax (generated, label 0) or the one-hot ground truth (label 1). Thesis values (L1484-1491):
adversarial weight 0.1, generator LR 1e-6, discriminator LR 1e-5, both fixed, SGD without momentum, one generator
update per 50 discriminator updates; best model by validation mean IoU (L1494-1499).

Per training step (global step t):
- discriminator update: L_D = CE(D(real) -> 1) + CE(D(fake) -> 0) + 10 * GP, GP the WGAN-GP penalty on the critic
  z1 - z0 at ε·real + (1-ε)·fake (thesis: "the improved version of Wasserstein's gradient penalty", λ unstated);
- every 50th step ((t + 1) % 50 == 0) also a generator update on the same batch:
  L_G = weighted CE + 0.1 * CE(D(fake) -> 1) (+ the recipe's L2 weight decay).
Both run under the same MirroredStrategy loop (per-replica loss scaling by the global batch); ε is drawn per
example from a stateless seed of (seed, t) and sliced by replica, so runs resume exactly. Choices where the thesis
is silent: docs/training.md ("Adversarial stage").
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import keras
import tensorflow as tf

from ..errors import ConfigError
from .config import TrainConfig
from .loop import CONFUSION, Trainer, make_optimizer
from .losses import (center_crop_to, discriminator_loss, generator_adversarial_loss, gradient_penalty,
                     logit_difference, product_input)

_EPSILON_SALT = 7919  # separates the gradient-penalty draws from other users of the config seed


@dataclass
class AdversarialConfig:
    discriminator_lr: float = 1e-5  # L1485-1486
    adversarial_weight: float = 0.1  # L1484-1485
    discriminator_steps_per_generator_step: int = 50  # L1489-1491
    gradient_penalty_weight: float = 10.0  # Gulrajani et al.'s lambda (thesis: unstated)
    discriminator: dict = field(default_factory=dict)  # extra build_model("discriminator", ...) arguments


def adversarial_train_config(segmentation: TrainConfig, **changes) -> TrainConfig:
    """The stage's TrainConfig from the model's segmentation one (same batch, weight decay, patience, seed):
    plain SGD (L1430-1432), generator LR 1e-6 fixed (L1485-1486), best and early stopping by val mean IoU."""
    stage = dict(learning_rate=1e-6, optimizer="sgd", momentum=0.0, lr_schedule="constant",
                 monitor="val_mean_iou", min_delta=0.0)
    stage.update(changes)
    return segmentation.replace(**stage)


class AdversarialTrainer(Trainer):
    """Segmentor + discriminator, two SGD optimizers, under the Trainer's loop, checkpoints and logs."""

    def __init__(self, build_model: Callable[[], keras.Model], loss_fn: Callable, config: TrainConfig,
                 adversarial: AdversarialConfig, run_dir, num_classes: int, init_weights=None,
                 build_discriminator: Callable[[], keras.Model] | None = None, class_names=None,
                 ignore_id: int | None = None, strategy=None):
        self.adv = adversarial
        self.init_weights = init_weights
        self._build_discriminator = build_discriminator
        if adversarial.discriminator_steps_per_generator_step < 1:
            raise ConfigError("discriminator_steps_per_generator_step must be >= 1")
        super().__init__(build_model, loss_fn, config, run_dir, num_classes, class_names=class_names,
                         ignore_id=ignore_id, strategy=strategy, from_logits=True)

    # -- hooks -----------------------------------------------------------------------------------------------
    def _build(self, build_model) -> None:
        super()._build(build_model)
        if self._build_discriminator is not None:
            self.discriminator = self._build_discriminator()
        else:
            from ..models import build_model as build_registered

            channels = self.model.input_shape[-1] * self.num_classes
            self.discriminator = build_registered("discriminator", input_shape=(None, None, channels),
                                                  num_classes=self.num_classes, **self.adv.discriminator)
        self.d_optimizer = make_optimizer(self.cfg, learning_rate=self.adv.discriminator_lr)
        self.d_optimizer.build(self.discriminator.trainable_variables)

    def _models(self) -> dict:
        return {"model": self.model, "discriminator": self.discriminator}

    def _optimizers(self) -> dict:
        return {"optimizer": self.optimizer, "d_optimizer": self.d_optimizer}

    def _scheduled(self) -> list:
        return [(self.optimizer, self.cfg.learning_rate), (self.d_optimizer, self.adv.discriminator_lr)]

    def _on_fresh_start(self) -> None:
        if self.init_weights is not None:
            self.model.load_weights(str(self.init_weights))

    def _train_programs(self) -> dict:
        return {"discriminator": [self._discriminator_replica],
                "both": [self._discriminator_replica, self._generator_replica]}

    def _program_for_step(self, global_step: int) -> str:
        every = self.adv.discriminator_steps_per_generator_step
        return "both" if (global_step + 1) % every == 0 else "discriminator"

    # -- replica computations --------------------------------------------------------------------------------
    def _product_pair(self, x, y, logits):
        """(real, fake) discriminator inputs; ignored pixels (id >= C) get an all-zero ground-truth map."""
        labels = tf.cast(center_crop_to(y, logits), tf.int32)
        real = product_input(x, tf.one_hot(labels, self.num_classes, dtype=tf.float32))
        fake = product_input(x, tf.nn.softmax(tf.cast(logits, tf.float32), axis=-1))
        return real, fake

    def _critic(self, inputs):
        return logit_difference(tf.cast(self.discriminator(inputs, training=True), tf.float32))

    def _epsilon(self, local_batch, global_step):
        """U(0,1) per example: a stateless draw for the whole global batch, sliced to this replica's examples."""
        draws = tf.random.stateless_uniform(
            [self.cfg.batch_size], seed=tf.stack([tf.constant(self.cfg.seed + _EPSILON_SALT, tf.int64), global_step]))
        replica = tf.distribute.get_replica_context().replica_id_in_sync_group
        start = tf.minimum(replica * local_batch, self.cfg.batch_size - local_batch)
        return draws[start:start + local_batch]

    def _discriminator_replica(self, x, y, global_step):
        global_batch = self.cfg.batch_size
        logits = self.model(x, training=False)  # the generator is not trained in this update
        real, fake = self._product_pair(x, y, logits)
        epsilon = self._epsilon(tf.shape(x)[0], global_step)
        with tf.GradientTape() as tape:
            d_real = self.discriminator(real, training=True)
            d_fake = self.discriminator(fake, training=True)
            penalty = gradient_penalty(self._critic, real, fake, epsilon=epsilon,
                                       weight=self.adv.gradient_penalty_weight)
            d_loss = tf.reduce_sum(discriminator_loss(d_real, d_fake) + penalty) / global_batch
            scaled = self.d_optimizer.scale_loss(d_loss)
        self._minimize(self.d_optimizer, tape, scaled, self.discriminator.trainable_variables)
        return {"loss": self._data_loss(y, logits), "d_loss": d_loss,
                "gradient_penalty": tf.reduce_sum(penalty) / global_batch,
                "critic_real": _mean_critic_sum(d_real) / global_batch,
                "critic_fake": _mean_critic_sum(d_fake) / global_batch,
                CONFUSION: self._confusion(y, logits)}

    def _generator_replica(self, x, y, global_step):
        with tf.GradientTape() as tape:
            logits = self.model(x, training=True)
            segmentation = self._data_loss(y, logits)
            _, fake = self._product_pair(x, y, logits)
            d_fake = self.discriminator(fake, training=False)
            adversarial = tf.reduce_sum(generator_adversarial_loss(d_fake, self.adv.adversarial_weight)
                                        ) / self.cfg.batch_size
            scaled = self.optimizer.scale_loss(segmentation + adversarial + self._weight_penalty())
        self._minimize(self.optimizer, tape, scaled, self.model.trainable_variables)
        return {"g_loss": segmentation + adversarial, "g_adversarial": adversarial}

    def _eval_extras(self, x, y, outputs) -> dict:
        """Validation critic scores: mean z1 - z0 over locations, summed over examples (the loop averages)."""
        real, fake = self._product_pair(x, y, outputs)
        return {"critic_real": _mean_critic_sum(self.discriminator(real, training=False)),
                "critic_fake": _mean_critic_sum(self.discriminator(fake, training=False))}


def _mean_critic_sum(d_logits):
    """Sum over the batch of each example's mean critic value z1 - z0."""
    critic = logit_difference(tf.cast(d_logits, tf.float32))
    return tf.reduce_sum(tf.reduce_mean(critic, axis=list(range(1, len(critic.shape)))))
