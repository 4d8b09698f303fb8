"""pig-ct residual U-Net (2D/3D), kth-cls ROI U-Net, oulu-mass random U-Net, kth-seg discriminator."""
import numpy as np
import pytest

from mammoseg.errors import ConfigError
from mammoseg.models import build_model


def residual_unet_counts(dims, c_in=1, base=16, depth=6, classes=1):
    """Independent arithmetic of the layout in docs/models.md: (trainable, BatchNorm moving statistics)."""
    k = 3 ** dims

    def conv(kk, i, o):
        return kk * i * o + o  # every convolution keeps its bias

    def block(i, o):  # three conv-BN, plus a 3^d conv-BN projection when the width changes
        t, bn = conv(k, i, o) + 2 * o + 2 * (conv(k, o, o) + 2 * o), 3 * o
        if i != o:
            t, bn = t + conv(k, i, o) + 2 * o, bn + o
        return t, bn

    total = bn = 0
    c = c_in
    widths = [base * 2 ** level for level in range(depth)]
    for w in widths:
        for _ in range(2):
            t, b = block(c, w)
            total, bn, c = total + t, bn + b, w
    t, b = block(c, base * 2 ** depth)
    total, bn, c = total + t, bn + b, base * 2 ** depth
    for w in reversed(widths):
        total, bn, c = total + conv(k, c, w) + 2 * w, bn + w, 2 * w  # transposed conv + BN, then concat
        for _ in range(2):
            t, b = block(c, w)
            total, bn, c = total + t, bn + b, w
    return total + c * classes + classes, 2 * bn


def trainable(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def test_residual_unet_2d_against_the_thesis_count(shapes_of):
    # 82 M weights are not worth initialising in a unit test: the same layout at base width 4 must match the
    # formula, and the formula at width 16 gives the thesis-size count (the benchmark builds it for real).
    assert residual_unet_counts(2) == (81_831_521, 38_432)
    # Thesis: 81,831,025 trainable of 81,867,505 -> +496 trainable, +1,952 non-trainable (docs/models.md).
    assert 81_831_521 - 81_831_025 == 496 and 38_432 - (81_867_505 - 81_831_025) == 1_952
    model = build_model("residual_unet_2d", base_filters=4)
    assert (trainable(model), model.count_params() - trainable(model)) == residual_unet_counts(2, base=4)
    assert shapes_of(model, ["down0_block2_out_relu", "down5_pool", "bottom_block1_out_relu", "up5_tconv",
                             "up0_block2_out_relu", "logits"]) == {
        "down0_block2_out_relu": (512, 512, 4), "down5_pool": (8, 8, 128), "bottom_block1_out_relu": (8, 8, 256),
        "up5_tconv": (16, 16, 128), "up0_block2_out_relu": (512, 512, 4), "logits": (512, 512, 1)}


def test_residual_unet_3d_count_and_sizes(shapes_of):
    model = build_model("residual_unet_3d")
    assert (trainable(model), model.count_params() - trainable(model)) == residual_unet_counts(3, depth=4)
    assert model.count_params() == 15_313_345
    assert shapes_of(model, ["down3_pool", "bottom_block1_out_relu", "logits"]) == {
        "down3_pool": (6, 6, 6, 128), "bottom_block1_out_relu": (6, 6, 6, 256), "logits": (96, 96, 96, 1)}


def test_residual_unet_takes_any_multiple_of_64_and_rejects_others():
    model = build_model("residual_unet_2d", input_shape=(None, None, 1), base_filters=2, depth=2)
    assert model.output_shape == (None, None, None, 1)  # 512 x 832 sagittal slices share the weights
    with pytest.raises(ConfigError, match="divisible by 64"):  # six poolings
        build_model("residual_unet_2d", input_shape=(512, 600, 1), base_filters=2)


def test_roi_unet_matches_the_kth_cls_code(shapes_of):
    model = build_model("roi_unet")
    assert (trainable(model), model.count_params() - trainable(model)) == (31_383_681, 5_888)
    assert shapes_of(model, ["conv5_2", "up6", "merge6", "conv6_1", "conv9_2", "logits"]) == {
        "conv5_2": (8, 8, 1024), "up6": (16, 16, 1024), "merge6": (16, 16, 1536), "conv6_1": (16, 16, 512),
        "conv9_2": (128, 128, 64), "logits": (128, 128, 1)}
    # The skip leaves before the level's BatchNorm; the path below goes through it.
    merge = model.get_layer("merge6")
    assert [t._keras_history.operation.name for t in merge.input] == ["up6", "conv4_2_relu"]
    assert model.get_layer("up6").input._keras_history.operation.name == "level5_bn"


def test_oulu_unet_count_by_hand():
    model = build_model("oulu_unet")
    # kth-seg U-Net 31,032,525 with 1 input channel (-1,152), no conv biases (-5,888), BatchNorm gamma/beta
    # (+11,776) and a 1-channel head (-780); BatchNorm statistics add 11,776 non-trainable.
    assert trainable(model) == 31_032_525 - 1_152 - 5_888 + 11_776 - 780 == 31_036_481
    assert model.count_params() == 31_036_481 + 11_776
    assert model.output_shape == (None, 512, 512, 1)


def test_discriminator_table_4_11():
    model = build_model("discriminator", input_shape=(64, 64, 39))
    assert model.count_params() == 2_366_722
    assert [model.get_layer(f"d_conv{i}").filters for i in range(1, 8)] == [96, 128, 128, 256, 256, 512, 2]
    assert model.get_layer("max_pool1").pool_size == (3, 3) and model.get_layer("max_pool1").strides == (1, 1)
    assert model.output_shape == (None, 64, 64, 2)
    assert build_model("discriminator", input_shape=(64, 64, 39), pool_strides=2).output_shape == (None, 16, 16, 2)
    with pytest.raises(ConfigError, match="image_channels"):
        build_model("discriminator", input_shape=(64, 64, 40))


def test_product_input_multiplies_the_image_by_each_class_map(rng):
    import keras

    from mammoseg.models.discriminator import product_input

    image = rng.random((2, 4, 4, 3)).astype("float32")
    probs = rng.random((2, 4, 4, 13)).astype("float32")
    out = keras.ops.convert_to_numpy(product_input(image, probs))
    assert out.shape == (2, 4, 4, 39)
    np.testing.assert_allclose(out[..., 3 * 7:3 * 8], image * probs[..., 7:8], rtol=1e-6)
