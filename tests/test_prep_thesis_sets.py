"""End-to-end checks of the per-thesis `mammoseg-prep` builders on tiny hand-made datasets."""
import json

import numpy as np
import pandas as pd
import pytest

from data_prep.classification import read_class_store, stratified_split
from data_prep.cli import main
from data_prep.crops import build_crops
from data_prep.slices import read_blocks, read_slice_store, read_slices
from mammoseg.data.preprocess import KthClsParams, extract_block, kth_cls_preprocess, plane_stack
from mammoseg.io.dicom import write_dicom
from mammoseg.io.inbreast import read_mass_dataset
from mammoseg.io.raster import read_image, write_image, write_mask
from mammoseg.labels import DDSM3, MAMMO13

SMALL_CLS = ["--work-size", "64", "--size", "16", "-q"]


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("mammoseg-prep: error: ") and err.count("\n") == 1 and "Traceback" not in err
    return err


def breast_image(shape, rng, breast_cols: int) -> np.ndarray:
    """Bright 12-bit tissue over the left `breast_cols` columns (chest wall left), dark noisy background."""
    image = 80 + 20 * rng.random(shape)
    image[:, :breast_cols] += 2500 + 300 * rng.random((shape[0], breast_cols))
    return image.astype(np.uint16)


# ------------------------------------------------------------------------------------------------- kth-cls
@pytest.fixture
def ddsm_root(tmp_path, rng):
    root = tmp_path / "ddsm"
    rows = []
    for i, name in enumerate(["normal", "normal", "benign", "malignant", "benign", "cancer"]):
        image = breast_image((90, 60), rng, 40)
        write_image(root / "images" / f"d{i}.png", image)
        if name != "normal":
            mask = np.zeros(image.shape, bool)
            mask[40:50, 10:20] = True
            if i == 4:  # tissue is uniform in rows, so the 60-px square sits mid-image (rows 15..74)
                mask[:] = False
                mask[0:5, 10:20] = True
            write_mask(root / "rois" / f"d{i}.png", mask)
        rows.append({"id": f"d{i}", "class": name, "split": "test" if i in (1, 5) else "train"})
    pd.DataFrame(rows).to_csv(root / "labels.csv", index=False)
    return root


def test_kth_cls_builds_the_classification_store(ddsm_root, tmp_path, capsys):
    out = tmp_path / "cls.h5"
    assert main(["kth-cls", "--root", str(ddsm_root), "--out", str(out), *SMALL_CLS]) == 0
    assert "dropped 1" in capsys.readouterr().out
    store = read_class_store(out)
    assert list(store.manifest["id"]) == ["d0", "d1", "d2", "d3", "d5"]  # d4: ROI cut away by the square crop
    assert json.loads(store.attrs["dropped"])[0]["id"] == "d4"
    assert list(store.manifest["class_name"]) == ["normal", "normal", "benign", "cancer", "cancer"]  # malignant
    assert list(store.manifest["class_id"]) == [DDSM3.id(n) for n in store.manifest["class_name"]]
    assert list(store.manifest["split"]) == ["train", "test", "train", "train", "test"]
    assert store.images.shape == (5, 16, 16) and store.images.dtype == np.float32
    assert store.images.min() >= 0 and store.images.max() <= 1
    assert set(np.unique(store.masks)) == {0, 1} and not store.masks[:2].any()  # normal images: empty masks
    assert store.masks[2:].any(axis=(1, 2)).all()
    assert (store.manifest["side"] == 60).all() and (store.manifest["top"] == 15).all()
    config = json.loads(store.attrs["config"])
    assert config["clahe"] == {"clip_limit": 0.02, "tiles": [8, 8], "bins": 256} and config["work_size"] == 64
    params = KthClsParams(work_size=64, out_size=16)
    for row, image in zip(store.manifest.itertuples(), store.images):
        source = read_image(row.source)
        mask = read_image(row.mask_source) > 0 if row.mask_source else None
        np.testing.assert_array_equal(image, kth_cls_preprocess(source, mask, params).image)


def test_stratified_split_by_hand():
    ids = [f"n{i}" for i in range(10)] + [f"b{i}" for i in range(5)] + [f"c{i}" for i in range(5)]
    classes = ["normal"] * 10 + ["benign"] * 5 + ["cancer"] * 5
    split = stratified_split(ids, classes, 0.2, seed=1)
    tests = {c: sum(1 for i, k in zip(ids, classes) if k == c and split[i] == "test") for c in set(classes)}
    assert tests == {"normal": 2, "benign": 1, "cancer": 1}
    assert split == stratified_split(ids, classes, 0.2, seed=1)
    assert any(stratified_split(ids, classes, 0.2, seed=s) != split for s in range(2, 6))


