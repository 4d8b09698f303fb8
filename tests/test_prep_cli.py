import json
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pytest

from data_prep.cli import main
from data_prep.crops import (MERGE_RECORD, build_crops, class_pixel_percentages, crop_seed, reproduce_crop,
                             store_elastic_params)
from mammoseg.data.augment import ElasticParams
from mammoseg.data.synthetic import make_kthseg_dataset
from mammoseg.errors import ConfigError, DataError
from mammoseg.io.annotations import list_cases
from mammoseg.io.raster import write_image
from mammoseg.io.store import read_crop_store
from mammoseg.labels import MAMMO13

SIZE = 48
EXCLUDED = {MAMMO13.id("background"), MAMMO13.id("mammary_gland")}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_kthseg_dataset(tmp_path_factory.mktemp("kthseg") / "data", n_cases=6, image_size=(96, 80), seed=0)


@pytest.fixture(scope="module")
def store_path(dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("stores") / "train48.h5"
    return build_crops(dataset, out, SIZE, crops_per_image=5, split="train", seed=3, elastic_p=0.5, progress=False)


def test_store_contents_follow_the_sampling_rule(dataset, store_path):
    store = read_crop_store(store_path)
    cases = list_cases(dataset, "train")
    assert len(store) == 5 * len(cases) and store.images.shape == (len(store), SIZE, SIZE)
    assert sorted(set(store.manifest["case"])) == cases and set(store.manifest["split"]) == {"train"}
    assert store.attrs["split"] == "train" and store.attrs["crop_size"] == SIZE
    assert 0 < store.manifest["elastic"].sum() < len(store)
    assert not set(store.manifest["chosen_id"]) & EXCLUDED
    plain = ~store.manifest["elastic"].to_numpy()
    # Without deformation the crop centre (index size // 2) is the sampled pixel, so it has the chosen label.
    np.testing.assert_array_equal(store.labels[plain, SIZE // 2, SIZE // 2], store.manifest["chosen_id"][plain])
    assert store.manifest["seed"].nunique() == len(store)


def test_every_crop_is_reproducible_from_its_manifest_row(dataset, store_path):
    store = read_crop_store(store_path)
    params = store_elastic_params(store)
    for i, row in store.manifest.iterrows():
        image, label = reproduce_crop(dataset, row, SIZE, MAMMO13, elastic=params)
        np.testing.assert_array_equal(image, store.images[i])
        np.testing.assert_array_equal(label, store.labels[i])


def test_same_seed_same_store_other_seed_differs(dataset, store_path, tmp_path):
    again = read_crop_store(build_crops(dataset, tmp_path / "again.h5", SIZE, 5, "train", seed=3, elastic_p=0.5,
                                        progress=False))
    first = read_crop_store(store_path)
    np.testing.assert_array_equal(again.images, first.images)
    assert again.manifest.equals(first.manifest)
    other = read_crop_store(build_crops(dataset, tmp_path / "other.h5", SIZE, 5, "train", seed=4, elastic_p=0.5,
                                        progress=False))
    assert not np.array_equal(other.images, first.images)


def test_crop_seed_depends_on_seed_case_and_index():
    seeds = {crop_seed(s, c, k) for s in (0, 1) for c in ("case_000", "case_001") for k in range(3)}
    assert len(seeds) == 12 and all(0 <= s < 2**63 for s in seeds)


def test_reproduce_detects_a_changed_label_map(dataset, store_path, tmp_path):
    store = read_crop_store(store_path, arrays=False)
    row = store.manifest[store.manifest["chosen_id"] >= 0].iloc[0]
    copy = tmp_path / "copy"
    shutil.copytree(dataset, copy)
    write_image(copy / row["case"] / "label.png", np.zeros((96, 80), np.uint8))
    with pytest.raises(DataError, match="label map changed"):
        reproduce_crop(copy, row, SIZE)


def test_missing_label_map_asks_for_merge(dataset, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(dataset, copy)
    case = list_cases(copy, "val")[0]
    (copy / case / "label.png").unlink()
    with pytest.raises(DataError, match="run `mammoseg-prep merge` first"):
        build_crops(copy, tmp_path / "val.h5", SIZE, 2, "val", progress=False)
    assert not list(tmp_path.glob("val.h5*"))


def test_bad_options_raise_config_error(dataset, tmp_path):
    with pytest.raises(ConfigError, match="test"):
        build_crops(dataset, tmp_path / "x.h5", SIZE, 2, "test", progress=False)
    with pytest.raises(ConfigError, match="probability"):
        build_crops(dataset, tmp_path / "x.h5", SIZE, 2, "train", elastic_p=1.5, progress=False)


def test_class_pixel_percentages_by_hand(store_path):
    labels = np.array([[[0, 0], [1, 12]], [[0, 0], [0, 12]]], np.uint8)  # 8 px: 5 background, 1 nipple, 2 gland
    table = class_pixel_percentages(labels, MAMMO13)
    assert list(table.index) == list(MAMMO13.priority)  # thesis Table 4.2 row order, background last
    assert table["background"] == pytest.approx(62.5) and table["nipple"] == pytest.approx(12.5)
    assert table["mammary_gland"] == pytest.approx(25.0) and table.drop(["background", "nipple",
                                                                         "mammary_gland"]).sum() == 0
    store = read_crop_store(store_path)
    streamed = class_pixel_percentages(store_path)
    counts = np.bincount(store.labels.ravel(), minlength=13)
    np.testing.assert_allclose(streamed[list(MAMMO13.names)].to_numpy(), counts / counts.sum() * 100)
    assert streamed.sum() == pytest.approx(100.0)
    with pytest.raises(DataError, match="unknown label ids \\[13\\]"):
        class_pixel_percentages(np.array([[13]], np.uint8), MAMMO13)


def test_cli_end_to_end(tmp_path, capsys):
    root, out = tmp_path / "kthseg", tmp_path / "val32.h5"
    assert main(["synth-kthseg", "--root", str(root), "--cases", "4", "--size", "72", "64", "--seed", "1"]) == 0
    assert json.loads((root / MERGE_RECORD).read_text())["sigma"] == 1.0
    assert main(["merge", "--root", str(root), "--sigma", "1.5", "-q"]) == 0
    assert json.loads((root / MERGE_RECORD).read_text())["sigma"] == 1.5
    assert main(["crops", "--root", str(root), "--out", str(out), "--size", "32", "--per-image", "3",
                 "--split", "val", "--seed", "2", "--elastic-p", "1", "--elastic-alpha", "50", "-q"]) == 0
    store = read_crop_store(out)
    n_val = len(list_cases(root, "val"))
    assert len(store) == 3 * n_val and store.manifest["elastic"].all()
    assert store.attrs["merge_sigma"] == 1.5 and store.attrs["elastic_alpha"] == 50.0
    assert store_elastic_params(store) == ElasticParams(50.0, store.attrs["elastic_sigma"])
    chunked = tmp_path / "val32_chunked.h5"
    assert main(["crops", "--root", str(root), "--out", str(chunked), "--size", "32", "--per-image", "3",
                 "--split", "val", "--seed", "2", "--elastic-p", "1", "--elastic-alpha", "50", "-q",
                 "--layout", "chunked"]) == 0
    with h5py.File(out) as contiguous_file, h5py.File(chunked) as chunked_file:
        assert contiguous_file["images"].chunks is None and chunked_file["images"].chunks is not None
        np.testing.assert_array_equal(contiguous_file["images"][:], chunked_file["images"][:])
    capsys.readouterr()
    assert main(["inspect", "--store", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "# Crops" in shown and f"  {3 * n_val}\n" in shown and "mammary gland" in shown
    assert shown.rstrip().splitlines()[-1].startswith("background")


def test_cli_error_is_one_line_and_exit_2(tmp_path, capsys):
    missing = tmp_path / "missing"
    code = main(["crops", "--root", str(missing), "--out", str(tmp_path / "x.h5"), "--size", "32",
                 "--per-image", "1", "--split", "train", "-q"])
    err = capsys.readouterr().err
    assert code == 2 and err == f"mammoseg-prep: error: {missing}: dataset root not found\n"
    assert main(["merge", "--root", str(missing), "-q"]) == 2


def test_python_dash_m_entry_point(tmp_path):
    done = subprocess.run([sys.executable, "-m", "data_prep", "inspect", "--store", str(tmp_path / "none.h5")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip() == f"mammoseg-prep: error: {tmp_path / 'none.h5'}: crop store not found"


@pytest.mark.parametrize("command", [[], ["merge"], ["crops"], ["synth-kthseg"], ["inspect"]])
def test_help_texts_render(command, capsys):
    with pytest.raises(SystemExit) as stop:
        main([*command, "--help"])
    assert stop.value.code == 0 and "usage: mammoseg-prep" in capsys.readouterr().out
