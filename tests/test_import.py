"""`mammoseg-prep import` (own images + masks -> nnU-Net v2 raw layout) and label sets as data in every
data_prep command. The written layouts are checked by a small validator written here from nnU-Net's
dataset-format documentation, independent of the package's writer."""
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from skimage import io as skio

from data_prep.cli import main
from mammoseg.data.importer import case_name, import_folders, parse_class_spec
from mammoseg.errors import ConfigError, DataError
from mammoseg.evaluate.predict import label_set_for
from mammoseg.io.dicom import read_dicom, write_dicom
from mammoseg.io.raster import read_image, write_image, write_mask

FIXTURE = Path(__file__).parent / "fixtures" / "cbis_ddsm"
TISSUE = {"background": 64, "adipose": 128, "fibroglandular": 192, "pectoral": 255}  # mask value per class
TISSUE_LABELS = {"labels": {"background": 0, "adipose": 1, "fibroglandular": 2, "pectoral": 3}}
NNUNET_CASE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


def validate_nnunet_raw(folder: Path) -> dict:
    """The nnU-Net v2 raw-layout rules: dataset.json keys, `<case>_0000<ending>` images with a `<case><ending>`
    label of the same shape in labelsTr, label values within the declared ids, numTraining = training cases,
    splits_final.json naming training cases only. Returns {case: (part, image, label)}."""
    dataset = json.loads((folder / "dataset.json").read_text())
    assert {"channel_names", "labels", "numTraining", "file_ending"} <= dataset.keys()
    labels, ending = dataset["labels"], dataset["file_ending"]
    assert labels["background"] == 0
    declared = set(labels.values())
    assert sorted(declared) == list(range(len(declared)))  # consecutive ids (ignore, if any, included)
    cases = {}
    for part in ("Tr", "Ts"):
        for image_path in sorted((folder / f"images{part}").glob("*")):
            assert image_path.name.endswith(f"_0000{ending}"), image_path.name
            case = image_path.name[: -len(f"_0000{ending}")]
            assert NNUNET_CASE.match(case), case
            label_path = folder / f"labels{part}" / f"{case}{ending}"
            assert part == "Ts" or label_path.is_file(), label_path
            image = skio.imread(image_path)
            label = skio.imread(label_path) if label_path.is_file() else None
            if label is not None:
                assert label.shape == image.shape[:2] and label.dtype == np.uint8
                assert set(np.unique(label).tolist()) <= declared
            cases[case] = (part, image, label)
    for part in ("Tr", "Ts"):  # no label without its image
        for label_path in (folder / f"labels{part}").glob("*"):
            assert label_path.name[: -len(ending)] in cases
    training = {c for c, (part, *_) in cases.items() if part == "Tr"}
    assert len(training) == dataset["numTraining"]
    if (folder / "splits_final.json").is_file():
        for fold in json.loads((folder / "splits_final.json").read_text()):
            assert set(fold) == {"train", "val"} and set(fold["train"]) | set(fold["val"]) <= training
            assert not set(fold["train"]) & set(fold["val"])
    return dataset, cases


