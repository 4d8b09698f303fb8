"""Model zoo: every network of the five theses, built by name.

    from mammoseg.models import build_model, list_models
    model = build_model("unet", input_shape=(572, 572, 3), num_classes=13)

Importing this package does not import Keras; the first `build_model` / `list_models` call does.
"""
from mammoseg.models.registry import build_model, count_params, describe_models, list_models, register

__all__ = ["build_model", "count_params", "describe_models", "list_models", "register"]
