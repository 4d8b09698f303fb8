"""ResNet family: the encoder counts oulu-mass states (ResNet-22 2,799,536; ResNet-18 11,176,512; ResNet-34
21,284,672 trainable), its U-Net / FPN decoder counts (4,773,025 / 2,338,049), DeepLab v3 and GCN (kth-seg)."""
import numpy as np
import pytest

from mammoseg.errors import ConfigError
from mammoseg.models import build_model
from mammoseg.models.resnet import build_resnet_encoder, get_spec


def trainable(layers):
    return sum(int(np.prod(w.shape)) for layer in layers for w in layer.trainable_weights)


def split_counts(model):
    encoder = [l for l in model.layers if l.name.startswith(("stem", "stage", "final"))]
    decoder = [l for l in model.layers if l not in encoder]
    return trainable(encoder), trainable(decoder)


@pytest.mark.parametrize("name, encoder, decoder, total", [
    ("resnet22_unet", 2_799_536, 4_773_025, 7_580_273),   # both thesis-stated
    ("resnet22_fpn", 2_799_536, 2_338_049, 5_143_633),    # both thesis-stated
])
def test_oulu_mass_resnet22_counts_match_the_thesis(name, encoder, decoder, total):
    model = build_model(name)
    assert split_counts(model) == (encoder, decoder)
    assert model.count_params() == total
    assert model.output_shape == (None, 512, 512, 1)


