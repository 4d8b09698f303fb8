"""FCN (Tables 4.4/4.5), Dilation10 (4.8/4.9) and the kth-cls VGG16-BN classifier.

The full-width networks hold up to 134 M parameters; instead of initialising them in the test suite, an
independent hand formula of each table is checked against models built at a reduced width (same layers, same
arithmetic), and the formula at full width is checked against the literal numbers derived in docs/models.md.
"""
import pytest

from mammoseg.models import build_model
from mammoseg.models.weights import transfer_weights

VGG16 = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))


def conv(k, c_in, c_out, bias=True):
    return k * k * c_in * c_out + (c_out if bias else 0)


def vgg16_convs(c_in, width=1.0):
    total, c = 0, c_in
    for filters, n in VGG16:
        for _ in range(n):
            f = max(1, round(filters * width))
            total += conv(3, c, f)
            c = f
    return total, c


def fcn_params(c_in, classes, width=1.0, fc=4096, stride=32):
    trunk, c = vgg16_convs(c_in, width)
    total = trunk + conv(7, c, fc) + conv(1, fc, fc) + conv(1, fc, classes)
    pool4, pool3 = round(512 * width), round(256 * width)
    if stride <= 16:
        total += conv(4, classes, classes) + conv(1, pool4, classes)
    if stride <= 8:
        total += conv(4, classes, classes) + conv(1, pool3, classes)
    return total


def dilation_params(c_in, classes, width=1.0, fc=4096, context=False, tail=3):
    front = fcn_params(c_in, classes, width, fc, 32)
    if context:
        front += 8 * conv(3, classes, classes) + 2 * conv(tail, classes, classes)
    return front


