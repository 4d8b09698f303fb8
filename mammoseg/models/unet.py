"""U-Net (Ronneberger et al. 2015) as kth-seg Tables 4.6/4.7 print it: valid 3x3 convolutions, 2x2 max-pooling,
2x2 stride-2 transposed convolutions, centre-cropped encoder features concatenated in the decoder.

572x572 in -> 388x388 logits out at the thesis defaults. `padding="same"` keeps the output the size of the input
(the variant the other theses and the sliding-window code prefer).
"""
from __future__ import annotations

import keras

from mammoseg.errors import ConfigError
from mammoseg.models import blocks
from mammoseg.models.registry import register


def _valid_output_side(size: int, depth: int) -> int | None:
    """Output side of a valid-padding U-Net, or None when some level gets an odd or empty map."""
    side = size
    for _ in range(depth):
        side -= 4
        if side <= 0 or side % 2:
            return None
        side //= 2
    side -= 4
    if side <= 0:
        return None
    for _ in range(depth):
        side = side * 2 - 4
    return side if side > 0 else None


def unet_output_size(size: int, depth: int, padding: str = "valid") -> int:
    """Output side length of a U-Net with `depth` poolings, or ConfigError naming the nearest valid input sizes.

    With valid convolutions each level trims 4 pixels before pooling and after upsampling, and every map that is
    pooled must have an even side.
    """
    if padding == "same":
        if size % (2 ** depth):
            raise ConfigError(f"U-Net with padding='same' and depth {depth} needs sizes divisible by "
                              f"{2 ** depth}, got {size}")
        return size
    side = _valid_output_side(size, depth)
    if side is None:
        span = 2 ** (depth + 1)
        nearby = [s for s in range(max(1, size - span), size + span + 1) if _valid_output_side(s, depth)]
        raise ConfigError(f"U-Net with padding='valid' and depth {depth} cannot take input side {size}; "
                          f"valid sides near it: {nearby}")
    return side


def double_conv(x, filters: int, *, padding: str, norm, groups: int, name: str):
    """The two 3x3 conv-(norm)-ReLU layers of every U-Net level, named `<name>_1`, `<name>_2` as in the tables."""
    x = blocks.conv_norm_act(x, filters, 3, padding=padding, norm=norm, groups=groups, name=f"{name}_1")
    return blocks.conv_norm_act(x, filters, 3, padding=padding, norm=norm, groups=groups, name=f"{name}_2")


def unet_features(x, *, base_filters: int, depth: int, padding: str, norm, groups: int, dropout: float):
    """Encoder + decoder body; returns the last decoder feature map (before the classifier)."""
    skips = []
    for level in range(depth):
        x = double_conv(x, base_filters * 2 ** level, padding=padding, norm=norm, groups=groups,
                        name=f"conv{level + 1}")
        skips.append(x)
        x = blocks.max_pool(x, 2, name=f"max_pool{level + 1}")
    x = double_conv(x, base_filters * 2 ** depth, padding=padding, norm=norm, groups=groups,
                    name=f"conv{depth + 1}")
    # Ronneberger et al. put dropout at the end of the contracting path; the thesis gives only keep_prob 0.75.
    x = blocks.dropout(x, dropout, name="bottleneck_dropout")
    for step, skip in enumerate(reversed(skips), start=1):
        filters = base_filters * 2 ** (depth - step)
        x = blocks.conv_transpose(x, filters, 2, strides=2, act="relu", name=f"t_conv_{step}")
        if padding == "valid":  # valid convolutions shrink the decoder maps: crop the encoder's to match
            skip = blocks.center_crop_like(skip, x, name=f"crop_{step}")
        x = blocks.concat([skip, x], name=f"concat_{step}")
        x = double_conv(x, filters, padding=padding, norm=norm, groups=groups, name=f"conv{depth + 1 + step}")
    return x


def _check(input_shape, num_classes: int, base_filters: int, depth: int, padding: str):
    if padding not in ("valid", "same"):
        raise ConfigError(f"padding must be 'valid' or 'same', got {padding!r}")
    if depth < 1 or base_filters < 1 or num_classes < 1:
        raise ConfigError(f"depth, base_filters and num_classes must be >= 1 "
                          f"(got {depth}, {base_filters}, {num_classes})")
    for side in input_shape[:-1]:
        if side is None:
            if padding == "valid":
                raise ConfigError("padding='valid' needs a fixed input size (the skip crops are static)")
            continue
        unet_output_size(side, depth, padding)


@register("unet", thesis="kth-seg", table="Tables 4.6/4.7 (= lrh-seg Table 4)", params=31_032_525,
          summary="U-Net 64-1024, valid convs, 572 -> 388 (kth-seg; also lrh-seg)")
def build_unet(input_shape=(572, 572, 3), num_classes: int = 13, base_filters: int = 64, depth: int = 4,
               padding: str = "valid", norm: str | None = None, groups: int = 32, dropout: float = 0.25,
               final_activation: str | None = None, name: str = "unet") -> keras.Model:
    """U-Net of kth-seg Tables 4.6/4.7 (channel typos corrected, ambiguity 14); outputs logits by default."""
    _check(input_shape, num_classes, base_filters, depth, padding)
    inputs = blocks.image_input(input_shape)
    x = unet_features(inputs, base_filters=base_filters, depth=depth, padding=padding, norm=norm, groups=groups,
                      dropout=dropout)
    outputs = blocks.head(x, num_classes, final_activation=final_activation)
    return keras.Model(inputs, outputs, name=name)