def test_oulu_mass_resnet34_counts():
    """Encoder built once at full width (thesis: 21,284,672); each decoder on inputs of ResNet-34's widths."""
    import keras

    from mammoseg.models.fpn import fpn_decoder
    from mammoseg.models.unet import pyramid_unet_decoder

    encoder = build_resnet_encoder((64, 64, 3), "resnet34")
    assert (trainable(encoder.layers), encoder.count_params()) == (21_284_672, 21_284_672 + 17_024)
    widths = {"P1": 64, "P2": 64, "P3": 128, "P4": 256, "P5": 512}
    assert {k: v.shape[-1] for k, v in encoder.output.items()} == widths
    maps = [keras.Input((64 // 2 ** i, 64 // 2 ** i, c)) for i, c in enumerate(widths.values())]
    unet = keras.Model(maps, pyramid_unet_decoder(maps))
    fpn = keras.Model(maps[1:], fpn_decoder(maps[1:]))
    head = 1 * 32 + 1, 1 * 128 + 1  # the 1x1 heads the builders add
    assert trainable(unet.layers) + head[0] == 6_316_705 and trainable(fpn.layers) + head[1] == 2_460_929
    assert (unet.count_params() - trainable(unet.layers), fpn.count_params() - trainable(fpn.layers)) == (3_712,
                                                                                                      2_048)
    assert 21_284_672 + 6_316_705 + 17_024 + 3_712 == 27_622_113  # registered totals (BN statistics added)
    assert 21_284_672 + 2_460_929 + 17_024 + 2_048 == 23_764_673


def test_resnet22_pyramid_and_blocks(shapes_of):
    model = build_model("resnet22_unet", input_shape=(448, 448, 1))  # the training crop
    pyramid = {"stem_conv": (224, 224, 16), "stem_pool": (112, 112, 16), "stage1_block2_add": (112, 112, 16),
               "stage2_block2_add": (56, 56, 32), "stage3_block2_add": (28, 28, 64),
               "stage4_block2_add": (14, 14, 128), "final_relu": (7, 7, 256), "decoder_block5_conv2": (224, 224, 32),
               "logits": (224, 224, 1), "logits_resize": (448, 448, 1)}
    assert shapes_of(model, list(pyramid)) == pyramid
    # Pre-activation blocks: a norm before the first conv, GMIC's 1x1 projection on every stage's first block.
    assert model.get_layer("stage1_block1_shortcut").kernel.shape == (1, 1, 16, 16)
    assert not any(layer.name == "stage1_block2_shortcut" for layer in model.layers)
    assert model.get_layer("stage3_block1_conv1").strides == (2, 2)
    assert model.get_layer("stage1_block1_preact1_bn").epsilon == 1e-5


def test_resnet_presets_and_encoder_only_counts():
    spec = get_spec("resnet22")
    assert (spec.stem_filters, spec.blocks, spec.strides, spec.preactivation) == (16, (2,) * 5, (1, 2, 2, 2, 2), True)
    assert get_spec("resnet34").blocks == (3, 4, 6, 3)
    encoder = build_resnet_encoder((64, 64, 3), "resnet18")  # count is independent of the input size
    assert trainable(encoder.layers) == 11_176_512
    with pytest.raises(ConfigError, match="unknown encoder"):
        get_spec("resnet50")


def test_output_stride_8_dilates_the_last_two_stages():
    spec = get_spec("resnet18").with_output_stride(8)
    assert spec.strides == (1, 2, 1, 1) and spec.dilations == (1, 1, 2, 4)
    assert get_spec("resnet18").with_output_stride(16).dilations == (1, 1, 1, 2)


def test_deeplabv3_thesis_sizes_and_count(shapes_of):
    model = build_model("deeplabv3")
    # ResNet-18 11,176,512 (GroupNorm gamma/beta = BatchNorm's) + ASPP and classifier 4,135,181.
    assert model.count_params() == 15_311_693
    assert shapes_of(model, ["stem_pool", "stage2_block2_out_relu", "stage4_block2_out_relu", "aspp_branch3",
                             "aspp_image_pool", "aspp_concat", "aspp_final_relu", "scores", "logits"]) == {
        "stem_pool": (192, 192, 64), "stage2_block2_out_relu": (96, 96, 128),
        "stage4_block2_out_relu": (96, 96, 512), "aspp_branch3": (96, 96, 256), "aspp_image_pool": (1, 1, 512),
        "aspp_concat": (96, 96, 1280), "aspp_final_relu": (96, 96, 256), "scores": (96, 96, 13),
        "logits": (769, 769, 13)}  # Table 4.10: the ASPP sees 96x96 at a 769 input
    assert [model.get_layer(f"aspp_branch{i}").dilation_rate[0] for i in (1, 2, 3)] == [6, 12, 18]
    assert model.get_layer("stage3_block1_conv1").dilation_rate == (2, 2)
    assert model.get_layer("stage4_block1_conv1_gn").groups == 32
    assert not any("_bn" in layer.name for layer in model.layers)


def test_gcn_layout_and_count(shapes_of):
    model = build_model("gcn")
    assert model.count_params() == 11_612_597  # ResNet-18 + 394,888 GCN + 27,612 BR + 13,585 deconv
    assert shapes_of(model, ["gcn2_sum", "gcn5_sum", "fuse4", "fuse2", "br_out1_sum", "br_out0_sum"]) == {
        "gcn2_sum": (200, 200, 13), "gcn5_sum": (25, 25, 13), "fuse4": (50, 50, 13), "fuse2": (200, 200, 13),
        "br_out1_sum": (400, 400, 13), "br_out0_sum": (800, 800, 13)}
    assert model.get_layer("gcn3_left1").kernel.shape == (15, 1, 128, 13)


def test_gcn_starts_with_bounded_logits_and_trains():
    """Every boundary-refinement block starts as the identity (zero last conv), so random-init logits stay O(1)
    instead of compounding through nine residual blocks (std ~27 before), and SGD at lr 1e-2 makes progress."""
    import keras

    keras.utils.set_random_seed(0)
    model = build_model("gcn", input_shape=(64, 64, 3), num_classes=3, width=1 / 16)
    for name in ("br_gcn2", "br_fuse3", "br_out0"):
        assert not np.any(model.get_layer(f"{name}_conv2").kernel.numpy())
    rng = np.random.default_rng(0)
    x = rng.uniform(-0.5, 0.5, (4, 64, 64, 3)).astype("float32")
    y = (x[..., 0] > 0).astype("int32") + (x[..., 1] > 0.25).astype("int32")  # a learnable per-pixel rule
    assert float(np.std(model(x, training=False))) < 5.0
    model.compile(optimizer=keras.optimizers.SGD(1e-2, momentum=0.9),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    losses = model.fit(x, y, epochs=15, batch_size=4, verbose=0).history["loss"]
    assert np.isfinite(losses).all() and losses[-1] < 0.8 * losses[0]


def test_group_norm_resnet_skips_batchnorm_statistics_of_pretrained_files(tmp_path):
    from mammoseg.models.weights import save_weights

    batch = build_resnet_encoder((32, 32, 3), "resnet18", width=1 / 16)
    path = save_weights(batch, tmp_path / "r18.npz")
    model = build_model("deeplabv3", input_shape=(32, 32, 3), width=1 / 16, encoder_weights=str(path))
    np.testing.assert_array_equal(model.get_layer("stage2_block1_conv1").kernel.numpy(),
                                  batch.get_layer("stage2_block1_conv1").kernel.numpy())
