"""kth-cls classifiers (thesis §4.2 / §4.5, code A.3.1): the VGG16-BN image classifier, end-to-end on the
mammogram (1 channel) and for the decomposition pipeline on [image, sum of the five ROI detectors' masks].
"""
from __future__ import annotations

import keras

from mammoseg.errors import ConfigError
from mammoseg.models import blocks
from mammoseg.models.registry import register
from mammoseg.models.vgg import scaled, vgg16_features

# conv 14,713,536 + BN gamma/beta 2,944 + FC 8,915,971 trainable, + 2,944 moving statistics (docs/models.md)
END_TO_END_PARAMS = 23_632_451 + 2_944
DECOMPOSITION_PARAMS = END_TO_END_PARAMS + 3 * 3 * 1 * 64  # the second input channel of conv1_1


def decomposition_input(image, detector_masks):
    """Eq. 4.2: the image with one extra channel holding the sum of the (binary) detector masks (0 ... 5).

    `detector_masks` has one channel per ROI detector.
    """
    ops = keras.ops
    return ops.concatenate([image, ops.sum(detector_masks, axis=-1, keepdims=True)], axis=-1)


@register("decomposition_classifier", thesis="kth-cls", table="Table 4.5, Eq. 4.2", params=DECOMPOSITION_PARAMS,
          summary="Same VGG16-BN on [image, sum of 5 ROI masks] (2 channels)",
          defaults=dict(input_shape=(128, 128, 2), name="decomposition_classifier"))
@register("vgg16_classifier", thesis="kth-cls", table="Table 4.1, code A.3.1", params=END_TO_END_PARAMS,
          summary="VGG16-BN classifier 128x128x1 -> 8192 -> 1024 -> 512 -> 3 sigmoid",
          defaults=dict(input_shape=(128, 128, 1), name="vgg16_classifier"))
def build_vgg_classifier(input_shape=(128, 128, 1), num_classes: int = 3, width: float = 1.0,
                         fc_units=(1024, 512), dropout: float = 0.5, norm: str | None = "batch", groups: int = 32,
                         final_activation: str | None = "sigmoid", name: str = "vgg16_classifier") -> keras.Model:
    """13 VGG16 convolutions with one norm after the last ReLU of every block, then fully connected layers.

    Outputs sigmoid scores by default (the thesis code returns only them; the decision is their argmax).
    Dropout after each hidden FC layer: the keep probability is never given; 0.5 is VGG's own value.
    Conv kernels start Glorot-normal, FC kernels Glorot-uniform, as the thesis code initialises them.
    """
    if any(side is None for side in tuple(input_shape)[:2]):
        raise ConfigError("the classifier needs a fixed input size (its first dense layer sees the flattened map)")
    inputs = blocks.image_input(input_shape)
    features = vgg16_features(inputs, width=width, block_norm=norm, groups=groups,
                              kernel_initializer="glorot_normal")
    x = keras.layers.Flatten(name="flatten")(features["out"])
    for i, units in enumerate(fc_units, start=1):
        x = keras.layers.Dense(scaled(units, width), activation="relu", name=f"full_{i}")(x)
        x = blocks.dropout(x, dropout, name=f"full_{i}_dropout")
    x = keras.layers.Dense(num_classes, name=f"full_{len(fc_units) + 1}")(x)
    if final_activation is not None:
        x = keras.layers.Activation(final_activation, dtype="float32", name=f"scores_{final_activation}")(x)
    return keras.Model(inputs, x, name=name)
