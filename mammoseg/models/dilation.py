"""Dilation10 (Yu & Koltun 2016) as kth-seg Tables 4.8 (front-end) and 4.9 (context module) print it.

Three registered names are the thesis' three training stages:
- `dilation10_front`   stage 1, front-end alone, 632x632 crops;
- `dilation10_context` stage 2, front-end frozen + context module trained, 1024x1024 crops;
- `dilation10_global`  stage 3, everything trainable, 1400x1400 crops.
Stages share layer names, so `weights.transfer_weights(previous_stage, next_stage)` hands the weights on.
"""
from __future__ import annotations

import keras

from mammoseg.errors import ConfigError
from mammoseg.models import blocks, weights
from mammoseg.models.fcn import check_static_size
from mammoseg.models.registry import register
from mammoseg.models.vgg import fully_convolutional_head, scaled, vgg16_features

CONTEXT_DILATIONS = (1, 1, 2, 4, 8, 16, 16, 32, 1, 1)  # Table 4.9, context1 ... context10
FRONT_PARAMS = 134_313_805  # same layers as FCN-32s: VGG16 convs + conv6_1 + conv6_2 + scores (docs/models.md)
CONTEXT_PARAMS = 10 * (3 * 3 * 13 * 13 + 13)  # ten 3x3 num_classes -> num_classes convolutions
# ImageNet VGG16 files name the dilated layers as plain VGG16 does.
VGG16_TO_DILATION10 = {"conv5_1": "dil_conv5_1", "conv5_2": "dil_conv5_2", "conv5_3": "dil_conv5_3",
                       "conv6_1": "dil_conv6_1"}

_THESIS = dict(thesis="kth-seg", table="Tables 4.8/4.9 (= lrh-seg Tables 5/6)")


def context_module(x, num_classes: int, *, tail_kernel: int = 3, name: str = "context"):
    """Basic context module: num_classes channels throughout, identity-initialised, ReLU except on the last."""
    for i, dilation in enumerate(CONTEXT_DILATIONS, start=1):
        kernel = tail_kernel if i > 8 else 3
        last = i == len(CONTEXT_DILATIONS)
        x = blocks.conv(x, num_classes, kernel, dilation_rate=dilation, name=f"{name}{i}",
                        kernel_initializer=blocks.ConvIdentity())
        if not last:
            x = blocks.activation(x, "relu", f"{name}{i}")
    return x


@register("dilation10_global", **_THESIS, params=FRONT_PARAMS + CONTEXT_PARAMS,
          summary="Dilation10 front + context, all trainable (stage 3), 1400x1400",
          defaults=dict(stage="global", input_shape=(1400, 1400, 3), name="dilation10_global"))
@register("dilation10_context", **_THESIS, params=FRONT_PARAMS + CONTEXT_PARAMS,
          summary="Dilation10 front (frozen) + context module (stage 2), 1024x1024",
          defaults=dict(stage="context", input_shape=(1024, 1024, 3), name="dilation10_context"))
@register("dilation10_front", **_THESIS, params=FRONT_PARAMS, summary="Dilation10 front-end (stage 1), 632x632",
          defaults=dict(stage="front", input_shape=(632, 632, 3), name="dilation10_front"))
def build_dilation10(input_shape=(632, 632, 3), num_classes: int = 13, stage: str = "front", width: float = 1.0,
                     fc_filters: int = 4096, norm: str | None = None, groups: int = 32, dropout: float = 0.0,
                     context_tail_kernel: int = 3, final_activation: str | None = None,
                     encoder_weights: str | None = None, name: str = "dilation10") -> keras.Model:
    """VGG16 front-end without pool4/pool5 (conv5 dilation 2, 7x7 conv6_1 dilation 4), output stride 8.

    The stride-8 logits are bilinearly resized to the input (the thesis does not say how it upsampled; spec
    ambiguity 16). context9/context10 are 3x3 as Table 4.9's kernel column says (its receptive-field column
    suggests 1x1: `context_tail_kernel=1`).
    """
    if stage not in ("front", "context", "global"):
        raise ConfigError(f"stage must be 'front', 'context' or 'global', got {stage!r}")
    if context_tail_kernel not in (1, 3):
        raise ConfigError(f"context_tail_kernel must be 1 or 3, got {context_tail_kernel}")
    check_static_size(input_shape, 8, f"dilation10_{stage}")
    inputs = blocks.image_input(input_shape)
    features = vgg16_features(inputs, width=width, pooled=(True, True, True, False, False),
                              dilations=(1, 1, 1, 1, 2), norm=norm, groups=groups)
    x = fully_convolutional_head(features["out"], fc_filters=scaled(fc_filters, width), dilation=4,
                                 dropout=dropout, first_name="dil_conv6_1")
    x = blocks.conv(x, num_classes, 1, name="scores", kernel_initializer="glorot_uniform")
    front_layers = None
    if stage != "front":
        front_layers = {layer.name for layer in keras.Model(inputs, x).layers}
        x = context_module(x, num_classes, tail_kernel=context_tail_kernel)
    x = blocks.resize_to(x, tuple(input_shape)[:2], name="logits")
    if final_activation is not None:
        x = keras.layers.Activation(final_activation, dtype="float32", name=f"logits_{final_activation}")(x)
    model = keras.Model(inputs, x, name=name)
    if encoder_weights is not None:
        weights.load_weights(model, encoder_weights, rename=VGG16_TO_DILATION10)
    if stage == "context":  # stage 2 trains the context module only (L1232-1239)
        for layer in model.layers:
            if layer.name in front_layers:
                layer.trainable = False
    return model