def test_kth_cls_splits_80_20_without_a_split_column(ddsm_root, tmp_path):
    labels = pd.read_csv(ddsm_root / "labels.csv").drop(columns="split")
    labels.to_csv(ddsm_root / "labels.csv", index=False)
    out = tmp_path / "cls.h5"
    assert main(["kth-cls", "--root", str(ddsm_root), "--out", str(out), "--test-fraction", "0.5", *SMALL_CLS]) == 0
    store = read_class_store(out, arrays=False)
    assert store.images is None and store.attrs["split_source"].startswith("stratified")
    counts = store.manifest.groupby(["class_name", "split"]).size().to_dict()
    assert counts == {("cancer", "test"): 1, ("cancer", "train"): 1, ("normal", "test"): 1, ("normal", "train"): 1,
                      ("benign", "train"): 1}  # one benign left after the drop: round(0.5) = 0 to test


def test_kth_cls_errors_name_the_file(ddsm_root, tmp_path, capsys):
    out = tmp_path / "cls.h5"
    labels = (ddsm_root / "labels.csv").read_text().replace("benign", "benignish", 1)
    (ddsm_root / "labels.csv").write_text(labels)
    assert main(["kth-cls", "--root", str(ddsm_root), "--out", str(out), *SMALL_CLS]) == 2
    assert f"{ddsm_root / 'labels.csv'}: line 4: class 'benignish'" in one_line_error(capsys)
    (ddsm_root / "labels.csv").write_text(labels.replace("benignish", "benign"))
    write_mask(ddsm_root / "rois" / "d0.png", np.ones((90, 60), bool))  # a normal image with an ROI
    assert main(["kth-cls", "--root", str(ddsm_root), "--out", str(out), *SMALL_CLS]) == 2
    assert "d0.png: image 'd0' is labelled normal" in one_line_error(capsys)
    assert not list(tmp_path.glob("*cls.h5*"))  # nothing half-written


# ------------------------------------------------------------------------------------------------- oulu-mass
@pytest.fixture
def mass_root(tmp_path, rng):
    root = tmp_path / "inbreast"
    rows = []
    for i in range(3):
        image = breast_image((80, 60), rng, 30)
        mask = np.zeros(image.shape, bool)
        if i < 2:
            mask[30:40, 10:20] = True
        if i == 2:  # a right breast stored as a MONOCHROME2 DICOM
            write_dicom(root / "images" / f"m{i}.dcm", image[:, ::-1].copy(), bits_stored=12)
        else:
            write_image(root / "images" / f"m{i}.png", image)
            write_mask(root / "masks" / f"m{i}.png", mask)
        rows.append({"id": f"m{i}", "split": ["train", "val", "test"][i], "has_mass": int(i < 2), "patient": f"p{i}"})
    pd.DataFrame(rows).to_csv(root / "meta.csv", index=False)
    return root


def test_oulu_mass_set_is_an_oulu_mass_dataset(mass_root, tmp_path):
    out = tmp_path / "mass32"
    assert main(["oulu-mass", "--root", str(mass_root), "--out", str(out), "--size", "32", "-q"]) == 0
    records = read_mass_dataset(out)
    assert [(r.id, r.split, r.has_mass, r.extra["patient"]) for r in records] == [
        ("m0", "train", True, "p0"), ("m1", "val", True, "p1"), ("m2", "test", False, "p2")]
    manifest = pd.read_csv(out / "manifest.csv")
    for record, row in zip(records, manifest.itertuples()):
        image, mask = read_image(record.image_path), read_image(record.mask_path) > 0
        assert image.shape == (32, 32) and image.dtype == np.uint16
        # breast = 30 columns (+ a 2 % margin = 1 px; Otsu may take one more): the box is the breast, full height
        width = row.crop_right - row.crop_left
        assert (row.crop_top, row.crop_bottom) == (0, 80) and 31 <= width <= 32
        assert row.content_height == 32 and row.content_width == round(width * 32 / 80)
        assert mask.sum() == row.mass_pixels and (row.mass_pixels > 0) == record.has_mass
    assert list(manifest["chest_wall"]) == ["left", "left", "right"]
    right, row = read_image(out / "images" / "m2.png"), manifest.iloc[2]
    assert row.pad_left == 32 - row.content_width  # padded on the left, away from the chest wall on the right
    assert (right[:, :row.pad_left] == 0).all() and (right[:, -12:] > 1000).all()
    assert json.loads((out / "prep-config.json").read_text())["size"] == 32


