"""DeepLab v3 (Chen et al. 2017) as kth-seg §4.2.4 builds it: ResNet-18, output stride 8 (block3/block4 dilated
by 2 and 4), the ASPP of Table 4.10, GroupNorm instead of BatchNorm. lrh-seg copies the same model (its §2.4), so
no separate variant is registered.
"""
from __future__ import annotations

from dataclasses import replace

import keras

from mammoseg.models import blocks
from mammoseg.models.fcn import check_static_size
from mammoseg.models.registry import register
from mammoseg.models.resnet import get_spec, resnet_segmentation_model, resnet_features
from mammoseg.models.vgg import scaled

ASPP_RATES = (6, 12, 18)


def aspp(x, filters: int = 256, *, rates=ASPP_RATES, norm="group", groups: int = 32, name: str = "aspp"):
    """Table 4.10: a 1x1 branch, three dilated 3x3 branches, image pooling; concatenated, then 1x1 fusion."""
    branches = [blocks.conv_norm_act(x, filters, 1, norm=norm, groups=groups, name=f"{name}_branch0")]
    for i, rate in enumerate(rates, start=1):
        branches.append(blocks.conv_norm_act(x, filters, 3, dilation_rate=rate, norm=norm, groups=groups,
                                             name=f"{name}_branch{i}"))
    pooled = keras.layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_image_pool")(x)
    pooled = blocks.conv_norm_act(pooled, filters, 1, norm=norm, groups=groups, name=f"{name}_branch4")
    branches.append(blocks.resize_to(pooled, tuple(x.shape[1:3]), name=f"{name}_branch4_up"))
    x = blocks.concat(branches, name=f"{name}_concat")
    return blocks.conv_norm_act(x, filters, 1, norm=norm, groups=groups, name=f"{name}_final")


@register("deeplabv3", thesis="kth-seg", table="§4.2.4, Table 4.10 (= lrh-seg §2.4)", params=11_176_512 + 4_135_181,
          summary="DeepLab v3: ResNet-18 (OS 8, GroupNorm) + ASPP, 769x769")
def build_deeplabv3(input_shape=(769, 769, 3), num_classes: int = 13, encoder: str = "resnet18",
                    output_stride: int = 8, aspp_filters: int = 256, norm: str = "group", groups: int = 32,
                    width: float = 1.0, dropout: float = 0.0, final_activation: str | None = None,
                    encoder_weights: str | None = None, name: str = "deeplabv3") -> keras.Model:
    """DeepLab v3; logits bilinearly resized from the stride-8 map to the input size.

    The stem max-pool is unpadded ("valid", TF-slim's default): with it a 769 input gives the 96x96 ASPP input
    Table 4.10 states (torchvision's padded pool would give 97).
    """
    check_static_size(input_shape, 1, "deeplabv3")
    spec = replace(get_spec(encoder), pool_padding="valid").with_output_stride(output_stride)
    inputs = blocks.image_input(input_shape)
    features = resnet_features(inputs, spec, norm=norm, groups=groups, width=width)
    x = aspp(features["out"], scaled(aspp_filters, width), norm=norm, groups=groups)
    x = blocks.dropout(x, dropout, name="aspp_dropout")
    x = blocks.conv(x, num_classes, 1, name="scores", kernel_initializer="glorot_uniform")
    x = blocks.resize_to(x, tuple(input_shape)[:2], name="logits")
    return resnet_segmentation_model(inputs, x, name=name, final_activation=final_activation,
                                     encoder_weights=encoder_weights, norm=norm)
