"""The one shared set of building blocks: every builder composes these instead of repeating conv-norm-act stacks.

All helpers are functional (tensor in, tensor out), work for 2D and 3D tensors (the rank of `x` decides), and name
their layers after the thesis tables (`conv1_1`, `conv1_1_gn`, `conv1_1_relu`) so pretrained-weight loaders and
`model.summary()` read like the tables.
"""
from __future__ import annotations

import keras

from mammoseg.errors import ConfigError

NORMS = (None, "batch", "group")
KERNEL_INIT = "he_normal"  # the theses state no initialiser; He init suits ReLU networks (docs/models.md)


def spatial_dims(x) -> int:
    dims = len(x.shape) - 2
    if dims not in (2, 3):
        raise ConfigError(f"expected a 2D or 3D feature map (batch, ..., channels), got shape {tuple(x.shape)}")
    return dims


def _pick(dims: int, two_d, three_d):
    return two_d if dims == 2 else three_d


def check_norm(norm: str | None) -> str | None:
    if norm not in NORMS:
        raise ConfigError(f"norm must be one of None, 'batch', 'group'; got {norm!r}")
    return norm


def resolve_groups(groups: int, channels: int) -> int:
    """Largest divisor of `channels` not above `groups`.

    The theses use 32 groups (Wu & He's default); narrow test or width-reduced models have fewer channels than
    that, so the count shrinks to something GroupNormalization accepts instead of failing.
    """
    if groups < 1:
        raise ConfigError(f"groups must be >= 1, got {groups}")
    g = min(groups, channels)
    while channels % g:
        g -= 1
    return g


def make_norm(norm: str | None, channels: int, *, groups: int = 32, name: str | None = None,
              epsilon: float = 1e-3):
    """Normalisation layer factory: None -> no layer, "batch" -> BatchNormalization, "group" -> GroupNormalization.

    `epsilon` 1e-5 matches PyTorch/TF-slim layers whose pretrained statistics a model loads.
    """
    check_norm(norm)
    if norm is None:
        return None
    if norm == "batch":
        return keras.layers.BatchNormalization(epsilon=epsilon, name=name)
    return keras.layers.GroupNormalization(groups=resolve_groups(groups, channels), epsilon=epsilon, name=name)


def _norm_suffix(norm: str) -> str:
    return {"batch": "bn", "group": "gn"}[norm]


def _child(name: str | None, suffix: str) -> str | None:
    return None if name is None else f"{name}_{suffix}"


def activation(x, act: str | None, name: str | None = None):
    if act is None:
        return x
    return keras.layers.Activation(act, name=_child(name, act) if name else None)(x)


def norm_act(x, *, norm: str | None = None, groups: int = 32, act: str | None = "relu", name: str | None = None,
             epsilon: float = 1e-3):
    """Normalise then activate (the pre-activation half of a block)."""
    layer = make_norm(norm, x.shape[-1], groups=groups, epsilon=epsilon,
                      name=_child(name, _norm_suffix(norm)) if norm else None)
    if layer is not None:
        x = layer(x)
    return activation(x, act, name)


def symmetric_pad(x, pad: int, name: str | None = None):
    """Zero-pad every spatial side by `pad` (PyTorch/TF-slim convention; Keras "same" pads the end more)."""
    if pad == 0:
        return x
    layer_cls = _pick(spatial_dims(x), keras.layers.ZeroPadding2D, keras.layers.ZeroPadding3D)
    return layer_cls(pad, name=name)(x)


