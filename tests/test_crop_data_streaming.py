"""MammoCropData (kth-seg / lrh-seg crop stores): streamed stores, elastic_p as an argument, unchanged records."""
import numpy as np
import pytest

from data_prep.crops import build_crops
from mammoseg.data.synthetic import make_kthseg_dataset
from mammoseg.io.store import read_crop_store
from mammoseg.labels import MAMMO13
from mammoseg.recipes.lrh_seg import LrhCropData
from mammoseg.recipes.segmentation import HyperParams, MammoCropData, StageSpec

PER_IMAGE = {"train": 3, "val": 2}


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return make_kthseg_dataset(tmp_path_factory.mktemp("kthseg") / "data", n_cases=5, image_size=(96, 80), seed=0)


def test_store_is_streamed_and_class_weights_match_the_loaded_labels(root, tmp_path):
    data = MammoCropData(root, tmp_path / "crops", PER_IMAGE)
    store = data.store(32, "train")
    assert isinstance(store.labels, np.memmap) and data.store(32, "train") is store  # built once, left on disk
    assert store.attrs["elastic_p"] == 0.25 and data.store_path(32, "train").name == \
        "crops_32_train_3per_image_seed0.h5"
    loaded = read_crop_store(store.path).labels
    counts = np.bincount(loaded.ravel(), minlength=MAMMO13.num_classes)
    expected = 1.0 - counts / counts.sum()  # w = 1 - x/100 with x in percent
    spec = StageSpec(row="r", model="fcn32", input_size=16, crop_size=32, hparams=HyperParams(1e-3, 0.0, 1.0, 2))
    np.testing.assert_allclose(data.class_weights(spec), expected, rtol=1e-6)


def test_elastic_p_argument_replaces_the_lrh_subclass(root, tmp_path):
    kth = MammoCropData(root, tmp_path / "crops", PER_IMAGE)
    lrh = LrhCropData(root, tmp_path / "crops", PER_IMAGE)
    assert "elastic_p" not in kth.describe()  # kth-seg stage records written before the argument still match
    assert lrh.elastic_p == 0.0 and lrh.describe() == {**kth.describe(), "elastic_p": 0.0}
    assert lrh.store_path(32, "val").name == "crops_32_val_2per_image_seed0_noelastic.h5"
    assert MammoCropData(root, tmp_path, PER_IMAGE, elastic_p=0.5).store_path(32, "val").name == \
        "crops_32_val_2per_image_seed0_elastic0.5.h5"
    store = lrh.store(32, "val")
    assert store.attrs["elastic_p"] == 0.0 and not store.manifest["elastic"].any()


def test_both_layouts_hold_the_same_crops(root, tmp_path):
    stores = [read_crop_store(build_crops(root, tmp_path / f"{layout}.h5", 24, 2, "val", progress=False,
                                          layout=layout)) for layout in ("contiguous", "chunked")]
    np.testing.assert_array_equal(stores[0].images, stores[1].images)
    np.testing.assert_array_equal(stores[0].labels, stores[1].labels)
    assert stores[0].manifest.equals(stores[1].manifest)
