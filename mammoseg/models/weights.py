"""Pretrained weights: one file format, loaders that check every shape, and converters from the public sources.

The format is a NumPy `.npz` whose keys are `<layer name>/<variable name>` in *our* layer naming
(`conv1_1/kernel`, `stem_bn/moving_mean`, ...). Converters turn the published files into it once, offline:

- Keras-applications VGG16 `.h5` (ImageNet) -> `convert_keras_vgg16`
- a PyTorch state dict exported to `.npz` (torchvision ResNet-18/34, NYU GMIC ResNet-22) -> `convert_torch_resnet`

Nothing here downloads anything. Every failure is a DataError naming the file and the first offending layer.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mammoseg.errors import ConfigError, DataError
from mammoseg.io.atomic import atomic_path

HOW_TO = "see docs/models.md, section 'Pretrained weights'"


def _variables_by_key(model) -> dict:
    return {f"{layer.name}/{w.name}": w for layer in model.layers for w in layer.weights}


def read_npz(path: str | Path) -> dict[str, np.ndarray]:
    path = Path(path)
    if not path.is_file():
        raise DataError(path, f"weights file not found ({HOW_TO})")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except Exception as exc:  # zipfile / pickle / format errors all mean the same thing to the user
        raise DataError(path, f"not a readable .npz weights file ({exc.__class__.__name__}: {exc})") from None


def load_weights(model, path: str | Path, *, rename: dict[str, str] | None = None,
                 skip_layers=None) -> list[str]:
    """Copy the arrays of `path` into `model`; return the names of the layers that were loaded.

    Every layer in the file must exist in the model with all its variables and identical shapes, so a file for
    another architecture, width or channel count fails loudly on its first mismatching layer. Layers of the
    model that the file lacks (a new decoder on a pretrained encoder) keep their initialisation. `rename` maps
    file layer names to model layer names (Dilation10 calls VGG's conv5_1 "dil_conv5_1"); `skip_layers` is a
    collection of, or a predicate on, file layer names to ignore (BatchNorm statistics when the model uses
    GroupNorm instead).
    """
    rename = rename or {}
    if skip_layers is None:
        skip_layers = ()
    skip = skip_layers if callable(skip_layers) else set(skip_layers).__contains__
    arrays = read_npz(path)
    if not arrays:
        raise DataError(path, "weights file holds no arrays")
    targets = _variables_by_key(model)
    by_layer: dict[str, dict[str, np.ndarray]] = {}
    for key in sorted(arrays):
        layer, _, var = key.rpartition("/")
        if not layer:
            raise DataError(path, f"key {key!r} is not of the form '<layer>/<variable>'")
        if skip(layer):
            continue
        by_layer.setdefault(rename.get(layer, layer), {})[var] = arrays[key]
    layer_names = {layer.name for layer in model.layers}
    missing = [layer for layer in by_layer if layer not in layer_names]
    if missing:
        raise DataError(path, f"layer {missing[0]!r} of the file does not exist in model {model.name!r} "
                              f"({len(missing)} such layers: another architecture?)")
    for layer, variables in by_layer.items():
        expected = {k.rpartition("/")[2] for k in targets if k.rpartition("/")[0] == layer}
        if set(variables) != expected:
            raise DataError(path, f"layer {layer!r}: the file has variables {sorted(variables)} but the model "
                                  f"has {sorted(expected)}")
        for var in (k.rpartition("/")[2] for k in targets if k.rpartition("/")[0] == layer):  # model order
            value, target = variables[var], targets[f"{layer}/{var}"]
            if tuple(value.shape) != tuple(target.shape):
                raise DataError(path, f"layer {layer!r}: {var} has shape {tuple(value.shape)} in the file but "
                                      f"{tuple(target.shape)} in model {model.name!r}")
    for layer, variables in by_layer.items():
        for var, value in variables.items():
            targets[f"{layer}/{var}"].assign(value.astype(targets[f"{layer}/{var}"].dtype))
    return sorted(by_layer)


def save_weights(model, path: str | Path, *, layers=None) -> Path:
    """Write `model`'s variables (or only `layers`) in the .npz format, atomically."""
    path = Path(path)
    wanted = None if layers is None else set(layers)
    arrays = {key: np.asarray(w.numpy()) for key, w in _variables_by_key(model).items()
              if wanted is None or key.rpartition("/")[0] in wanted}
    return _write_npz(arrays, path)


def _write_npz(arrays: dict[str, np.ndarray], path: Path) -> Path:
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:  # a file handle: numpy adds no second .npz
        np.savez(handle, **arrays)
    return path


def transfer_weights(source, target, *, layers=None) -> list[str]:
    """Copy same-named layers from one model to another (FCN32 -> FCN16 -> FCN8, Dilation10 stage to stage).

    Only layers present in both are copied, and their shapes must agree; returns the copied layer names.
    """
    source_layers = {layer.name: layer for layer in source.layers if layer.weights}
    copied = []
    for layer in target.layers:
        if not layer.weights or layer.name not in source_layers or (layers is not None and layer.name not in layers):
            continue
        values = source_layers[layer.name].get_weights()
        if [v.shape for v in values] != [tuple(w.shape) for w in layer.weights]:
            raise ConfigError(f"layer {layer.name!r}: shapes {[v.shape for v in values]} in {source.name!r} "
                              f"but {[tuple(w.shape) for w in layer.weights]} in {target.name!r}")
        layer.set_weights(values)
        copied.append(layer.name)
    return copied


# ---------------------------------------------------------------------------------------------- converters

def convert_keras_vgg16(src: str | Path, dst: str | Path) -> Path:
    """Keras-applications VGG16 ImageNet `.h5` (with or without top) -> our .npz.

    block{b}_conv{i} -> conv{b}_{i}; with the top, fc1 (25088x4096) becomes the 7x7 conv6_1 and fc2 the 1x1
    conv6_2, exactly as FCN's "convolutionalisation" prescribes (Flatten of a 7x7x512 map is row-major).
    """
    from mammoseg.io.hdf5 import open_hdf5

    src = Path(src)
    out = {}
    with open_hdf5(src, f"VGG16 .h5 file not found ({HOW_TO})") as handle:
        root = handle["model_weights"] if "model_weights" in handle else handle
        for group_name in root:
            group = root[group_name]
            datasets = {}
            group.visititems(lambda n, obj: datasets.__setitem__(n.rsplit("/", 1)[-1].split(":")[0], obj[()])
                             if hasattr(obj, "shape") else None)
            match = re.fullmatch(r"block(\d)_conv(\d)", group_name)
            if match:
                name = f"conv{match[1]}_{match[2]}"
            elif group_name == "fc1":
                name = "conv6_1"
                kernel = datasets["kernel"]
                datasets["kernel"] = kernel.reshape(7, 7, kernel.shape[0] // 49, kernel.shape[1])
            elif group_name == "fc2":
                name = "conv6_2"
                datasets["kernel"] = datasets["kernel"].reshape(1, 1, *datasets["kernel"].shape)
            else:
                continue  # input, pooling, flatten, predictions (ImageNet classes): nothing to keep
            if set(datasets) != {"kernel", "bias"}:
                raise DataError(src, f"layer {group_name!r} holds {sorted(datasets)}, expected kernel and bias")
            out[f"{name}/kernel"], out[f"{name}/bias"] = datasets["kernel"], datasets["bias"]
    if "conv1_1/kernel" not in out:
        raise DataError(src, "no block1_conv1 layer: not a Keras VGG16 weights file")
    return _write_npz(out, Path(dst))


_BN_VARS = {"weight": "gamma", "bias": "beta", "running_mean": "moving_mean", "running_var": "moving_variance"}


@dataclass(frozen=True)
class _TorchNaming:
    """How one source names a ResNet's parameters: wrapper prefixes, the stem conv, the one stand-alone BatchNorm
    (torchvision's stem bn1, GMIC's final_bn) and the residual blocks (stage numbers offset to ours)."""
    wrappers: tuple[str, ...]
    stem_conv: str
    norm: str
    norm_layer: str
    block_pattern: str
    stage_offset: int


_TORCH_NAMING = {
    "torchvision": _TorchNaming(("module.",), "conv1.", "bn1.", "stem_bn", r"layer(\d+)\.(\d+)\.(.+)", 0),
    "resnet22": _TorchNaming(("module.", "ds_net.", "downsampling_branch."), "first_conv.", "final_bn.", "final_bn",
                             r"layer_list\.(\d+)\.(\d+)\.(.+)", 1),
}


def _torch_resnet_name(key: str, arch: str) -> tuple[str, str] | None:
    """Map one PyTorch state-dict key to (our layer, our variable), or None for keys with no counterpart."""
    naming = _TORCH_NAMING["resnet22" if arch == "resnet22" else "torchvision"]
    for wrapper in naming.wrappers:
        key = key.removeprefix(wrapper)
    if key.startswith(naming.stem_conv):
        return "stem_conv", "kernel"
    if key.startswith(naming.norm):
        return naming.norm_layer, _BN_VARS.get(key.rpartition(".")[2])
    match = re.fullmatch(naming.block_pattern, key)
    if not match:
        return None
    stage, block, rest = int(match[1]) + naming.stage_offset, int(match[2]) + 1, match[3]
    prefix = f"stage{stage}_block{block}"
    part, _, var = rest.rpartition(".")
    if part in ("conv1", "conv2"):
        return f"{prefix}_{part}", "kernel"
    if part in ("bn1", "bn2"):
        # V1 blocks normalise after each conv (conv1_bn); V2 blocks before it (pre-activation norms).
        index = part[-1]
        layer = f"{prefix}_conv{index}_bn" if arch != "resnet22" else f"{prefix}_preact{index}_bn"
        return layer, _BN_VARS.get(var)
    if part in ("downsample.0", "downsample"):
        return f"{prefix}_shortcut", "kernel"
    if part == "downsample.1":
        return f"{prefix}_shortcut_bn", _BN_VARS.get(var)
    return None


def convert_torch_resnet(src: str | Path, dst: str | Path, arch: str) -> Path:
    """A PyTorch ResNet state dict saved as .npz -> our .npz (kernels OIHW -> HWIO).

    Export once where PyTorch is installed (docs/models.md shows the three lines), e.g. for NYU's GMIC:
    `np.savez("gmic.npz", **{k: v.numpy() for k, v in torch.load(p, map_location="cpu").items()})`.
    `arch` is "resnet18" / "resnet34" (torchvision names) or "resnet22" (GMIC `ds_net.*` names).
    """
    if arch not in ("resnet18", "resnet34", "resnet22"):
        raise ConfigError(f"arch must be resnet18, resnet34 or resnet22, got {arch!r}")
    src = Path(src)
    state = read_npz(src)
    out = {}
    for key, value in state.items():
        if key.endswith("num_batches_tracked"):
            continue
        mapped = _torch_resnet_name(key, arch)
        if mapped is None or mapped[1] is None:
            continue  # fc / GMIC heads: not part of an encoder
        layer, var = mapped
        out[f"{layer}/{var}"] = value.transpose(2, 3, 1, 0) if value.ndim == 4 else value
    if "stem_conv/kernel" not in out:
        raise DataError(src, f"no stem convolution found: not a {arch} state dict (keys start with "
                             f"{sorted(state)[:3]})")
    return _write_npz(out, Path(dst))