def conv(x, filters: int, kernel_size=3, *, strides=1, padding: str = "same", dilation_rate=1,
         use_bias: bool = True, name: str | None = None, kernel_initializer=KERNEL_INIT):
    """A bare 2D or 3D convolution (rank taken from `x`).

    padding="symmetric" pads dilation*(k-1)/2 on every side and then convolves "valid": the PyTorch/TF-slim
    alignment that pretrained ResNet weights expect for strided convolutions.
    """
    if padding == "symmetric":
        if not isinstance(kernel_size, int) or not isinstance(dilation_rate, int):
            raise ConfigError("padding='symmetric' needs an int kernel size and dilation")
        x = symmetric_pad(x, dilation_rate * (kernel_size - 1) // 2, name=_child(name, "pad"))
        padding = "valid"
    layer_cls = _pick(spatial_dims(x), keras.layers.Conv2D, keras.layers.Conv3D)
    return layer_cls(filters, kernel_size, strides=strides, padding=padding, dilation_rate=dilation_rate,
                     use_bias=use_bias, kernel_initializer=kernel_initializer, name=name)(x)


def conv_norm_act(x, filters: int, kernel_size=3, *, strides=1, padding: str = "same", dilation_rate=1,
                  norm: str | None = None, groups: int = 32, act: str | None = "relu",
                  use_bias: bool | None = None, name: str | None = None, kernel_initializer=KERNEL_INIT,
                  epsilon: float = 1e-3):
    """Convolution -> optional norm -> optional activation.

    The bias is dropped when a norm follows (the norm's shift makes it redundant), which is also what the
    parameter counts stated by the theses (segmentation_models, Keras applications) assume.
    """
    check_norm(norm)
    if use_bias is None:
        use_bias = norm is None
    x = conv(x, filters, kernel_size, strides=strides, padding=padding, dilation_rate=dilation_rate,
             use_bias=use_bias, name=name, kernel_initializer=kernel_initializer)
    return norm_act(x, norm=norm, groups=groups, act=act, name=name, epsilon=epsilon)


def norm_act_conv(x, filters: int, kernel_size=3, *, strides=1, padding: str = "same", dilation_rate=1,
                  norm: str | None = None, groups: int = 32, act: str | None = "relu",
                  use_bias: bool = False, name: str | None = None):
    """Pre-activation ordering (He et al. 2016b): norm -> activation -> convolution."""
    x = norm_act(x, norm=norm, groups=groups, act=act, name=_child(name, "pre") if name else None)
    return conv(x, filters, kernel_size, strides=strides, padding=padding, dilation_rate=dilation_rate,
                use_bias=use_bias, name=name)


def conv_transpose(x, filters: int, kernel_size=2, *, strides=2, padding: str = "valid", use_bias: bool = True,
                   act: str | None = None, name: str | None = None, kernel_initializer=KERNEL_INIT):
    layer_cls = _pick(spatial_dims(x), keras.layers.Conv2DTranspose, keras.layers.Conv3DTranspose)
    x = layer_cls(filters, kernel_size, strides=strides, padding=padding, use_bias=use_bias,
                  kernel_initializer=kernel_initializer, name=name)(x)
    return activation(x, act, name)


def max_pool(x, pool_size=2, *, strides=None, padding: str = "valid", name: str | None = None):
    """Max-pooling; padding="symmetric" zero-pads (pool-1)/2 per side first (only valid after a ReLU)."""
    if padding == "symmetric":
        x = symmetric_pad(x, (pool_size - 1) // 2, name=_child(name, "pad"))
        padding = "valid"
    layer_cls = _pick(spatial_dims(x), keras.layers.MaxPooling2D, keras.layers.MaxPooling3D)
    return layer_cls(pool_size, strides=strides, padding=padding, name=name)(x)


def dropout(x, rate: float, name: str | None = None):
    """Dropout with a *drop* rate (the kth-seg tables give TF1 keep probabilities: rate = 1 - keep)."""
    if not 0.0 <= rate < 1.0:
        raise ConfigError(f"dropout rate must be in [0, 1), got {rate}")
    return keras.layers.Dropout(rate, name=name)(x) if rate > 0 else x


def center_crop_like(x, reference, name: str | None = None):
    """Crop `x` symmetrically to the spatial size of `reference` (U-Net skip connections with valid convolutions).

    Odd differences put the extra pixel at the end, as `tf.image.central_crop`-style cropping does.
    """
    dims = spatial_dims(x)
    src, dst = x.shape[1:1 + dims], reference.shape[1:1 + dims]
    if any(s is None or d is None for s, d in zip(src, dst)):
        raise ConfigError("center cropping needs static spatial sizes; give input_shape with fixed sizes")
    if any(s < d for s, d in zip(src, dst)):
        raise ConfigError(f"cannot crop {tuple(src)} to the larger {tuple(dst)}")
    if tuple(src) == tuple(dst):
        return x
    cropping = tuple(((s - d) // 2, (s - d) - (s - d) // 2) for s, d in zip(src, dst))
    layer_cls = _pick(dims, keras.layers.Cropping2D, keras.layers.Cropping3D)
    return layer_cls(cropping, name=name)(x)


def concat(tensors, name: str | None = None):
    return keras.layers.Concatenate(axis=-1, name=name)(list(tensors))


def resize_to(x, size, *, interpolation: str = "bilinear", name: str | None = None):
    """Resize a 2D map to a fixed (height, width): the bilinear upsampling of FCN / Dilation10 / DeepLab logits."""
    if spatial_dims(x) != 2:
        raise ConfigError("resize_to supports 2D feature maps only")
    height, width = size
    if (x.shape[1], x.shape[2]) == (height, width):
        return x
    return keras.layers.Resizing(height, width, interpolation=interpolation, name=name)(x)


def upsample_like(x, reference, *, interpolation: str = "nearest", name: str | None = None):
    """Upsample `x` to the spatial size of `reference`: exact x2 when it fits, else a resize (odd skip sizes)."""
    dims = spatial_dims(x)
    src, dst = tuple(x.shape[1:1 + dims]), tuple(reference.shape[1:1 + dims])
    if all(s is not None and d is not None for s, d in zip(src, dst)) and dst != tuple(2 * s for s in src):
        if dims != 2:
            raise ConfigError(f"3D feature maps {src} cannot be upsampled to {dst}; use sizes divisible by 2^depth")
        return resize_to(x, dst, interpolation=interpolation, name=name)
    return upsample(x, 2, interpolation=interpolation, name=name)


def upsample(x, factor: int = 2, *, interpolation: str = "nearest", name: str | None = None):
    """Integer-factor upsampling in 2D or 3D (3D supports nearest only, as Keras does)."""
    if spatial_dims(x) == 2:
        return keras.layers.UpSampling2D(factor, interpolation=interpolation, name=name)(x)
    if interpolation != "nearest":
        raise ConfigError("3D upsampling supports interpolation='nearest' only")
    return keras.layers.UpSampling3D(factor, name=name)(x)


def head(x, num_classes: int, *, final_activation: str | None = None, kernel_size=1, use_bias: bool = True,
         name: str = "logits"):
    """Per-pixel classifier. Logits by default; the activation, when asked for, runs in float32."""
    x = conv(x, num_classes, kernel_size, use_bias=use_bias, name=name, kernel_initializer="glorot_uniform")
    if final_activation is not None:
        x = keras.layers.Activation(final_activation, dtype="float32", name=f"{name}_{final_activation}")(x)
    return x


def image_input(input_shape, name: str = "image"):
    shape = tuple(input_shape)
    if shape[-1] is None or shape[-1] < 1:
        raise ConfigError(f"input_shape must end with a positive channel count, got {shape}")
    return keras.Input(shape=shape, name=name)


@keras.saving.register_keras_serializable(package="mammoseg")
class BilinearUpsampling(keras.initializers.Initializer):
    """Transposed-convolution kernel that starts as bilinear interpolation, channel by channel (Long et al. FCN).

    Kernel layout is Keras' (kh, kw, out_channels, in_channels); off-diagonal channel pairs start at zero.
    """

    def __call__(self, shape, dtype=None):
        import numpy as np

        kh, kw, out_ch, in_ch = shape

        def taps(k):
            factor = (k + 1) // 2
            centre = factor - 1 if k % 2 == 1 else factor - 0.5
            return 1 - np.abs(np.arange(k) - centre) / factor

        kernel = np.zeros(shape, "float32")
        filt = np.outer(taps(kh), taps(kw))
        for c in range(min(out_ch, in_ch)):
            kernel[:, :, c, c] = filt
        return keras.ops.convert_to_tensor(kernel, dtype=dtype or "float32")


@keras.saving.register_keras_serializable(package="mammoseg")
class ConvIdentity(keras.initializers.Initializer):
    """Convolution kernel that passes channel c straight to channel c (Yu & Koltun's identity initialisation).

    The basic Dilation10 context module only trains well from this start: the untrained module is the identity,
    so stage 2 begins exactly where the front-end stopped.
    """

    def __call__(self, shape, dtype=None):
        import numpy as np

        *spatial, in_ch, out_ch = shape
        kernel = np.zeros(shape, "float32")
        centre = tuple(s // 2 for s in spatial)
        for c in range(min(in_ch, out_ch)):
            kernel[(*centre, c, c)] = 1.0
        return keras.ops.convert_to_tensor(kernel, dtype=dtype or "float32")


def residual_block(x, filters: int, *, convs: int = 2, shortcut_kernel: int = 1, norm: str | None = "batch",
                   groups: int = 32, use_bias: bool | None = None, name: str):
    """Post-activation residual block: (conv-norm-ReLU) x (convs-1), conv-norm, + shortcut, ReLU.

    The shortcut is the identity when the width is unchanged, else a conv (`shortcut_kernel`) + norm that
    adjusts "the number of filters in accordance with the number of feature maps" (pig-ct §2.3.6).
    """
    shortcut = x
    if x.shape[-1] != filters:
        shortcut = conv_norm_act(x, filters, shortcut_kernel, norm=norm, groups=groups, act=None,
                                 use_bias=use_bias, name=f"{name}_shortcut")
    y = x
    for i in range(1, convs + 1):
        y = conv_norm_act(y, filters, 3, norm=norm, groups=groups, act="relu" if i < convs else None,
                          use_bias=use_bias, name=f"{name}_conv{i}")
    y = keras.layers.Add(name=f"{name}_add")([y, shortcut])
    return activation(y, "relu", f"{name}_out")
