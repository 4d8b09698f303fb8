"""Every registered network: builds at a reduced size, runs forward and one SGD step; the registry lists them
with the counts docs/models.md derives by hand."""
import pytest

from mammoseg.models import build_model, describe_models, list_models

W16 = 1 / 16
# name -> (tiny keyword arguments, kind of target: "multiclass" | "binary" | "scores")
TINY = {
    "fcn32": (dict(input_shape=(32, 32, 3), num_classes=4, width=W16), "multiclass"),
    "fcn16": (dict(input_shape=(32, 32, 3), num_classes=4, width=W16), "multiclass"),
    "fcn8": (dict(input_shape=(32, 32, 3), num_classes=4, width=W16), "multiclass"),
    "unet": (dict(input_shape=(60, 60, 3), num_classes=4, base_filters=4, depth=2), "multiclass"),
    "dilation10_front": (dict(input_shape=(32, 32, 3), num_classes=4, width=W16), "multiclass"),
    "dilation10_context": (dict(input_shape=(32, 32, 3), num_classes=4, width=W16), "multiclass"),
    "dilation10_global": (dict(input_shape=(32, 32, 3), num_classes=4, width=W16), "multiclass"),
    "deeplabv3": (dict(input_shape=(64, 64, 3), num_classes=4, width=W16), "multiclass"),
    "gcn": (dict(input_shape=(64, 64, 3), num_classes=4, width=W16, k=5), "multiclass"),
    "discriminator": (dict(input_shape=(32, 32, 12), num_classes=4, width=W16), "multiclass"),
    "oulu_unet": (dict(input_shape=(32, 32, 1), base_filters=4, depth=2), "binary"),
    "resnet22_unet": (dict(input_shape=(64, 64, 1), width=1 / 4), "binary"),
    "resnet22_fpn": (dict(input_shape=(64, 64, 1), width=1 / 4), "binary"),
    "resnet34_unet": (dict(input_shape=(64, 64, 3), width=W16), "binary"),
    "resnet34_fpn": (dict(input_shape=(64, 64, 3), width=W16), "binary"),
    "residual_unet_2d": (dict(input_shape=(32, 32, 1), base_filters=2, depth=3), "binary"),
    "residual_unet_3d": (dict(input_shape=(16, 16, 16, 1), base_filters=2, depth=2), "binary"),
    "roi_unet": (dict(input_shape=(32, 32, 1), base_filters=4, depth=2), "binary"),
    "vgg16_classifier": (dict(input_shape=(32, 32, 1), width=W16), "scores"),
    "decomposition_classifier": (dict(input_shape=(32, 32, 2), width=W16), "scores"),
}

# Hand-derived parameter counts at the thesis defaults (docs/models.md shows every sum).
THESIS_COUNTS = {
    "fcn32": 134_313_805, "fcn16": 134_323_191, "fcn8": 134_329_249, "unet": 31_032_525,
    "dilation10_front": 134_313_805, "dilation10_context": 134_329_145, "dilation10_global": 134_329_145,
    "deeplabv3": 15_311_693, "gcn": 11_612_597, "discriminator": 2_366_722,
    "oulu_unet": 31_048_257, "resnet22_unet": 7_580_273, "resnet22_fpn": 5_143_633,
    "resnet34_unet": 27_622_113, "resnet34_fpn": 23_764_673,
    "residual_unet_2d": 81_869_953, "residual_unet_3d": 15_313_345,
    "roi_unet": 31_389_569, "vgg16_classifier": 23_635_395, "decomposition_classifier": 23_635_971,
}


def test_every_registered_model_has_a_tiny_test_and_a_hand_count():
    assert set(list_models()) == set(TINY) == set(THESIS_COUNTS)


def test_describe_models_reports_the_hand_counts_in_thesis_order():
    described = describe_models()
    assert [name for name, _, _ in described] == list_models()
    assert {name: params for name, params, _ in described} == THESIS_COUNTS
    theses = [table.split()[0] for _, _, table in described]
    assert theses == sorted(theses, key=["kth-seg", "lrh-seg", "oulu-mass", "pig-ct", "kth-cls"].index)


@pytest.mark.parametrize("name", list(TINY))
def test_tiny_forward_and_training_step(name, rng, train_step):
    kwargs, kind = TINY[name]
    model = build_model(name, **kwargs)
    spatial = kwargs["input_shape"][:-1]
    if kind == "scores":
        assert model.output_shape == (None, 3)
        out = train_step(model, rng, sigmoid=True, from_logits=False)
        assert ((out >= 0) & (out <= 1)).all()
    elif kind == "binary":
        assert model.output_shape == (None, *spatial, 1)
        train_step(model, rng, sigmoid=True)
    else:
        expected = (None, *spatial, 2 if name == "discriminator" else 4)
        if name == "unet":
            expected = (None, 20, 20, 4)
        assert model.output_shape == expected
        train_step(model, rng)
