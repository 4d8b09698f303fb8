"""Adversarial network of kth-seg Table 4.11 (Luc et al. 2016 scheme) and its "Product" input.

The discriminator sees the image multiplied by each class-probability map (3C channels) and answers, per
location, 2 logits: generated (0) or ground truth (1).
"""
from __future__ import annotations

import keras

from mammoseg.errors import ConfigError
from mammoseg.models import blocks
from mammoseg.models.registry import register

TABLE_4_11 = ((96, 128, 128), (256, 256), (512,))  # conv widths between the two max-pools


def product_input(image, class_maps):
    """Luc et al.'s "Product": channel block c holds image * p_c, giving image_channels * C channels.

    `class_maps` is the segmentor's softmax (fake) or the one-hot ground truth (real), at the image's size.
    """
    ops = keras.ops
    products = ops.expand_dims(class_maps, -1) * ops.expand_dims(image, -2)  # (..., C, image_channels)
    shape = ops.shape(products)
    return ops.reshape(products, (*shape[:-2], shape[-2] * shape[-1]))


@register("discriminator", thesis="kth-seg", table="Table 4.11", params=2_366_722,
          summary="Adversarial discriminator, 3C -> 96-128-128-pool-256-256-pool-512-2")
def build_discriminator(input_shape=(None, None, 39), num_classes: int = 13, pool_size: int = 3,
                        pool_strides: int = 1, width: float = 1.0, norm: str | None = None, groups: int = 32,
                        activation: str = "relu", name: str = "discriminator") -> keras.Model:
    """Table 4.11 as printed: 3x3 SAME convs, max-pools of kernel 3 / stride 1, per-location 2-way logits.

    Activations and normalisation are not stated: ReLU after d_conv1-6 and no norm (what Luc et al. use and
    what the WGAN-GP penalty the thesis adds expects); `pool_strides=2` gives Luc et al.'s downsampling variant.
    """
    from mammoseg.models.vgg import scaled

    if input_shape[-1] % num_classes:
        raise ConfigError(f"input channels {input_shape[-1]} must be image_channels * num_classes "
                          f"({num_classes} classes)")
    inputs = blocks.image_input(input_shape, name="product")
    x = inputs
    index = 1
    for group, widths in enumerate(TABLE_4_11, start=1):
        for filters in widths:
            x = blocks.conv_norm_act(x, scaled(filters, width), 3, norm=norm, groups=groups, act=activation,
                                     name=f"d_conv{index}")
            index += 1
        if group < len(TABLE_4_11):
            x = blocks.max_pool(x, pool_size, strides=pool_strides, padding="same", name=f"max_pool{group}")
    outputs = blocks.conv(x, 2, 3, name=f"d_conv{index}", kernel_initializer="glorot_uniform")
    return keras.Model(inputs, outputs, name=name)
