"""kth-seg U-Net (Tables 4.6/4.7): exact parameter count, per-stage shapes, tiny forward + training step."""
import numpy as np
import pytest

from mammoseg.errors import ConfigError
from mammoseg.models import build_model, count_params, describe_models, list_models
from mammoseg.models.unet import unet_output_size

# docs/models.md "U-Net" derives it: encoder 18,843,200 + decoder 12,188,480 + 1x1 head 845.
UNET_THESIS_PARAMS = 31_032_525


def test_thesis_defaults_parameter_count_and_stage_shapes(shapes_of):
    model = build_model("unet")
    assert model.count_params() == UNET_THESIS_PARAMS
    assert count_params("unet") == UNET_THESIS_PARAMS
    # Sizes and widths exactly as printed in Tables 4.6/4.7 (with the max_pool3/4 channel typos corrected).
    assert shapes_of(model, ["conv1_1", "conv1_2", "max_pool1", "conv2_2", "max_pool2", "conv3_2", "max_pool3",
                             "conv4_1", "conv4_2", "max_pool4", "conv5_1", "conv5_2", "t_conv_1", "conv6_1",
                             "conv6_2", "t_conv_2", "conv7_2", "t_conv_3", "conv8_2", "t_conv_4", "conv9_1",
                             "conv9_2", "logits"]) == {
        "conv1_1": (570, 570, 64), "conv1_2": (568, 568, 64), "max_pool1": (284, 284, 64),
        "conv2_2": (280, 280, 128), "max_pool2": (140, 140, 128), "conv3_2": (136, 136, 256),
        "max_pool3": (68, 68, 256), "conv4_1": (66, 66, 512), "conv4_2": (64, 64, 512),
        "max_pool4": (32, 32, 512), "conv5_1": (30, 30, 1024), "conv5_2": (28, 28, 1024),
        "t_conv_1": (56, 56, 512), "conv6_1": (54, 54, 512), "conv6_2": (52, 52, 512),
        "t_conv_2": (104, 104, 256), "conv7_2": (100, 100, 256), "t_conv_3": (200, 200, 128),
        "conv8_2": (196, 196, 128), "t_conv_4": (392, 392, 64), "conv9_1": (390, 390, 64),
        "conv9_2": (388, 388, 64), "logits": (388, 388, 13)}
    # The skip of level 4 is cropped from 64 to 56 (Table 4.7: conv6_1 takes 1024 = 512 + 512 maps).
    assert tuple(model.get_layer("crop_1").output.shape[1:]) == (56, 56, 512)
    assert tuple(model.get_layer("concat_1").output.shape[1:]) == (56, 56, 1024)


def test_tiny_valid_unet_parameter_count_forward_and_step(rng, train_step):
    # Hand count (3 in, 13 out, widths 4-8-16): 112+148 + 296+584 + 1168+2320 + 520+1160+584 + 132+292+148 + 65.
    model = build_model("unet", input_shape=(60, 60, 3), base_filters=4, depth=2)
    assert model.count_params() == 7_529
    assert model.output_shape == (None, 20, 20, 13)
    train_step(model, rng)


def test_same_padding_keeps_size_and_group_norm_counts(rng, train_step):
    model = build_model("unet", input_shape=(32, 32, 1), base_filters=4, depth=2, padding="same", norm="group",
                        groups=32, final_activation="softmax")
    assert model.output_shape == (None, 32, 32, 13)
    # Versus the valid tiny count 7,529: conv1_1 sees 1 channel (-72), 10 convs lose their bias and gain a
    # GroupNorm gamma+beta (+80 in total over 4+4+8+8+16+16+8+8+4+4 channels).
    assert model.count_params() == 7_529 - 72 + 80
    assert model.get_layer("conv3_1_gn").groups == 16  # 32 groups do not divide 16 channels: shrunk to 16
    out = train_step(model, rng, from_logits=False)
    np.testing.assert_allclose(out.sum(axis=-1), 1.0, rtol=1e-5)


def test_batch_norm_variant_and_channels_shortcut():
    model = build_model("unet", channels=1, input_shape=(32, 32, 3), base_filters=4, depth=2, padding="same",
                        norm="batch", dropout=0.0)
    assert model.input_shape == (None, 32, 32, 1)
    assert any(layer.name == "conv2_1_bn" for layer in model.layers)
    assert not any("dropout" in layer.name for layer in model.layers)
    free = build_model("unet", input_shape=(None, None, 1), base_filters=4, depth=2, padding="same")
    assert free.output_shape == (None, None, None, 13)  # same padding: fully convolutional, any size
    with pytest.raises(ConfigError, match="fixed input size"):
        build_model("unet", input_shape=(None, None, 1), base_filters=4, depth=2)


@pytest.mark.parametrize("size, depth, expected", [(572, 4, 388), (60, 2, 20), (44, 2, 4), (64, 3, 64)])
def test_output_size_formula(size, depth, expected):
    padding = "same" if size == 64 else "valid"
    assert unet_output_size(size, depth, padding) == expected


def test_invalid_sizes_and_options_raise_config_error():
    with pytest.raises(ConfigError, match="valid sides near it"):
        build_model("unet", input_shape=(62, 62, 3), base_filters=4, depth=2)
    with pytest.raises(ConfigError, match="divisible by 4"):
        build_model("unet", input_shape=(30, 30, 3), base_filters=4, depth=2, padding="same")
    with pytest.raises(ConfigError, match="norm must be"):
        build_model("unet", input_shape=(32, 32, 3), base_filters=4, depth=2, padding="same", norm="layer")
    with pytest.raises(ConfigError, match="does not accept"):
        build_model("unet", widht=3)
    with pytest.raises(ConfigError, match="unknown model"):
        build_model("no-such-net")


def test_registry_lists_unet_with_its_table():
    assert "unet" in list_models()
    assert ("unet", UNET_THESIS_PARAMS, "kth-seg Tables 4.6/4.7 (= lrh-seg Table 4)") in describe_models()
