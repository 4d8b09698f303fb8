"""FCN-32s / FCN-16s / FCN-8s on a VGG16 encoder (Long et al.), kth-seg Tables 4.4 (encoder) and 4.5 (decoder).

One builder, three registered names: `output_stride` picks how many skip fusions the decoder makes. Training
is staged as in the thesis (FCN32 from ImageNet VGG16, FCN16 from FCN32, FCN8 from FCN16): layers keep their
names across the three, so `weights.transfer_weights(fcn32, fcn16)` carries every shared layer over.
"""
from __future__ import annotations

import keras

from mammoseg.errors import ConfigError
from mammoseg.models import blocks, weights
from mammoseg.models.registry import register
from mammoseg.models.vgg import fully_convolutional_head, scaled, vgg16_features

_THESIS = dict(thesis="kth-seg", table="Tables 4.4/4.5 (= lrh-seg Tables 2/3)")
# VGG16 convs 14,714,688 + conv6_1 102,764,544 + conv6_2 16,781,312 + scores 53,261 (docs/models.md)
_FCN32_PARAMS = 134_313_805
_SKIP_FUSION_PARAMS = {16: 2_717 + 6_669, 8: 2 * 2_717 + 6_669 + 3_341}  # t_conv + score_pool per fusion


def check_static_size(input_shape, multiple: int, model: str):
    for side in tuple(input_shape)[:2]:
        if side is None:
            raise ConfigError(f"{model} needs a fixed input size: its logits are resized to it")
        if side % multiple:
            raise ConfigError(f"{model} needs input sides divisible by {multiple}, got {tuple(input_shape)[:2]}")


def score_upsample(x, num_classes: int, *, activation, name: str):
    """4x4 stride-2 transposed convolution initialised to bilinear interpolation (Table 4.5)."""
    return blocks.conv_transpose(x, num_classes, 4, strides=2, padding="same", act=activation, name=name,
                                 kernel_initializer=blocks.BilinearUpsampling())


@register("fcn8", **_THESIS, params=_FCN32_PARAMS + _SKIP_FUSION_PARAMS[8], summary="FCN-8s (pool4 + pool3 skips)",
          defaults=dict(output_stride=8, name="fcn8"))
@register("fcn16", **_THESIS, params=_FCN32_PARAMS + _SKIP_FUSION_PARAMS[16], summary="FCN-16s (pool4 skip)",
          defaults=dict(output_stride=16, name="fcn16"))
@register("fcn32", **_THESIS, params=_FCN32_PARAMS, summary="FCN-32s, VGG16 encoder, 256x256",
          defaults=dict(output_stride=32, name="fcn32"))
def build_fcn(input_shape=(256, 256, 3), num_classes: int = 13, output_stride: int = 8, width: float = 1.0,
              fc_filters: int = 4096, norm: str | None = None, groups: int = 32, dropout: float = 0.0,
              upsample_activation: str | None = "relu", score_activation: str | None = None,
              final_activation: str | None = None, encoder_weights: str | None = None,
              name: str = "fcn") -> keras.Model:
    """FCN on VGG16; logits bilinearly resized to the input size.

    Defaults follow the thesis: SAME 2x2 pools, conv6_1 7x7 x4096, conv6_2 1x1 x4096, keep_prob 1.0 (dropout 0),
    ReLU after the transposed convolutions (L1046-1048). The `scores` layer is linear by default (spec
    ambiguity 12: a ReLU there would clip every negative logit); `score_activation="relu"` restores the literal
    reading.
    """
    if output_stride not in (32, 16, 8):
        raise ConfigError(f"output_stride must be 32, 16 or 8, got {output_stride}")
    check_static_size(input_shape, 32, f"fcn{output_stride}")
    inputs = blocks.image_input(input_shape)
    features = vgg16_features(inputs, width=width, norm=norm, groups=groups)
    x = fully_convolutional_head(features["pool5"], fc_filters=scaled(fc_filters, width), dropout=dropout)
    x = blocks.conv(x, num_classes, 1, name="scores", kernel_initializer="glorot_uniform")
    x = blocks.activation(x, score_activation, "scores")
    for step, pool in ((1, "pool4"), (2, "pool3")):
        if output_stride > 32 // 2 ** step:
            break
        up = score_upsample(x, num_classes, activation=upsample_activation, name=f"t_conv_{step}")
        # Long et al.'s score_pool layers start at zero, so each stage starts from its predecessor's output.
        skip = blocks.conv(features[pool], num_classes, 1, name=f"score_{pool}", kernel_initializer="zeros")
        x = keras.layers.Add(name=f"fuse_{pool}")([up, skip])
    x = blocks.resize_to(x, tuple(input_shape)[:2], name="logits")
    if final_activation is not None:
        x = keras.layers.Activation(final_activation, dtype="float32", name=f"logits_{final_activation}")(x)
    model = keras.Model(inputs, x, name=name)
    if encoder_weights is not None:
        weights.load_weights(model, encoder_weights)
    return model
