"""Feature Pyramid Network decoder (Lin et al. 2017 / Kirillov's panoptic-FPN head) for oulu-mass.

Top-down pathway with 1x1 lateral projections and nearest x2 upsampling, summed (the thesis: "FPN uses
summation"); every level then goes through conv-BN-ReLU + x2 stages down to the finest level, the four maps are
concatenated ("the outputs from the different layers are concatenated together") and a final conv-BN-ReLU, spatial
dropout and a 1x1 head follow, upsampled to the input ("uses upsampling to provide the final prediction").
"""
from __future__ import annotations

import keras

from mammoseg.errors import ConfigError
from mammoseg.models import blocks


def fpn_decoder(features, *, pyramid_filters: int = 256, segmentation_filters: int = 128, norm="batch",
                groups: int = 32, spatial_dropout: float = 0.2):
    """FPN over four encoder maps (shallow -> deep); returns the fused map at the finest of them.

    The fusing convolution keeps its bias although a norm follows: that single 128-vector is what separates the
    bias-free layout (2,337,921 parameters on ResNet-22) from the 2,338,049 the thesis states (docs/models.md).
    """
    if len(features) != 4:
        raise ConfigError(f"the FPN decoder takes 4 encoder maps, got {len(features)}")
    laterals = [blocks.conv(f, pyramid_filters, 1, name=f"fpn_lateral{level}")
                for level, f in enumerate(features, start=2)]
    top_down = [laterals[-1]]
    for level in range(len(laterals) - 2, -1, -1):
        up = blocks.upsample_like(top_down[0], laterals[level], name=f"fpn_topdown{level + 2}_up")
        top_down.insert(0, keras.layers.Add(name=f"fpn_topdown{level + 2}")([up, laterals[level]]))
    finest = top_down[0]
    branches = []
    for level, p in enumerate(top_down, start=2):
        x = p
        steps = level - 2
        for step in range(max(1, steps)):
            x = blocks.conv_norm_act(x, segmentation_filters, 3, norm=norm, groups=groups,
                                     name=f"fpn_seg{level}_conv{step + 1}")
            if steps:
                x = blocks.upsample(x, 2, name=f"fpn_seg{level}_up{step + 1}")
        if steps:
            x = blocks.resize_to(x, finest.shape[1:3], interpolation="nearest", name=f"fpn_seg{level}_align")
        branches.append(x)
    x = blocks.concat(list(reversed(branches)), name="fpn_concat")
    x = blocks.conv_norm_act(x, segmentation_filters, 3, norm=norm, groups=groups, use_bias=True,
                             name="fpn_fuse")
    if spatial_dropout:
        x = keras.layers.SpatialDropout2D(spatial_dropout, name="fpn_spatial_dropout")(x)
    return x