def classifier_trainable(c_in, width=1.0, fc=(1024, 512), classes=3, side=128):
    convs, c = vgg16_convs(c_in, width)
    norms = 2 * sum(max(1, round(f * width)) for f, _ in VGG16)  # one BatchNorm gamma/beta per block
    flat = (side // 32) ** 2 * c
    dense, prev = 0, flat
    for units in (*[max(1, round(u * width)) for u in fc], classes):
        dense += prev * units + units
        prev = units
    return convs + norms + dense


def test_formulas_give_the_documented_full_size_counts():
    assert vgg16_convs(3) == (14_714_688, 512)
    assert fcn_params(3, 13, stride=32) == 134_313_805
    assert fcn_params(3, 13, stride=16) == 134_323_191
    assert fcn_params(3, 13, stride=8) == 134_329_249
    assert dilation_params(3, 13) == 134_313_805
    assert dilation_params(3, 13, context=True) == 134_329_145
    assert classifier_trainable(1) == 23_632_451
    assert classifier_trainable(2) == 23_633_027


@pytest.mark.parametrize("name, stride", [("fcn32", 32), ("fcn16", 16), ("fcn8", 8)])
def test_fcn_counts_at_reduced_width(name, stride):
    model = build_model(name, input_shape=(64, 64, 3), width=1 / 8)  # fc_filters scale too: 512
    assert model.count_params() == fcn_params(3, 13, 1 / 8, 512, stride)


@pytest.mark.parametrize("name, context", [("dilation10_front", False), ("dilation10_context", True),
                                           ("dilation10_global", True)])
def test_dilation10_counts_at_reduced_width(name, context):
    model = build_model(name, input_shape=(64, 64, 3), width=1 / 8)
    assert model.count_params() == dilation_params(3, 13, 1 / 8, 512, context)


def test_fcn8_stage_shapes_at_thesis_input(shapes_of):
    model = build_model("fcn8", width=1 / 16)  # 256x256x3, Table 4.4 sizes
    assert shapes_of(model, ["conv1_2", "max_pool1", "max_pool2", "max_pool3", "max_pool4", "conv5_3", "max_pool5",
                             "conv6_1", "conv6_2", "scores", "t_conv_1", "fuse_pool4", "t_conv_2", "fuse_pool3",
                             "logits"]) == {
        "conv1_2": (256, 256, 4), "max_pool1": (128, 128, 4), "max_pool2": (64, 64, 8),
        "max_pool3": (32, 32, 16), "max_pool4": (16, 16, 32), "conv5_3": (16, 16, 32), "max_pool5": (8, 8, 32),
        "conv6_1": (8, 8, 256), "conv6_2": (8, 8, 256), "scores": (8, 8, 13), "t_conv_1": (16, 16, 13),
        "fuse_pool4": (16, 16, 13), "t_conv_2": (32, 32, 13), "fuse_pool3": (32, 32, 13), "logits": (256, 256, 13)}


@pytest.mark.parametrize("stage, side, feature", [("front", 632, 79), ("context", 1024, 128), ("global", 1400, 175)])
def test_dilation10_stage_sizes_match_table_4_8(stage, side, feature, shapes_of):
    model = build_model(f"dilation10_{stage}", width=1 / 64)
    shapes = shapes_of(model, ["max_pool1", "max_pool2", "max_pool3", "dil_conv5_3", "dil_conv6_1", "scores"])
    assert shapes["max_pool1"][0] == side // 2 and shapes["max_pool2"][0] == side // 4
    assert {k: v[0] for k, v in shapes.items() if k not in ("max_pool1", "max_pool2")} == dict.fromkeys(
        ["max_pool3", "dil_conv5_3", "dil_conv6_1", "scores"], feature)
    assert model.get_layer("dil_conv5_1").dilation_rate == (2, 2)
    assert model.get_layer("dil_conv6_1").dilation_rate == (4, 4)
    assert model.output_shape == (None, side, side, 13)
    if stage != "front":
        assert [model.get_layer(f"context{i}").dilation_rate[0] for i in range(1, 11)] == [1, 1, 2, 4, 8, 16, 16,
                                                                                            32, 1, 1]


def test_dilation10_stages_freeze_and_hand_over():
    small = dict(input_shape=(32, 32, 3), width=1 / 16)
    front = build_model("dilation10_front", **small)
    context = build_model("dilation10_context", **small)
    trainable = {w.path.split("/")[0] for w in context.trainable_weights}
    assert trainable == {f"context{i}" for i in range(1, 11)}  # stage 2 trains the context module only
    copied = transfer_weights(front, context)
    assert "scores" in copied and "conv1_1" in copied and not any(n.startswith("context") for n in copied)
    global_ = build_model("dilation10_global", **small)
    transfer_weights(context, global_)
    assert len(global_.trainable_weights) == len(context.weights)


def test_context_module_starts_as_identity(rng):
    import numpy as np

    model = build_model("dilation10_context", input_shape=(32, 32, 3), width=1 / 16)
    kernel = model.get_layer("context3").kernel.numpy()
    assert kernel[1, 1].tolist() == np.eye(13).tolist() and np.count_nonzero(kernel) == 13


def test_fcn_stages_hand_over_weights_and_skip_scores_start_at_zero(rng):
    import numpy as np

    small = dict(input_shape=(32, 32, 3), width=1 / 16, num_classes=4)
    fcn32, fcn16 = build_model("fcn32", **small), build_model("fcn16", **small)
    copied = transfer_weights(fcn32, fcn16)
    assert set(copied) == {l.name for l in fcn32.layers if l.weights}
    assert not np.any(fcn16.get_layer("score_pool4").kernel.numpy())
    t_conv = fcn16.get_layer("t_conv_1").kernel.numpy()  # bilinear 4x4 taps on the channel diagonal
    np.testing.assert_allclose(t_conv[:, :, 0, 0], np.outer([.25, .75, .75, .25], [.25, .75, .75, .25]))
    assert not np.any(t_conv[:, :, 0, 1])


@pytest.mark.parametrize("name, channels", [("vgg16_classifier", 1), ("decomposition_classifier", 2)])
def test_classifier_counts_and_head(name, channels):
    model = build_model(name, width=1 / 8)
    trainable = sum(int(w.numpy().size) for w in model.trainable_weights)
    assert trainable == classifier_trainable(channels, 1 / 8)
    assert model.input_shape == (None, 128, 128, channels)
    assert model.get_layer("flatten").output.shape[-1] == 4 * 4 * 64  # 8192 at full width
    assert [model.get_layer(f"full_{i}").units for i in (1, 2, 3)] == [128, 64, 3]


def test_decomposition_input_sums_the_detector_masks(rng):
    import keras
    import numpy as np

    from mammoseg.models.classifier import decomposition_input

    image = rng.random((2, 8, 8, 1)).astype("float32")
    masks = (rng.random((2, 8, 8, 5)) > 0.5).astype("float32")
    out = keras.ops.convert_to_numpy(decomposition_input(image, masks))
    assert out.shape == (2, 8, 8, 2)
    np.testing.assert_array_equal(out[..., 0], image[..., 0])
    np.testing.assert_array_equal(out[..., 1], masks.sum(-1))
