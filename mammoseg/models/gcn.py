"""Global Convolutional Network (Peng et al. 2017, "Large Kernel Matters") as kth-seg §4.2.5 describes it.

The thesis gives prose only (its Figure 4.12 is missing): a ResNet backbone with GroupNorm, a GCN module at the
end of each ResNet stage, boundary-refinement (BR) modules and transposed convolutions, 800x800 input. The
layout follows Peng et al.'s Figure 2: GCN + BR on every stage, fusion from deep to shallow with deconvolution,
BR after each sum, then two more deconvolution + BR steps back to full resolution. Backbone depth and k are not
stated: ResNet-18 (the thesis' DeepLab backbone) and k = 15 (Peng et al.'s best) are the defaults.
"""
from __future__ import annotations

import keras

from mammoseg.errors import ConfigError
from mammoseg.models import blocks
from mammoseg.models.fcn import check_static_size, score_upsample
from mammoseg.models.registry import register
from mammoseg.models.resnet import get_spec, resnet_segmentation_model, pyramid_levels, resnet_features


def global_conv(x, filters: int, k: int, name: str):
    """(k x 1 then 1 x k) + (1 x k then k x 1): a dense k x k receptive field at 2k/k^2 of the cost; linear."""
    left = blocks.conv(x, filters, (k, 1), name=f"{name}_left1", kernel_initializer="glorot_uniform")
    left = blocks.conv(left, filters, (1, k), name=f"{name}_left2", kernel_initializer="glorot_uniform")
    right = blocks.conv(x, filters, (1, k), name=f"{name}_right1", kernel_initializer="glorot_uniform")
    right = blocks.conv(right, filters, (k, 1), name=f"{name}_right2", kernel_initializer="glorot_uniform")
    return keras.layers.Add(name=f"{name}_sum")([left, right])


def boundary_refine(x, name: str):
    """x + conv3x3(ReLU(conv3x3(x))), widths unchanged.

    The branch's last convolution starts at zero, so every BR block starts as the identity (as residual blocks do
    with a zero-initialised last norm): with He-initialised branches the nine BR blocks and three fusions compound
    to a logit std of ~27 at initialisation (random-init network, 128 px) and SGD at lr 1e-2 reached NaN within
    five steps; with this initialisation the std is ~3 and the same training converges (the thesis states no
    initialisation; docs/models.md)."""
    y = blocks.conv_norm_act(x, x.shape[-1], 3, name=f"{name}_conv1")
    y = blocks.conv(y, x.shape[-1], 3, name=f"{name}_conv2", kernel_initializer="zeros")
    return keras.layers.Add(name=f"{name}_sum")([x, y])


@register("gcn", thesis="kth-seg", table="§4.2.5 (prose; Peng et al. Fig. 2)", params=11_176_512 + 436_085,
          summary="GCN: ResNet-18 (GroupNorm) + k=15 global convolutions + boundary refinement, 800x800")
def build_gcn(input_shape=(800, 800, 3), num_classes: int = 13, encoder: str = "resnet18", k: int = 15,
              norm: str = "group", groups: int = 32, width: float = 1.0, final_activation: str | None = None,
              encoder_weights: str | None = None, name: str = "gcn") -> keras.Model:
    """GCN on the four ResNet stages (strides 4-32); full-resolution logits from the last BR."""
    if k < 1 or k % 2 == 0:
        raise ConfigError(f"k must be a positive odd kernel size, got {k}")
    check_static_size(input_shape, 32, "gcn")
    inputs = blocks.image_input(input_shape)
    levels = pyramid_levels(resnet_features(inputs, get_spec(encoder), norm=norm, groups=groups, width=width))
    stages = levels[-4:]  # strides 4, 8, 16, 32
    refined = [boundary_refine(global_conv(s, num_classes, k, f"gcn{i}"), f"br_gcn{i}")
               for i, s in enumerate(stages, start=2)]
    x = refined[-1]
    for i in range(len(refined) - 2, -1, -1):
        x = score_upsample(x, num_classes, activation=None, name=f"deconv{i + 2}")
        x = keras.layers.Add(name=f"fuse{i + 2}")([x, refined[i]])
        x = boundary_refine(x, f"br_fuse{i + 2}")
    for step in (1, 0):  # stride 4 -> 2 -> 1
        x = score_upsample(x, num_classes, activation=None, name=f"deconv_out{step}")
        x = boundary_refine(x, f"br_out{step}")
    return resnet_segmentation_model(inputs, x, name=name, final_activation=final_activation,
                                     encoder_weights=encoder_weights, norm=norm)
