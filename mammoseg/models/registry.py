"""Name -> builder registry for every network the theses describe.

Importing this module is cheap (no Keras): the builder modules are imported the first time a name is looked up,
so `mammoseg --help` and the data tools never pay for TensorFlow.
"""
from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from typing import Callable

from mammoseg.errors import ConfigError

# Modules whose import registers builders, in the order `list_models()` reports them (thesis order).
_BUILDER_MODULES = (
    "mammoseg.models.fcn",
    "mammoseg.models.unet",
    "mammoseg.models.dilation",
    "mammoseg.models.deeplab",
    "mammoseg.models.gcn",
    "mammoseg.models.discriminator",
    "mammoseg.models.encoder_decoder",
    "mammoseg.models.residual_unet",
    "mammoseg.models.classifier",
)
THESIS_ORDER = ("kth-seg", "lrh-seg", "oulu-mass", "pig-ct", "kth-cls")  # seeds 000 ... 004


@dataclass(frozen=True)
class ModelEntry:
    name: str
    builder: Callable
    thesis: str  # seed name: kth-seg, lrh-seg, oulu-mass, pig-ct, kth-cls
    table: str  # where in the thesis the layers are specified
    params: int | None  # hand-derived count at the defaults (docs/models.md); None = count by building
    summary: str
    defaults: dict  # keyword arguments this name fixes on a shared builder (fcn8 = build_fcn(output_stride=8))


_REGISTRY: dict[str, ModelEntry] = {}
_loaded = False
_built_counts: dict[str, int] = {}


def register(name: str, *, thesis: str, table: str, params: int | None = None, summary: str = "",
             defaults: dict | None = None):
    """Decorator: make `builder` reachable as `build_model(name, **kwargs)`.

    `params` is the parameter count at the defaults derived by hand from the thesis table; the tests assert the
    built model matches it, and `describe_models` reports it without building the network. `defaults` lets one
    builder serve several names (stacked decorators), each fixing some keyword arguments.
    """

    def decorate(builder: Callable) -> Callable:
        if name in _REGISTRY and _REGISTRY[name].builder is not builder:
            raise ConfigError(f"model name {name!r} registered twice")
        doc = (builder.__doc__ or "").strip().splitlines()
        _REGISTRY[name] = ModelEntry(name, builder, thesis, table, params, summary or (doc[0] if doc else ""),
                                     dict(defaults or {}))
        return builder

    return decorate


def _load_builders() -> None:
    global _loaded
    if not _loaded:
        for module in _BUILDER_MODULES:
            importlib.import_module(module)
        _loaded = True


def get_entry(name: str) -> ModelEntry:
    _load_builders()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown model {name!r}; known models: {', '.join(_REGISTRY)}") from None


def list_models() -> list[str]:
    """Registered names, grouped by thesis (seed order), in the order each thesis presents them."""
    _load_builders()
    order = {name: i for i, name in enumerate(_REGISTRY)}
    return sorted(_REGISTRY, key=lambda n: (THESIS_ORDER.index(_REGISTRY[n].thesis), order[n]))


def _with_channels(builder: Callable, kwargs: dict) -> dict:
    """`channels=1|3` is shorthand for replacing the last axis of the builder's `input_shape`."""
    channels = kwargs.pop("channels")
    if "input_shape" in kwargs:
        shape = tuple(kwargs["input_shape"])
    else:
        default = inspect.signature(builder).parameters.get("input_shape")
        if default is None or default.default is inspect.Parameter.empty or default.default is None:
            raise ConfigError(f"{builder.__name__} has no input_shape to set channels={channels} on")
        shape = tuple(default.default)
    kwargs["input_shape"] = (*shape[:-1], int(channels))
    return kwargs


def build_model(name: str, **kwargs):
    """Build the registered network `name`; keyword arguments override the thesis defaults."""
    entry = get_entry(name)
    kwargs = {**entry.defaults, **kwargs}
    if "channels" in kwargs:
        kwargs = _with_channels(entry.builder, kwargs)
    accepted = inspect.signature(entry.builder).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values()):
        unknown = sorted(set(kwargs) - set(accepted))
        if unknown:
            raise ConfigError(f"model {name!r} does not accept {', '.join(unknown)}; "
                              f"it accepts {', '.join(accepted)}")
    return entry.builder(**kwargs)


def count_params(name: str) -> int:
    """Parameters at the defaults: the hand-derived figure when registered, else built once and cached."""
    entry = get_entry(name)
    if entry.params is not None:
        return entry.params
    if name not in _built_counts:
        import keras

        model = build_model(name)
        _built_counts[name] = int(model.count_params())
        del model
        keras.backend.clear_session()
    return _built_counts[name]


def describe_models() -> list[tuple[str, int, str]]:
    """(name, parameters at the defaults, "thesis table") for every registered network, in thesis order."""
    return [(name, count_params(name), f"{_REGISTRY[name].thesis} {_REGISTRY[name].table}")
            for name in list_models()]
