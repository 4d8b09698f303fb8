"""oulu-mass encoder-decoder segmenters: a ResNet-22 or ResNet-34 encoder with a U-Net or an FPN decoder.

Four registered names (resnet22_unet, resnet22_fpn, resnet34_unet, resnet34_fpn) share this one builder. The
head is one channel of logits for the binary mass mask (the thesis trains with BCE-with-logits); pass
final_activation="sigmoid" for probabilities.
"""
from __future__ import annotations

import keras

from mammoseg.errors import ConfigError
from mammoseg.models import blocks
from mammoseg.models.fpn import fpn_decoder
from mammoseg.models.registry import register
from mammoseg.models.resnet import get_spec, resnet_segmentation_model, pyramid_levels, resnet_features
from mammoseg.models.unet import OULU_UNET_DECODER_FILTERS, pyramid_unet_decoder
from mammoseg.models.vgg import scaled

_THESIS = dict(thesis="oulu-mass", table="§3.2.1, Figs 12-13")
# Registered counts are Keras totals: thesis-stated trainable encoder + decoder counts, plus the BatchNorm moving
# means/variances Keras also counts (derivation in docs/models.md).


_INPUT_CHANNELS = {"resnet22": 1, "resnet34": 3}  # NYU's ResNet-22 reads grayscale, ImageNet's ResNet-34 RGB


def _variant(encoder: str, decoder: str, params: int, summary: str):
    """register() of one encoder/decoder pair under the name `<encoder>_<decoder>`, at the thesis' 512 px input."""
    name = f"{encoder}_{decoder}"
    return register(name, **_THESIS, params=params, summary=summary,
                    defaults=dict(encoder=encoder, decoder=decoder, name=name,
                                  input_shape=(512, 512, _INPUT_CHANNELS[encoder])))


@_variant("resnet34", "fpn", 21_284_672 + 2_460_929 + 17_024 + 2_048, "ImageNet ResNet-34 encoder + FPN decoder")
@_variant("resnet34", "unet", 21_284_672 + 6_316_705 + 17_024 + 3_712, "ImageNet ResNet-34 encoder + U-Net decoder")
@_variant("resnet22", "fpn", 2_799_536 + 2_338_049 + 4_000 + 2_048,
          "NYU ResNet-22 encoder + FPN decoder (2,799,536 + 2,338,049 trainable)")
@_variant("resnet22", "unet", 2_799_536 + 4_773_025 + 4_000 + 3_712,
          "NYU ResNet-22 encoder + U-Net decoder (2,799,536 + 4,773,025 trainable)")
def build_resnet_segmenter(input_shape=(512, 512, 1), encoder: str = "resnet22", decoder: str = "unet",
                           num_classes: int = 1, norm: str = "batch", groups: int = 32, width: float = 1.0,
                           spatial_dropout: float = 0.2, encoder_weights: str | None = None,
                           final_activation: str | None = None, name: str = "resnet_segmenter") -> keras.Model:
    """ResNet encoder + U-Net/FPN decoder; logits upsampled (bilinear) to the input size."""
    if decoder not in ("unet", "fpn"):
        raise ConfigError(f"decoder must be 'unet' or 'fpn', got {decoder!r}")
    spec = get_spec(encoder)
    inputs = blocks.image_input(input_shape)
    if None in tuple(input_shape)[:2]:
        raise ConfigError("encoder-decoder models need a fixed input size (the logits are resized to it)")
    levels = pyramid_levels(resnet_features(inputs, spec, norm=norm, groups=groups, width=width))
    if decoder == "unet":
        filters = tuple(scaled(f, width) for f in OULU_UNET_DECODER_FILTERS)
        x = pyramid_unet_decoder(levels[-5:], filters=filters, norm=norm, groups=groups,
                                 spatial_dropout=spatial_dropout)
    else:
        x = fpn_decoder(levels[-4:], pyramid_filters=scaled(256, width), segmentation_filters=scaled(128, width),
                        norm=norm, groups=groups, spatial_dropout=spatial_dropout)
    x = blocks.head(x, num_classes)
    x = blocks.resize_to(x, tuple(input_shape)[:2], name="logits_resize")
    return resnet_segmentation_model(inputs, x, name=name, final_activation=final_activation,
                                     encoder_weights=encoder_weights, norm=norm)
