"""Pretrained-weight files: round trip, clear errors naming file and layer, and the two converters."""
import h5py
import numpy as np
import pytest

from mammoseg.errors import DataError
from mammoseg.models import build_model
from mammoseg.models.resnet import build_resnet_encoder
from mammoseg.models.weights import (convert_keras_vgg16, convert_torch_resnet, load_weights, read_npz,
                                     save_weights)

TINY_FCN = dict(input_shape=(32, 32, 3), num_classes=4, width=1 / 16)


def test_round_trip_restores_outputs(tmp_path, rng):
    source = build_model("fcn8", **TINY_FCN)
    path = save_weights(source, tmp_path / "fcn8.npz")
    assert not list(tmp_path.glob(".*.tmp"))  # atomic write left no temporary file
    target = build_model("fcn8", **TINY_FCN)
    x = rng.standard_normal((1, 32, 32, 3)).astype("float32")
    assert not np.allclose(source.predict(x, verbose=0), target.predict(x, verbose=0))
    loaded = load_weights(target, path)
    assert "conv1_1" in loaded and "score_pool3" in loaded
    np.testing.assert_allclose(source.predict(x, verbose=0), target.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_missing_unreadable_and_mismatched_files_name_file_and_layer(tmp_path):
    with pytest.raises(DataError, match="nope.npz: weights file not found"):
        build_model("fcn32", **TINY_FCN, encoder_weights=str(tmp_path / "nope.npz"))
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"not a zip")
    with pytest.raises(DataError, match="broken.npz: not a readable .npz"):
        read_npz(broken)
    wider = save_weights(build_model("fcn32", **{**TINY_FCN, "width": 1 / 8}), tmp_path / "wide.npz")
    with pytest.raises(DataError, match=r"wide.npz: layer 'conv1_1': kernel has shape \(3, 3, 3, 8\) in the file "
                                        r"but \(3, 3, 3, 4\)"):
        build_model("fcn32", **TINY_FCN, encoder_weights=str(wider))
    other = save_weights(build_model("unet", input_shape=(60, 60, 3), base_filters=4, depth=2), tmp_path / "u.npz")
    with pytest.raises(DataError, match="u.npz: layer '.*' of the file does not exist in model 'fcn32'"):
        build_model("fcn32", **TINY_FCN, encoder_weights=str(other))


def _write_keras_vgg16_h5(path, rng, width=1 / 16, fc=64):
    """A file laid out like keras.applications' VGG16 h5 (one group per layer, `name/kernel:0` datasets)."""
    arrays, c = {}, 3
    with h5py.File(path, "w") as handle:
        for b, (filters, n) in enumerate(((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)), start=1):
            for i in range(1, n + 1):
                f = round(filters * width)
                name = f"block{b}_conv{i}"
                arrays[name] = (rng.standard_normal((3, 3, c, f)).astype("float32"), rng.random(f).astype("f4"))
                c = f
        arrays["fc1"] = (rng.standard_normal((7 * 7 * c, fc)).astype("float32"), rng.random(fc).astype("f4"))
        arrays["fc2"] = (rng.standard_normal((fc, fc)).astype("float32"), rng.random(fc).astype("f4"))
        arrays["predictions"] = (rng.standard_normal((fc, 10)).astype("float32"), rng.random(10).astype("f4"))
        for name, (kernel, bias) in arrays.items():
            group = handle.create_group(name).create_group(name)
            group["kernel:0"], group["bias:0"] = kernel, bias
        handle.create_group("block1_pool")
    return arrays


def test_keras_vgg16_file_loads_into_fcn_and_dilation10(tmp_path, rng):
    arrays = _write_keras_vgg16_h5(tmp_path / "vgg16.h5", rng)
    npz = convert_keras_vgg16(tmp_path / "vgg16.h5", tmp_path / "vgg16.npz")
    fcn = build_model("fcn32", input_shape=(32, 32, 3), width=1 / 16, fc_filters=1024,
                      encoder_weights=str(npz))
    np.testing.assert_array_equal(fcn.get_layer("conv3_2").kernel.numpy(), arrays["block3_conv2"][0])
    # fc1 becomes the 7x7 conv6_1: flattening a 7x7xC map is row-major, so reshape is the exact inverse.
    np.testing.assert_array_equal(fcn.get_layer("conv6_1").kernel.numpy(), arrays["fc1"][0].reshape(7, 7, 32, 64))
    np.testing.assert_array_equal(fcn.get_layer("conv6_2").kernel.numpy()[0, 0], arrays["fc2"][0])
    dil = build_model("dilation10_front", input_shape=(32, 32, 3), width=1 / 16, fc_filters=1024,
                      encoder_weights=str(npz))
    np.testing.assert_array_equal(dil.get_layer("dil_conv5_3").kernel.numpy(), arrays["block5_conv3"][0])
    with pytest.raises(DataError, match="not a readable HDF5 file"):
        (tmp_path / "x.h5").write_text("text")
        convert_keras_vgg16(tmp_path / "x.h5", tmp_path / "x.npz")