def tissue_case(rng, shape=(24, 20)):
    """A 16-bit image and a value-coded tissue mask (bands of the four TISSUE values) with its expected ids."""
    ids = np.zeros(shape, np.uint8)
    ids[:, shape[1] // 4:] = 1
    ids[shape[0] // 3:, shape[1] // 2:] = 2
    ids[: shape[0] // 4, : shape[1] // 3] = 3
    ids[rng.integers(0, shape[0], 5), rng.integers(0, shape[1], 5)] = rng.integers(0, 4, 5)
    values = np.array(list(TISSUE.values()), np.uint8)[ids]
    return (rng.random(shape) * 4095).astype(np.uint16), values, ids


@pytest.fixture
def folders(tmp_path, rng):
    """images/<stem>.png + masks/<stem>.png for four cases; returns (images dir, masks dir, stem -> expected ids)."""
    images, masks = tmp_path / "images", tmp_path / "masks"
    expected = {}
    for stem in ("p1", "p2", "p3", "p4"):
        image, mask, ids = tissue_case(rng)
        write_image(images / f"{stem}.png", image)
        write_image(masks / f"{stem}.png", mask)
        expected[stem] = (image, ids)
    return images, masks, expected


def run(argv, capsys):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# ------------------------------------------------------------------------------------------------- images + masks
def test_import_value_coded_masks_from_the_command_line(folders, tmp_path, capsys):
    images, masks, expected = folders
    out = tmp_path / "Dataset501_Tissue"
    splits = tmp_path / "splits.csv"
    splits.write_text("case,split\np1,train\np2,train\np3,val\np4,test\n")
    code, stdout, _ = run(["import", "--images", str(images), "--masks", str(masks), "--classes",
                           "background=64,adipose=128,fibroglandular=192,pectoral=255", "--splits", str(splits),
                           "--out", str(out), "-q"], capsys)
    assert code == 0 and "train 2, val 1, test 1" in stdout
    dataset, cases = validate_nnunet_raw(out)
    assert dataset["labels"] == TISSUE_LABELS["labels"] and dataset["channel_names"] == {"0": "mammogram"}
    assert dataset["numTraining"] == 3 and dataset["file_ending"] == ".png"
    assert {c: part for c, (part, *_) in cases.items()} == {"p1": "Tr", "p2": "Tr", "p3": "Tr", "p4": "Ts"}
    for stem, (image, ids) in expected.items():
        np.testing.assert_array_equal(cases[stem][1], image)  # 16-bit kept
        np.testing.assert_array_equal(cases[stem][2], ids)
    assert json.loads((out / "splits_final.json").read_text()) == [{"train": ["p1", "p2"], "val": ["p3"]}]
    code, stdout, _ = run(["inspect", "--root", str(out), "--dataset", "nnunet", "-q"], capsys)  # its own labels
    rows = {line.rsplit(None, 3)[0].strip(): line.split()[-3:] for line in stdout.splitlines()[2:]}
    assert code == 0 and rows["# Images"] == ["2", "1", "1"]
    for name, i in TISSUE_LABELS["labels"].items():
        shares = [np.mean(np.concatenate([expected[s][1].ravel() for s in stems]) == i) * 100
                  for stems in (("p1", "p2"), ("p3",), ("p4",))]
        assert rows[name] == [f"{v:.2f}%" for v in shares], name
    manifest = pd.read_csv(out / "mammoseg-import.csv")
    assert list(manifest["case"]) == ["p1", "p2", "p3", "p4"] and (manifest["dtype"] == "uint16").all()
    # the same table from a JSON file gives the same dataset
    table = tmp_path / "tissue.json"
    table.write_text(json.dumps(TISSUE))
    again = tmp_path / "again"
    assert main(["import", "--images", str(images), "--masks", str(masks), "--classes", str(table), "--splits",
                 str(splits), "--out", str(again), "-q"]) == 0
    for stem in expected:
        part = "Ts" if stem == "p4" else "Tr"
        assert (out / f"labels{part}" / f"{stem}.png").read_bytes() == \
            (again / f"labels{part}" / f"{stem}.png").read_bytes()
    # the output is not replaced without --overwrite
    code, _, err = run(["import", "--images", str(images), "--masks", str(masks), "--classes", str(table),
                        "--out", str(out), "-q"], capsys)
    assert code == 2 and "already exists; pass --overwrite" in err


def test_import_mask_suffix_and_one_folder(tmp_path, rng):
    folder = tmp_path / "data"
    image, mask, ids = tissue_case(rng)
    write_image(folder / "scan 1.png", image.astype(np.uint8))
    write_image(folder / "scan 1_mask.png", mask)
    (folder / "notes.txt").write_text("not an image")  # other files are ignored
    import_folders(folder, folder, tmp_path / "out", TISSUE, mask_suffix="_mask", progress=False)
    _, cases = validate_nnunet_raw(tmp_path / "out")
    assert list(cases) == ["scan_1"]  # sanitised: nnU-Net identifiers have no spaces
    np.testing.assert_array_equal(cases["scan_1"][2], ids)
    assert cases["scan_1"][1].dtype == np.uint8
    with pytest.raises(ConfigError, match="--mask-suffix"):
        import_folders(folder, folder, tmp_path / "out2", TISSUE, progress=False)


def test_unpaired_files_and_unknown_values_are_one_clear_error(folders, tmp_path, capsys):
    images, masks, _ = folders
    write_image(images / "lonely.png", np.zeros((24, 20), np.uint8))
    args = ["import", "--images", str(images), "--masks", str(masks), "--classes",
            "background=64,adipose=128,fibroglandular=192,pectoral=255", "-q"]
    code, _, err = run(args + ["--out", str(tmp_path / "a")], capsys)
    assert code == 2 and "1 image(s) without a mask" in err and "lonely" in err and "--skip-unlabelled" in err
    code, stdout, _ = run(args + ["--out", str(tmp_path / "b"), "--skip-unlabelled"], capsys)
    assert code == 0 and "skipped 1 image(s) without a mask: lonely.png" in stdout
    assert sorted(validate_nnunet_raw(tmp_path / "b")[1]) == ["p1", "p2", "p3", "p4"]
    write_image(masks / "orphan.png", np.zeros((24, 20), np.uint8))
    code, _, err = run(args + ["--out", str(tmp_path / "c"), "--skip-unlabelled"], capsys)
    assert code == 2 and "1 mask(s) without an image" in err and "orphan.png" in err
    (masks / "orphan.png").unlink()
    bad = read_image(masks / "p2.png").copy()
    bad[0, :3] = 7
    write_image(masks / "p2.png", bad)
    code, _, err = run(args + ["--out", str(tmp_path / "d"), "--skip-unlabelled"], capsys)
    assert code == 2 and str(masks / "p2.png") in err and "mask values [7]" in err and "{7: 3}" in err
    assert not (tmp_path / "d").exists() and not list(tmp_path.glob(".tmp-*"))  # nothing half-written
    code, _, err = run(args[:-1] + ["--out", str(tmp_path / "e")], capsys)  # progress bar on, same error
    assert code == 2


def test_case_name_collisions_and_class_tables(tmp_path, rng):
    assert case_name("Mass-Training_P_00001 (copy).v2") == "Mass-Training_P_00001_copy_v2"
    image, mask, _ = tissue_case(rng)
    for stem in ("a b", "a_b"):
        write_image(tmp_path / "i" / f"{stem}.png", image)
        write_image(tmp_path / "m" / f"{stem}.png", mask)
    with pytest.raises(DataError, match="collide.*'a_b'"):
        import_folders(tmp_path / "i", tmp_path / "m", tmp_path / "out", TISSUE, progress=False)
    # an "ignore" entry listed last is nnU-Net's ignore label: the id after the last class
    ignore = parse_class_spec("background=0,mass=255,ignore=128")
    write_image(tmp_path / "m2" / "x.png", np.array([[0, 255], [128, 0]], np.uint8))
    write_image(tmp_path / "i2" / "x.png", np.zeros((2, 2), np.uint8))
    import_folders(tmp_path / "i2", tmp_path / "m2", tmp_path / "ign", ignore, progress=False)
    dataset, cases = validate_nnunet_raw(tmp_path / "ign")
    assert dataset["labels"] == {"background": 0, "mass": 1, "ignore": 2}
    np.testing.assert_array_equal(cases["x"][2], [[0, 1], [2, 0]])
    with pytest.raises(ConfigError, match="must be named 'background'"):
        parse_class_spec("mass=255,background=0")
    with pytest.raises(ConfigError, match="share one mask value"):
        parse_class_spec("background=0,a=1,b=1")
    assert parse_class_spec("background,adipose") == {"background": None, "adipose": None}


def test_import_dicom_images_as_16_bit_png(tmp_path, rng, capsys):
    stored = (rng.random((24, 20)) * 4000).astype(np.uint16)
    write_dicom(tmp_path / "images" / "d1.dcm", stored, photometric="MONOCHROME1", bits_stored=12)
    _, mask, ids = tissue_case(rng)
    write_image(tmp_path / "masks" / "d1.png", mask)
    code, stdout, _ = run(["import", "--images", str(tmp_path / "images"), "--masks", str(tmp_path / "masks"),
                           "--classes", "background=64,adipose=128,fibroglandular=192,pectoral=255",
                           "--out", str(tmp_path / "out"), "-q"], capsys)
    assert code == 0 and "1 DICOM image(s) decoded as displayed and written as 16-bit PNG" in stdout
    _, cases = validate_nnunet_raw(tmp_path / "out")
    image = cases["d1"][1]
    assert image.dtype == np.uint16
    np.testing.assert_array_equal(image, read_dicom(tmp_path / "images" / "d1.dcm").pixels)
    np.testing.assert_array_equal(image, 4095 - stored.astype(np.int64))  # MONOCHROME1 shown inverted
    np.testing.assert_array_equal(cases["d1"][2], ids)


def test_import_real_cbis_ddsm_fixture(tmp_path, capsys):
    """The real CBIS-DDSM masses: {0, 255} masks, meta.csv as the split table, the Calc image has no mask."""
    out = tmp_path / "Dataset600_CBIS"
    code, stdout, _ = run(["import", "--images", str(FIXTURE / "images"), "--masks", str(FIXTURE / "masks"),
                           "--classes", "background=0,mass=255", "--splits", str(FIXTURE / "meta.csv"),
                           "--skip-unlabelled", "--out", str(out), "-q"], capsys)
    assert code == 0 and "skipped 1 image(s) without a mask: Calc-Training_P_00377_LEFT_CC.png" in stdout
    dataset, cases = validate_nnunet_raw(out)
    assert dataset["labels"] == {"background": 0, "mass": 1} and dataset["numTraining"] == 3
    meta = pd.read_csv(FIXTURE / "meta.csv").set_index("id")
    for case, (part, image, label) in cases.items():
        assert part == ("Ts" if meta.loc[case, "split"] == "test" else "Tr")
        np.testing.assert_array_equal(image, read_image(FIXTURE / "images" / f"{case}.png"))
        np.testing.assert_array_equal(label, read_image(FIXTURE / "masks" / f"{case}.png") // 255)
        assert label.any()
    assert json.loads((out / "splits_final.json").read_text()) == [
        {"train": ["Mass-Training_P_00001_LEFT_CC", "Mass-Training_P_00001_LEFT_MLO"],
         "val": ["Mass-Training_P_00092_LEFT_CC"]}]


# ------------------------------------------------------------------------------------------------- per-class masks
def write_class_mask_root(root: Path, rng, overlap: bool = True) -> dict:
    """kth-seg layout, tissue classes as binary masks; adipose and pectoral overlap in the top-left corner."""
    splits = {"c0": "train", "c1": "val", "c2": "test"}
    for case in splits:
        write_image(root / case / "image.png", (rng.random((16, 12)) * 255).astype(np.uint8))
        adipose = np.zeros((16, 12), bool)
        adipose[:8] = True
        pectoral = np.zeros((16, 12), bool)
        pectoral[:4, :4 if overlap else 0] = True
        fibro = np.zeros((16, 12), bool)
        fibro[10:, 6:] = True
        for name, mask in (("adipose", adipose), ("pectoral", pectoral), ("fibroglandular", fibro)):
            write_mask(root / case / "masks" / f"{name}.png", mask)
    (root / "splits.csv").write_text("case,split\n" + "".join(f"{c},{s}\n" for c, s in splits.items()))
    return splits


def test_import_per_class_masks_with_priority(tmp_path, rng, capsys):
    root = tmp_path / "tissue"
    write_class_mask_root(root, rng)
    names = "background,adipose,fibroglandular,pectoral"
    base = ["import", "--class-masks", str(root), "--classes", names, "-q"]
    code, _, err = run(base + ["--out", str(tmp_path / "none")], capsys)
    assert code == 2 and "'adipose' and 'pectoral' overlap on 16 pixels" in err and "--priority" in err
    assert main(base + ["--out", str(tmp_path / "pect"), "--priority", "pectoral,fibroglandular,adipose"]) == 0
    assert main(base + ["--out", str(tmp_path / "adip"), "--priority", "adipose,pectoral,fibroglandular"]) == 0
    _, on_top = validate_nnunet_raw(tmp_path / "pect")
    _, below = validate_nnunet_raw(tmp_path / "adip")
    assert {c: part for c, (part, *_) in on_top.items()} == {"c0": "Tr", "c1": "Tr", "c2": "Ts"}
    label = on_top["c0"][2]
    assert (label[:4, :4] == 3).all() and (label[4:8] == 1).all() and (label[:4, 4:] == 1).all()
    assert (label[10:, 6:] == 2).all() and label[8:10].max() == 0
    assert (below["c0"][2][:4, :4] == 1).all()  # adipose ranked above pectoral wins the overlap
    # the root's own labels.json is the default label set (its priority too)
    (root / "labels.json").write_text(json.dumps({**TISSUE_LABELS, "priority": [
        "pectoral", "fibroglandular", "adipose", "background"]}))
    assert main(["import", "--class-masks", str(root), "--out", str(tmp_path / "own"), "-q"]) == 0
    _, own = validate_nnunet_raw(tmp_path / "own")
    np.testing.assert_array_equal(own["c0"][2], label)
    # a listed case without masks/ is an error unless skipped
    shutil.rmtree(root / "c1" / "masks")
    code, _, err = run(["import", "--class-masks", str(root), "--out", str(tmp_path / "y"), "-q"], capsys)
    assert code == 2 and "1 case(s) without a masks/ folder: c1" in err
    code, stdout, _ = run(["import", "--class-masks", str(root), "--out", str(tmp_path / "y"), "-q",
                           "--skip-unlabelled"], capsys)
    assert code == 0 and "skipped 1 image(s)" in stdout and sorted(validate_nnunet_raw(tmp_path / "y")[1]) == [
        "c0", "c2"]
    # a mask file that names no class of the set
    write_mask(root / "c1" / "masks" / "nipple.png", np.zeros((16, 12), bool))
    code, _, err = run(["import", "--class-masks", str(root), "--out", str(tmp_path / "x"), "-q"], capsys)
    assert code == 2 and "nipple.png" in err and "not a class" in err


# ------------------------------------------------------------------------------------------------- label sets
def write_tissue_kthseg(root: Path, rng, declare: bool) -> None:
    """A hand-made 4-class merged kth-seg dataset (label.png ids 0..3), optionally declaring labels.json."""
    splits = {"a": "train", "b": "train", "c": "val", "d": "test"}
    for case in splits:
        _, _, ids = tissue_case(rng, (32, 32))
        write_image(root / case / "image.png", (rng.random((32, 32)) * 4095).astype(np.uint16))
        write_image(root / case / "label.png", ids)
    (root / "splits.csv").write_text("case,split\n" + "".join(f"{c},{s}\n" for c, s in splits.items()))
    if declare:
        (root / "labels.json").write_text(json.dumps(TISSUE_LABELS))


def test_undeclared_label_maps_are_never_read_as_mammo13(tmp_path, rng, capsys):
    """A hand-made 4-class label.png used to be read as MAMMO13 by crops, inspect and export-nnunet."""
    root = tmp_path / "tissue"
    write_tissue_kthseg(root, rng, declare=False)
    commands = {"crops": ["crops", "--root", str(root), "--out", str(tmp_path / "c.h5"), "--size", "16",
                          "--per-image", "2", "--split", "train", "-q"],
                "inspect": ["inspect", "--root", str(root), "-q"],
                "export-nnunet": ["export-nnunet", "--dataset", "kth-seg", "--root", str(root), "--out",
                                  str(tmp_path / "raw"), "--id", "510", "-q"]}
    for argv in commands.values():
        code, _, err = run(argv, capsys)
        assert code == 2 and "declares no label set" in err and "labels.json" in err, argv[0]
    assert not (tmp_path / "c.h5").exists() and not (tmp_path / "raw").exists()
    # declared: every command reads the 4 classes, and export-nnunet writes exactly them
    (root / "labels.json").write_text(json.dumps(TISSUE_LABELS))
    assert main(commands["export-nnunet"]) == 0
    dataset, cases = validate_nnunet_raw(tmp_path / "raw" / "Dataset510_KthSeg")
    assert dataset["labels"] == TISSUE_LABELS["labels"] and dataset["numTraining"] == 3
    for case, (_, _, label) in cases.items():
        np.testing.assert_array_equal(label, read_image(root / case / "label.png"))
    code, stdout, _ = run(commands["inspect"], capsys)
    assert code == 0 and "fibroglandular" in stdout and "nipple" not in stdout
    # an id outside the declared set is an error naming the file, never a reinterpretation
    bad = read_image(root / "b" / "label.png").copy()
    bad[0, 0] = 5
    write_image(root / "b" / "label.png", bad)
    for argv in commands.values():
        code, _, err = run(argv[:-1] + ["--overwrite"] * (argv[0] == "export-nnunet") + ["-q"], capsys)
        assert code == 2 and str(root / "b" / "label.png") in err and "unknown label ids [5]" in err, argv[0]


def test_crop_store_records_its_label_set_and_inspect_uses_it(tmp_path, rng, capsys):
    root = tmp_path / "tissue"
    write_tissue_kthseg(root, rng, declare=False)
    labels = tmp_path / "tissue4.json"
    labels.write_text(json.dumps({**TISSUE_LABELS, "name": "tissue4"}))
    store = tmp_path / "c.h5"
    assert main(["crops", "--root", str(root), "--labels", str(labels), "--out", str(store), "--size", "16",
                 "--per-image", "3", "--split", "train", "--elastic-p", "0", "-q"]) == 0
    from mammoseg.io.store import read_crop_store

    crops = read_crop_store(store)
    assert json.loads(crops.attrs["label_set_json"])["labels"] == TISSUE_LABELS["labels"]
    code, stdout, _ = run(["inspect", "--store", str(store)], capsys)
    assert code == 0 and "label set: tissue4" in stdout
    rows = {line.split()[0]: line.split()[-1] for line in stdout.splitlines()[2:]}
    counts = np.bincount(crops.labels.ravel(), minlength=4) / crops.labels.size * 100
    for name, i in TISSUE_LABELS["labels"].items():
        assert rows[name] == f"{counts[i]:.2f}%"
    code, _, err = run(["inspect", "--store", str(store), "--labels", str(labels)], capsys)
    assert code == 2 and "records its label set" in err


def test_merge_takes_the_label_set_and_declares_it(tmp_path, rng, capsys):
    root = tmp_path / "tissue"
    write_class_mask_root(root, rng, overlap=False)
    code, _, err = run(["merge", "--root", str(root), "-q"], capsys)  # default mammo13: file names checked
    assert code == 2 and "adipose" in err and "not a class of mammo13" in err
    labels = tmp_path / "tissue4.json"
    labels.write_text(json.dumps({**TISSUE_LABELS, "name": "tissue4", "priority": [
        "pectoral", "fibroglandular", "adipose", "background"]}))
    assert main(["merge", "--root", str(root), "--labels", str(labels), "--sigma", "0", "-q"]) == 0
    assert json.loads((root / "labels.json").read_text())["labels"] == TISSUE_LABELS["labels"]
    assert main(["inspect", "--root", str(root), "-q"]) == 0  # reads the declared set


def test_round_trip_merge_export_equals_import(tmp_path, rng):
    """Per-class masks -> merge -> export-nnunet and per-class masks -> import write the same label maps; the
    imported dataset re-imported from its own images/labels folders is unchanged."""
    root = tmp_path / "tissue"
    write_class_mask_root(root, rng)
    labels = tmp_path / "tissue4.json"
    labels.write_text(json.dumps({**TISSUE_LABELS, "priority": ["pectoral", "fibroglandular", "adipose",
                                                                "background"]}))
    assert main(["merge", "--root", str(root), "--labels", str(labels), "--sigma", "0", "-q"]) == 0
    assert main(["export-nnunet", "--dataset", "kth-seg", "--root", str(root), "--out", str(tmp_path / "raw"),
                 "--id", "520", "--name", "Tissue", "-q"]) == 0
    assert main(["import", "--class-masks", str(root), "--labels", str(labels), "--out", str(tmp_path / "imp"),
                 "-q"]) == 0
    exported_json, exported = validate_nnunet_raw(tmp_path / "raw" / "Dataset520_Tissue")
    imported_json, imported = validate_nnunet_raw(tmp_path / "imp")
    assert exported_json["labels"] == imported_json["labels"] == TISSUE_LABELS["labels"]
    assert exported_json["numTraining"] == imported_json["numTraining"] == 2
    assert sorted(exported) == sorted(imported)
    for case in exported:
        assert exported[case][0] == imported[case][0]
        np.testing.assert_array_equal(exported[case][1], imported[case][1])
        np.testing.assert_array_equal(exported[case][2], imported[case][2])
    # nnU-Net layout -> import again (labels are ids: the table maps id to itself)
    again_images, again_masks = tmp_path / "again_i", tmp_path / "again_m"
    for case in imported:
        part = imported[case][0]
        again_images.mkdir(exist_ok=True)
        again_masks.mkdir(exist_ok=True)
        shutil.copy(tmp_path / "imp" / f"images{part}" / f"{case}_0000.png", again_images / f"{case}.png")
        shutil.copy(tmp_path / "imp" / f"labels{part}" / f"{case}.png", again_masks / f"{case}.png")
    import_folders(again_images, again_masks, tmp_path / "again", {n: i for n, i in TISSUE_LABELS["labels"].items()},
                   progress=False)
    _, again = validate_nnunet_raw(tmp_path / "again")
    for case in imported:
        np.testing.assert_array_equal(again[case][2], imported[case][2])


def test_predict_takes_a_label_set_file(tmp_path):
    labels = tmp_path / "tissue4.json"
    labels.write_text(json.dumps({**TISSUE_LABELS, "name": "tissue4"}))
    label_set = label_set_for(4, str(labels))
    assert label_set.names == ("background", "adipose", "fibroglandular", "pectoral")
    with pytest.raises(ConfigError, match="has 4 classes, the model outputs 13"):
        label_set_for(13, str(labels))
    with pytest.raises(ConfigError, match="unknown label set 'tissue4'"):
        label_set_for(4, "tissue4")