# ------------------------------------------------------------------ U-Net decoder on a ResNet pyramid (oulu-mass)

OULU_UNET_DECODER_FILTERS = (256, 256, 256, 64, 64, 32)  # centre, then deepest -> shallowest decoder block


def _up_conv_block(x, filters: int, *, target, norm, groups: int, name: str):
    """Upsample (x2, or to `target`'s size when the pyramid has odd sides), then two 3x3 conv-norm-ReLU."""
    if target is None:
        x = blocks.upsample(x, 2, name=f"{name}_up")
    else:
        x = blocks.upsample_like(x, target, name=f"{name}_up")
    x = blocks.conv_norm_act(x, filters, 3, norm=norm, groups=groups, name=f"{name}_conv1")
    return blocks.conv_norm_act(x, filters, 3, norm=norm, groups=groups, name=f"{name}_conv2")


def pyramid_unet_decoder(features, *, filters=OULU_UNET_DECODER_FILTERS, norm="batch", groups: int = 32,
                         spatial_dropout: float = 0.2):
    """U-Net decoder over five encoder maps (shallow -> deep), the layout whose size oulu-mass states.

    A centre block max-pools the deepest map and brings it back to that map's size; every following block
    concatenates the next encoder map (deep -> shallow), upsamples x2 and applies two 3x3 conv-BN-ReLU, so the
    output is at half the stride of the shallowest map. With widths (256 | 256, 256, 64, 64, 32) on ResNet-22
    maps this is exactly the 4,773,025 parameters oulu-mass states (1-channel head included).
    """
    if len(features) != 5 or len(filters) != 6:
        raise ConfigError(f"the pyramid U-Net decoder takes 5 encoder maps and 6 widths, got {len(features)} "
                          f"maps and {len(filters)} widths")
    skips = list(reversed(features))  # deep -> shallow
    x = blocks.max_pool(skips[0], 2, strides=2, padding="same", name="decoder_center_pool")
    x = _up_conv_block(x, filters[0], target=skips[0], norm=norm, groups=groups, name="decoder_center")
    for i, (skip, width) in enumerate(zip(skips, filters[1:]), start=1):
        x = blocks.concat([x, skip], name=f"decoder_block{i}_concat")
        target = skips[i] if i < len(skips) else None
        x = _up_conv_block(x, width, target=target, norm=norm, groups=groups, name=f"decoder_block{i}")
    if spatial_dropout:
        x = keras.layers.SpatialDropout2D(spatial_dropout, name="decoder_spatial_dropout")(x)
    return x


# ------------------------------------------------------------------------------ other theses' plain U-Nets

register("oulu_unet", thesis="oulu-mass", table="§3.2.1, Fig. 11", params=31_048_257,
         summary="Randomly initialised U-Net 64-1024, same padding, BatchNorm, 1-channel logits",
         defaults=dict(input_shape=(512, 512, 1), num_classes=1, padding="same", norm="batch", dropout=0.0,
                       name="oulu_unet"))(build_unet)


@register("roi_unet", thesis="kth-cls", table="Table 4.4, code A.3.2", params=31_383_681 + 5_888,
          summary="ROI-detector U-Net 64-1024, BatchNorm per level, 128x128x1 -> 1-channel logits")
def build_roi_unet(input_shape=(128, 128, 1), num_classes: int = 1, base_filters: int = 64, depth: int = 4,
                   norm: str | None = "batch", groups: int = 32, final_activation: str | None = None,
                   name: str = "roi_unet") -> keras.Model:
    """kth-cls ROI detector as its code builds it (spec §4.3).

    Per level: two 3x3 conv-ReLU, then one norm; the skip leaves *before* that norm, the path below takes the
    normalised map. Upsampling is parameter-free (the width is kept: conv6_1 reads 512 + 1024 maps), the
    upsampled map comes first in the concatenation. The thesis' sigmoid is left to the loss
    (`final_activation="sigmoid"` puts it back).
    """
    _check(input_shape, num_classes, base_filters, depth, "same")
    inputs = blocks.image_input(input_shape)
    x, skips = inputs, []
    for level in range(depth):
        x = double_conv(x, base_filters * 2 ** level, padding="same", norm=None, groups=groups,
                        name=f"conv{level + 1}")
        skips.append(x)
        x = blocks.norm_act(x, norm=norm, groups=groups, act=None, name=f"level{level + 1}")
        x = blocks.max_pool(x, 2, name=f"max_pool{level + 1}")
    x = double_conv(x, base_filters * 2 ** depth, padding="same", norm=None, groups=groups, name=f"conv{depth + 1}")
    x = blocks.norm_act(x, norm=norm, groups=groups, act=None, name=f"level{depth + 1}")
    for step, skip in enumerate(reversed(skips), start=1):
        level = depth + 1 + step
        x = blocks.upsample(x, 2, name=f"up{level}")
        x = blocks.concat([x, skip], name=f"merge{level}")
        x = double_conv(x, base_filters * 2 ** (depth - step), padding="same", norm=None, groups=groups,
                        name=f"conv{level}")
        x = blocks.norm_act(x, norm=norm, groups=groups, act=None, name=f"level{level}")
    outputs = blocks.head(x, num_classes, final_activation=final_activation)
    return keras.Model(inputs, outputs, name=name)