def test_oulu_mass_output_is_atomic(mass_root, tmp_path, capsys):
    out = tmp_path / "mass32"
    assert main(["oulu-mass", "--root", str(mass_root), "--out", str(out), "--size", "32", "-q"]) == 0
    assert main(["oulu-mass", "--root", str(mass_root), "--out", str(out), "--size", "32", "-q"]) == 2
    assert "already exists; pass --overwrite" in one_line_error(capsys)
    write_image(mass_root / "masks" / "m1.png", np.full((80, 60), 7, np.uint8) * np.arange(60, dtype=np.uint8))
    assert main(["oulu-mass", "--root", str(mass_root), "--out", str(out), "--size", "16", "--overwrite", "-q"]) == 2
    assert "m1.png: mask is not binary" in one_line_error(capsys)
    assert read_image(out / "images" / "m0.png").shape == (32, 32)  # the previous output is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inbreast", "mass32"]  # no temp folders left


# ------------------------------------------------------------------------------------------------- pig-ct
@pytest.fixture
def ct_root(tmp_path, rng):
    root = tmp_path / "pigct"
    for scan, length in (("p1", 20), ("p2", 18), ("p3", 10)):
        hu = np.rint(rng.uniform(-1000, 1000, (length, 16, 12))).astype(np.float32)
        (root / scan).mkdir(parents=True)
        np.save(root / scan / "volume.npy", hu)
        np.save(root / scan / "label.npy", (hu > 200).astype(np.uint8))
    (root / "splits.csv").write_text("case,split\np1,train\np2,train\np3,test\n")
    return root


def test_pig_ct_slice_store_planes_and_blocks(ct_root, tmp_path):
    out = tmp_path / "pig_train.h5"
    assert main(["pig-ct", "--root", str(ct_root), "--out", str(out), "--split", "train", "--pad-multiple", "8",
                 "--blocks-per-scan", "3", "--block-size", "8", "--seed", "5", "-q"]) == 0
    store = read_slice_store(out)
    shapes = {(r.scan, r.plane): (r.n_slices, r.padded_height, r.padded_width) for r in store.manifest.itertuples()}
    assert shapes == {("p1", "transverse"): (20, 16, 16), ("p1", "sagittal"): (12, 16, 24),
                      ("p1", "coronal"): (16, 16, 24), ("p2", "transverse"): (18, 16, 16),
                      ("p2", "sagittal"): (12, 16, 24), ("p2", "coronal"): (16, 16, 24)}
    assert store.attrs["pad_hu"] == -1000.0 and json.loads(store.attrs["planes"]) == ["transverse", "sagittal",
                                                                                       "coronal"]
    hu = np.load(ct_root / "p1" / "volume.npy")
    labels = np.load(ct_root / "p1" / "label.npy")
    for plane in ("transverse", "sagittal", "coronal"):
        images, masks = read_slices(out, plane, "p1", padded=False)
        assert images.dtype == np.int16
        np.testing.assert_array_equal(images, plane_stack(hu, plane))
        np.testing.assert_array_equal(masks, plane_stack(labels, plane))
    padded, padded_masks = read_slices(out, "sagittal", "p1", 4)
    assert padded.shape == (16, 24) and (padded[:, 20:] == -1000).all() and not padded_masks[:, 20:].any()
    assert len(store.blocks) == 6 and store.blocks["seed"].nunique() == 6
    blocks, block_labels = read_blocks(out)
    volumes = {s: (np.load(ct_root / s / "volume.npy"), np.load(ct_root / s / "label.npy")) for s in ("p1", "p2")}
    for row, block, block_label in zip(store.blocks.itertuples(), blocks, block_labels):
        origin = (row.z, row.y, row.x)
        np.testing.assert_array_equal(block, extract_block(volumes[row.scan][0], origin, 8, -1000))
        np.testing.assert_array_equal(block_label, extract_block(volumes[row.scan][1], origin, 8, 0))
        assert row.z + 8 <= volumes[row.scan][0].shape[0] and row.y + 8 <= 16 and row.x + 8 <= 12


def test_pig_ct_raw_hu_zero_padding_and_one_plane(ct_root, tmp_path):
    out = tmp_path / "pig_sagittal.h5"
    assert main(["pig-ct", "--root", str(ct_root), "--out", str(out), "--split", "test", "--planes", "sagittal",
                 "--pad-multiple", "8", "--pad-hu", "0", "-q"]) == 0
    store = read_slice_store(out)
    assert list(store.manifest["plane"]) == ["sagittal"] and store.blocks is None and store.attrs["pad_hu"] == 0.0
    images, _ = read_slices(out, "sagittal", "p3", [0, 11])
    assert images.shape == (2, 16, 16) and (images[:, :, 10:] == 0).all()  # length 10 padded to 16 with 0 HU


