"""pig-ct "modified residual U-Net" (thesis §4.3.1 / §4.4.1), 2D (six down/up steps, 512x512 slices) and
3D (four steps, 96^3 blocks).

Stated: 16 * 2^level filters (16 ... 512, bottom 1024), 3x3 same convolutions, BatchNorm between every
convolution and its ReLU, two residual blocks per down/up step, max-pooling down, transposed convolutions up,
concatenated skips, a 1x1 single-filter sigmoid head, and 81,831,025 trainable of 81,867,505 parameters.
The appendix with the code is cut off, so the block internals are inferred: the layout below is the closest to
the stated count we found (+496 trainable, +1,952 non-trainable; docs/models.md lists the search).
"""
from __future__ import annotations

import keras

from mammoseg.errors import ConfigError
from mammoseg.models import blocks
from mammoseg.models.registry import register


def _check_sizes(input_shape, depth: int):
    for side in tuple(input_shape)[:-1]:
        if side is not None and side % 2 ** depth:
            raise ConfigError(f"residual U-Net of depth {depth} needs sizes divisible by {2 ** depth} "
                              f"(the thesis zero-pads to the next multiple), got {tuple(input_shape)[:-1]}")


@register("residual_unet_3d", thesis="pig-ct", table="§4.4.1", params=15_313_345,
          summary="Residual U-Net 3D, 16-256 filters, 4 steps, 96^3 blocks",
          defaults=dict(input_shape=(96, 96, 96, 1), depth=4, name="residual_unet_3d"))
@register("residual_unet_2d", thesis="pig-ct", table="§4.3.1, Figs 4.1-4.4", params=81_869_953,
          summary="Residual U-Net 2D, 16-1024 filters, 6 steps, 512x512 CT slices",
          defaults=dict(input_shape=(512, 512, 1), depth=6, name="residual_unet_2d"))
def build_residual_unet(input_shape=(512, 512, 1), num_classes: int = 1, base_filters: int = 16, depth: int = 6,
                        blocks_per_step: int = 2, convs_per_block: int = 3, shortcut_kernel: int = 3,
                        bottom_blocks: int = 1, norm: str = "batch", groups: int = 32, dropout: float = 0.0,
                        final_activation: str | None = None, name: str = "residual_unet") -> keras.Model:
    """Residual U-Net in 2D or 3D (the rank of `input_shape` decides); 1-channel logits by default.

    Convolutions keep their bias before BatchNorm (Keras' default, which the stated count includes).
    """
    if len(input_shape) not in (3, 4):
        raise ConfigError(f"input_shape must be (H, W, C) or (D, H, W, C), got {input_shape}")
    if depth < 1 or blocks_per_step < 1 or bottom_blocks < 1:
        raise ConfigError("depth, blocks_per_step and bottom_blocks must be >= 1")
    _check_sizes(input_shape, depth)
    inputs = blocks.image_input(input_shape)

    def step(x, filters, prefix):
        for b in range(1, blocks_per_step + 1):
            x = blocks.residual_block(x, filters, convs=convs_per_block, shortcut_kernel=shortcut_kernel,
                                      norm=norm, groups=groups, use_bias=True, name=f"{prefix}_block{b}")
        return x

    x, skips = inputs, []
    for level in range(depth):
        x = step(x, base_filters * 2 ** level, f"down{level}")
        skips.append(x)
        x = blocks.max_pool(x, 2, strides=2, name=f"down{level}_pool")
    for b in range(1, bottom_blocks + 1):
        x = blocks.residual_block(x, base_filters * 2 ** depth, convs=convs_per_block,
                                  shortcut_kernel=shortcut_kernel, norm=norm, groups=groups, use_bias=True,
                                  name=f"bottom_block{b}")
    x = blocks.dropout(x, dropout, name="bottom_dropout")
    for level in range(depth - 1, -1, -1):
        filters = base_filters * 2 ** level
        x = blocks.conv_transpose(x, filters, 3, strides=2, padding="same", name=f"up{level}_tconv")
        x = blocks.norm_act(x, norm=norm, groups=groups, name=f"up{level}_tconv")
        x = blocks.concat([skips[level], x], name=f"up{level}_concat")
        x = step(x, filters, f"up{level}")
    outputs = blocks.head(x, num_classes, final_activation=final_activation)
    return keras.Model(inputs, outputs, name=name)
