"""One ResNet builder whose arguments express the whole family the theses use.

- ResNet-18 / ResNet-34 (He et al. 2016, torchvision layout): post-activation basic blocks, 64-512 filters;
  ResNet-18 is the kth-seg DeepLab v3 / GCN backbone (with GroupNorm and dilated stages), ResNet-34 the
  oulu-mass ImageNet encoder.
- ResNet-22 (NYU GMIC "ResNetV2", oulu-mass): 16 filters, 7x7/2 stem, 3x3/2 max-pool, five stages of two
  pre-activation basic blocks with strides [1, 2, 2, 2, 2], a 1x1 projection shortcut on the first block of every
  stage, final norm + ReLU.

`resnet_features` returns a feature pyramid {"P1": stride 2, "P2": stride 4, ...} (the last map at each stride)
plus "out"; the U-Net / FPN / DeepLab / GCN decoders consume it. Layer names (`stem_conv`, `stage2_block1_conv1`,
`stage2_block1_conv1_bn`, `stage2_block1_shortcut`, ...) are what `weights.convert_torch_resnet` produces.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import keras

from mammoseg.errors import ConfigError
from mammoseg.models import blocks, weights
from mammoseg.models.vgg import scaled

EPSILON = 1e-5  # PyTorch's BatchNorm epsilon: the pretrained ResNet statistics were computed with it


@dataclass(frozen=True)
class ResNetSpec:
    stem_filters: int
    stage_filters: tuple[int, ...]
    blocks: tuple[int, ...]
    strides: tuple[int, ...]
    preactivation: bool  # ResNetV2 blocks (norm-ReLU before each conv) vs V1 (conv-norm-ReLU)
    shortcut: str  # "when_needed": projection only if shape changes (V1); "first_block": GMIC's rule
    pool_padding: str  # "symmetric" (torchvision), "same", "valid" (TF-slim)
    dilations: tuple[int, ...] | None = None  # per stage; replaces strides > 1 where dilation > 1

    def with_output_stride(self, output_stride: int) -> "ResNetSpec":
        """DeepLab-style: stages that would pass `output_stride` keep stride 1 and dilate by 2, 4, ... instead."""
        strides, dilations = list(self.strides), [1] * len(self.strides)
        current, rate = 4, 1  # stem conv + pool
        for i, stride in enumerate(self.strides):
            if current * stride > output_stride:
                rate *= stride
                strides[i], dilations[i] = 1, rate
            else:
                current *= stride
        if current != output_stride:
            raise ConfigError(f"cannot reach output stride {output_stride} with stage strides {self.strides}")
        return replace(self, strides=tuple(strides), dilations=tuple(dilations))


def _product(values) -> int:
    out = 1
    for v in values:
        out *= v
    return out


PRESETS = {
    "resnet18": ResNetSpec(64, (64, 128, 256, 512), (2, 2, 2, 2), (1, 2, 2, 2), False, "when_needed", "symmetric"),
    "resnet34": ResNetSpec(64, (64, 128, 256, 512), (3, 4, 6, 3), (1, 2, 2, 2), False, "when_needed", "symmetric"),
    # GMIC pools with padding 0, which gives odd maps (448 -> 111); "same" keeps GMIC's windows and adds the one
    # border row/column that makes every level exactly half the previous one (docs/models.md).
    "resnet22": ResNetSpec(16, (16, 32, 64, 128, 256), (2, 2, 2, 2, 2), (1, 2, 2, 2, 2), True, "first_block",
                           "same"),
}


def get_spec(encoder: str | ResNetSpec) -> ResNetSpec:
    if isinstance(encoder, ResNetSpec):
        return encoder
    try:
        return PRESETS[encoder]
    except KeyError:
        raise ConfigError(f"unknown encoder {encoder!r}; known: {', '.join(PRESETS)}") from None


def _basic_block_v1(x, filters, *, stride, dilation, project, norm, groups, name):
    shortcut = x
    if project:
        shortcut = blocks.conv_norm_act(x, filters, 1, strides=stride, padding="valid", norm=norm, groups=groups,
                                        act=None, name=f"{name}_shortcut", epsilon=EPSILON)
    y = blocks.conv_norm_act(x, filters, 3, strides=stride, dilation_rate=dilation, padding="symmetric",
                             norm=norm, groups=groups, name=f"{name}_conv1", epsilon=EPSILON)
    y = blocks.conv_norm_act(y, filters, 3, dilation_rate=dilation, padding="symmetric", norm=norm, groups=groups,
                             act=None, name=f"{name}_conv2", epsilon=EPSILON)
    y = keras.layers.Add(name=f"{name}_add")([y, shortcut])
    return blocks.activation(y, "relu", f"{name}_out")


def _basic_block_v2(x, filters, *, stride, dilation, project, norm, groups, name):
    pre = blocks.norm_act(x, norm=norm, groups=groups, name=f"{name}_preact1", epsilon=EPSILON)
    shortcut = x
    if project:
        shortcut = blocks.conv(pre, filters, 1, strides=stride, padding="valid", use_bias=False,
                               name=f"{name}_shortcut")
    y = blocks.conv(pre, filters, 3, strides=stride, dilation_rate=dilation, padding="symmetric", use_bias=False,
                    name=f"{name}_conv1")
    y = blocks.norm_act(y, norm=norm, groups=groups, name=f"{name}_preact2", epsilon=EPSILON)
    y = blocks.conv(y, filters, 3, dilation_rate=dilation, padding="symmetric", use_bias=False,
                    name=f"{name}_conv2")
    return keras.layers.Add(name=f"{name}_add")([y, shortcut])


def resnet_features(x, spec: ResNetSpec, *, norm: str | None = "batch", groups: int = 32,
                    width: float = 1.0) -> dict:
    """Stem + residual stages; returns {"P1": ..., "P2": ..., "out": ...} keyed by log2 of the stride."""
    if norm is None:
        raise ConfigError("ResNet encoders need a norm ('batch' or 'group')")
    dilations = spec.dilations or (1,) * len(spec.blocks)
    if not len(spec.stage_filters) == len(spec.blocks) == len(spec.strides) == len(dilations):
        raise ConfigError("stage_filters, blocks, strides and dilations must have one entry per stage")
    pyramid = {}
    x = blocks.conv(x, scaled(spec.stem_filters, width), 7, strides=2, padding="symmetric", use_bias=False,
                    name="stem_conv")
    if not spec.preactivation:  # V2 stems go straight to the pool; their first norm is inside block 1
        x = blocks.norm_act(x, norm=norm, groups=groups, name="stem", epsilon=EPSILON)
    pyramid["P1"] = x
    x = blocks.max_pool(x, 3, strides=2, padding=spec.pool_padding, name="stem_pool")
    level = 2
    block = _basic_block_v2 if spec.preactivation else _basic_block_v1
    in_filters = scaled(spec.stem_filters, width)
    for s, (filters, n_blocks, stride, dilation) in enumerate(
            zip(spec.stage_filters, spec.blocks, spec.strides, dilations), start=1):
        filters = scaled(filters, width)
        for b in range(1, n_blocks + 1):
            block_stride = stride if b == 1 else 1
            if spec.shortcut == "first_block":
                project = b == 1
            else:
                project = block_stride != 1 or in_filters != filters
            x = block(x, filters, stride=block_stride, dilation=dilation, project=project, norm=norm,
                      groups=groups, name=f"stage{s}_block{b}")
            in_filters = filters
        if spec.preactivation and s == len(spec.blocks):
            x = blocks.norm_act(x, norm=norm, groups=groups, name="final", epsilon=EPSILON)
        level += 1 if stride == 2 else 0
        pyramid[f"P{level}"] = x
    pyramid["out"] = x
    return pyramid


def pyramid_levels(pyramid: dict) -> list:
    """The pyramid maps ordered from shallow (P1) to deep."""
    return [pyramid[k] for k in sorted((k for k in pyramid if k.startswith("P")), key=lambda k: int(k[1:]))]


def load_encoder_weights(model, path, *, norm: str | None) -> list[str]:
    """Load a converted ResNet file; with GroupNorm the file's BatchNorm layers are skipped (their statistics
    have no GroupNorm counterpart), the convolutions still load."""
    skip = (lambda layer: layer.endswith("_bn")) if norm != "batch" else None
    return weights.load_weights(model, path, skip_layers=skip)


def build_resnet_encoder(input_shape, encoder: str | ResNetSpec = "resnet34", *, norm: str | None = "batch",
                         groups: int = 32, width: float = 1.0, output_stride: int | None = None,
                         name: str | None = None) -> keras.Model:
    """Backbone alone as a Model whose outputs are the pyramid dict (for inspection and weight conversion)."""
    spec = get_spec(encoder)
    if output_stride is not None:
        spec = spec.with_output_stride(output_stride)
    inputs = blocks.image_input(input_shape)
    pyramid = resnet_features(inputs, spec, norm=norm, groups=groups, width=width)
    outputs = {k: v for k, v in pyramid.items() if k != "out"}
    return keras.Model(inputs, outputs, name=name or (encoder if isinstance(encoder, str) else "resnet"))


def resnet_segmentation_model(inputs, logits, *, name: str, final_activation, encoder_weights, norm):
    """Close a ResNet-encoder segmentation network: optional output activation (float32 under mixed precision),
    the Model, and the user's pretrained encoder file when one is given."""
    if final_activation is not None:
        logits = keras.layers.Activation(final_activation, dtype="float32", name=f"logits_{final_activation}")(logits)
    model = keras.Model(inputs, logits, name=name)
    if encoder_weights is not None:
        load_encoder_weights(model, encoder_weights, norm=norm)
    return model