def test_pig_ct_errors(ct_root, tmp_path, capsys):
    out = tmp_path / "pig.h5"
    np.save(ct_root / "p2" / "label.npy", np.zeros((18, 16, 11), np.uint8))
    assert main(["pig-ct", "--root", str(ct_root), "--out", str(out), "--split", "train", "-q"]) == 2
    assert f"{ct_root / 'p2' / 'label.npy'}: label volume shape (18, 16, 11)" in one_line_error(capsys)
    assert not list(tmp_path.glob("*pig.h5*"))
    (ct_root / "p1" / "ct").mkdir()
    assert main(["pig-ct", "--root", str(ct_root), "--out", str(out), "--split", "train", "-q"]) == 2
    assert f"{ct_root / 'p1'}: scan 'p1' has both volume.npy and ct" in one_line_error(capsys)


# ------------------------------------------------------------------------------------------------- inspect
@pytest.fixture
def kthseg_root(tmp_path, rng):
    """Three merged cases with hand-made 4x4 label maps (MAMMO13 ids: nipple 1, tumor 4, mammary gland 12)."""
    root = tmp_path / "kthseg"
    maps = {"a": [[0, 0, 0, 0], [0, 0, 0, 0], [1, 1, 1, 1], [12, 12, 12, 12]],  # train
            "b": [[12] * 4] * 3 + [[12, 12, 12, 4]],  # val
            "c": [[0] * 4] * 4}  # test
    for case, label in maps.items():
        write_image(root / case / "image.png", (rng.random((4, 4)) * 4000).astype(np.uint16))
        write_image(root / case / "label.png", np.array(label, np.uint8))
    (root / "splits.csv").write_text("case,split\na,train\nb,val\nc,test\n")
    MAMMO13.save_json(root / "labels.json")  # the dataset declares its label set
    return root


def test_inspect_dataset_in_the_layout_of_tables_4_1_to_4_3(kthseg_root, capsys):
    assert main(["inspect", "--root", str(kthseg_root), "-q"]) == 0
    lines = capsys.readouterr().out.rstrip().splitlines()
    assert lines[1].split() == ["class", "train", "val", "test"]
    rows = {line.rsplit(None, 3)[0].strip(): line.split()[-3:] for line in lines[2:]}
    assert rows["# Images"] == ["1", "1", "1"]
    assert rows["nipple"] == ["25.00%", "0.00%", "0.00%"]
    assert rows["tumor"] == ["0.00%", "6.25%", "0.00%"]
    assert rows["mammary gland"] == ["25.00%", "93.75%", "0.00%"]
    assert rows["background"] == ["50.00%", "0.00%", "100.00%"] and lines[-1].startswith("background")


def test_inspect_several_stores_one_column_each(kthseg_root, tmp_path, capsys):
    train = build_crops(kthseg_root, tmp_path / "t.h5", 2, 3, "train", seed=1, elastic_p=0, progress=False)
    val = build_crops(kthseg_root, tmp_path / "v.h5", 2, 2, "val", seed=1, elastic_p=0, progress=False)
    assert main(["inspect", "--store", str(train), "--store", str(val)]) == 0
    lines = capsys.readouterr().out.rstrip().splitlines()
    assert lines[2].split() == ["class", "2", "train", "2", "val"]
    assert lines[3].split() == ["#", "Crops", "3", "2"]
    assert main(["inspect"]) == 2
    assert "either --store" in one_line_error(capsys)


# ------------------------------------------------------------------------------------------------- synth-* chains
SYNTH_CHAINS = {  # generator module: (synth command, builder command, extra builder arguments, output)
    "mammoseg.data.synthetic_ddsm": (["synth-ddsm", "--per-class", "2", "--size", "96", "80"],
                                     ["kth-cls", *SMALL_CLS], "cls.h5"),
    "mammoseg.data.synthetic_mass": (["synth-mass", "--cases", "4", "--size", "96", "64"],
                                     ["oulu-mass", "--size", "32", "-q"], "mass32"),
    "mammoseg.data.synthetic_ct": (["synth-ct", "--scans", "3", "--shape", "16", "32", "32"],
                                   ["pig-ct", "--split", "train", "--pad-multiple", "16", "-q"], "ct.h5"),
}


@pytest.mark.parametrize("module", sorted(SYNTH_CHAINS))
def test_synthetic_datasets_feed_the_builders(module, tmp_path, capsys):
    pytest.importorskip(module)
    synth, build, output = SYNTH_CHAINS[module]
    root, out = tmp_path / "data", tmp_path / output
    assert main([*synth, "--root", str(root)]) == 0
    assert main([build[0], "--root", str(root), "--out", str(out), *build[1:]]) == 0, capsys.readouterr().err
    assert out.exists()


@pytest.mark.parametrize("command", ["kth-cls", "oulu-mass", "pig-ct", "export-nnunet", "synth-mass", "synth-ddsm",
                                     "synth-ct", "synth-cityscapes"])
def test_new_help_texts_render(command, capsys):
    with pytest.raises(SystemExit) as stop:
        main([command, "--help"])
    assert stop.value.code == 0 and f"usage: mammoseg-prep {command}" in capsys.readouterr().out