def _torchvision_resnet18_state(rng, width=1 / 16):
    """State-dict arrays named as torchvision names them (OIHW kernels), at reduced width."""
    state, c = {}, 3
    stem = round(64 * width)

    def bn(prefix, n):
        for var in ("weight", "bias", "running_mean", "running_var"):
            state[f"{prefix}.{var}"] = rng.random(n).astype("float32") + 0.5
        state[f"{prefix}.num_batches_tracked"] = np.array(7)

    state["conv1.weight"] = rng.standard_normal((stem, 3, 7, 7)).astype("float32")
    bn("bn1", stem)
    c = stem
    for layer, filters in enumerate((64, 128, 256, 512), start=1):
        f = round(filters * width)
        for block in range(2):
            p = f"layer{layer}.{block}"
            state[f"{p}.conv1.weight"] = rng.standard_normal((f, c, 3, 3)).astype("float32")
            bn(f"{p}.bn1", f)
            state[f"{p}.conv2.weight"] = rng.standard_normal((f, f, 3, 3)).astype("float32")
            bn(f"{p}.bn2", f)
            if block == 0 and layer > 1:
                state[f"{p}.downsample.0.weight"] = rng.standard_normal((f, c, 1, 1)).astype("float32")
                bn(f"{p}.downsample.1", f)
            c = f
    state["fc.weight"] = rng.standard_normal((1000, c)).astype("float32")
    state["fc.bias"] = rng.standard_normal(1000).astype("float32")
    return state


def test_torchvision_resnet_state_dict_converts_and_loads(tmp_path, rng):
    state = _torchvision_resnet18_state(rng)
    np.savez(tmp_path / "r18_torch.npz", **state)
    npz = convert_torch_resnet(tmp_path / "r18_torch.npz", tmp_path / "r18.npz", "resnet18")
    encoder = build_resnet_encoder((32, 32, 3), "resnet18", width=1 / 16)
    loaded = load_weights(encoder, npz)
    assert len(loaded) == 1 + 1 + 8 * 4 + 3 * 2  # stem conv+bn, 8 blocks x (2 conv + 2 bn), 3 shortcuts x 2
    np.testing.assert_array_equal(encoder.get_layer("stage2_block1_conv1").kernel.numpy(),
                                  state["layer2.0.conv1.weight"].transpose(2, 3, 1, 0))
    np.testing.assert_array_equal(encoder.get_layer("stage3_block1_shortcut_bn").moving_variance.numpy(),
                                  state["layer3.0.downsample.1.running_var"])


def test_gmic_resnet22_state_dict_converts_and_loads(tmp_path, rng):
    width = 1 / 4
    state, c = {}, round(16 * width)
    state["ds_net.first_conv.weight"] = rng.standard_normal((c, 1, 7, 7)).astype("float32")
    for stage, filters in enumerate((16, 32, 64, 128, 256)):
        f = round(filters * width)
        for block in range(2):
            p = f"ds_net.layer_list.{stage}.{block}"
            for bn, n in (("bn1", c), ("bn2", f)):
                for var in ("weight", "bias", "running_mean", "running_var"):
                    state[f"{p}.{bn}.{var}"] = rng.random(n).astype("float32")
            state[f"{p}.conv1.weight"] = rng.standard_normal((f, c, 3, 3)).astype("float32")
            state[f"{p}.conv2.weight"] = rng.standard_normal((f, f, 3, 3)).astype("float32")
            if block == 0:
                state[f"{p}.downsample.0.weight"] = rng.standard_normal((f, c, 1, 1)).astype("float32")
            c = f
    for var in ("weight", "bias", "running_mean", "running_var"):
        state[f"ds_net.final_bn.{var}"] = rng.random(c).astype("float32")
    state["left_postprocess_net.gn_conv_last.weight"] = rng.standard_normal((2, c, 1, 1)).astype("float32")
    np.savez(tmp_path / "gmic.npz", **state)
    npz = convert_torch_resnet(tmp_path / "gmic.npz", tmp_path / "r22.npz", "resnet22")
    model = build_model("resnet22_unet", input_shape=(64, 64, 1), width=width, encoder_weights=str(npz))
    np.testing.assert_array_equal(model.get_layer("stage5_block2_conv2").kernel.numpy(),
                                  state["ds_net.layer_list.4.1.conv2.weight"].transpose(2, 3, 1, 0))
    np.testing.assert_array_equal(model.get_layer("stage1_block1_preact1_bn").gamma.numpy(),
                                  state["ds_net.layer_list.0.0.bn1.weight"])
    np.testing.assert_array_equal(model.get_layer("final_bn").moving_mean.numpy(),
                                  state["ds_net.final_bn.running_mean"])
    with pytest.raises(DataError, match="no stem convolution found"):
        convert_torch_resnet(tmp_path / "gmic.npz", tmp_path / "wrong.npz", "resnet34")
