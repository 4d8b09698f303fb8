"""VGG16 convolutional trunk shared by FCN, Dilation10 (kth-seg / lrh-seg) and the kth-cls classifier.

One function expresses the three variants through its arguments: which blocks end with a max-pool, the dilation
of each block (Dilation10 removes pool4/pool5 and dilates conv5 by 2), and where normalisation goes (kth-cls puts
one BatchNorm after the last ReLU of every block).
"""
from __future__ import annotations

from mammoseg.errors import ConfigError
from mammoseg.models import blocks

VGG16_BLOCKS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))  # (filters, convolutions) per block


def scaled(filters: int, width: float) -> int:
    """Width multiplier used by every builder's `width=` argument (tests run at width 1/16)."""
    if width <= 0:
        raise ConfigError(f"width must be > 0, got {width}")
    return max(1, int(round(filters * width)))


def vgg16_features(x, *, width: float = 1.0, pooled=(True,) * 5, dilations=(1,) * 5, pool_padding: str = "same",
                   norm: str | None = None, groups: int = 32, block_norm: str | None = None,
                   kernel_initializer=blocks.KERNEL_INIT) -> dict:
    """Run the 13 VGG16 convolutions; return every block output and pool output by name.

    Keys: "conv{b}" (block b output, after `block_norm` if any) and "pool{b}" (only for pooled blocks).
    Layers are named as in the thesis tables: conv1_1 ... conv5_3, dil_conv5_1 when dilated, max_pool1 ...
    """
    features = {}
    for b, ((filters, n_convs), pool, dilation) in enumerate(zip(VGG16_BLOCKS, pooled, dilations), start=1):
        prefix = f"dil_conv{b}" if dilation > 1 else f"conv{b}"
        for i in range(1, n_convs + 1):
            x = blocks.conv_norm_act(x, scaled(filters, width), 3, dilation_rate=dilation, norm=norm,
                                     groups=groups, name=f"{prefix}_{i}", kernel_initializer=kernel_initializer)
        if block_norm is not None:
            x = blocks.norm_act(x, norm=block_norm, groups=groups, act=None, name=f"block{b}")
        features[f"conv{b}"] = x
        if pool:
            x = blocks.max_pool(x, 2, strides=2, padding=pool_padding, name=f"max_pool{b}")
            features[f"pool{b}"] = x
    features["out"] = x
    return features


def fully_convolutional_head(x, *, fc_filters: int, kernel_size: int = 7, dilation: int = 1,
                             dropout: float = 0.0, first_name: str = "conv6_1", second_name: str = "conv6_2"):
    """VGG's fc6/fc7 as convolutions (7x7 then 1x1, ReLU), the shape FCN and Dilation10 both use."""
    x = blocks.conv_norm_act(x, fc_filters, kernel_size, dilation_rate=dilation, name=first_name)
    x = blocks.dropout(x, dropout, name=f"{first_name}_dropout")
    x = blocks.conv_norm_act(x, fc_filters, 1, name=second_name)
    return blocks.dropout(x, dropout, name=f"{second_name}_dropout")
