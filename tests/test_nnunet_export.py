"""`mammoseg-prep export-nnunet`: the exported folders must pass the checks of nnU-Net v2's
verify_dataset_integrity (re-stated below from its documentation, since nnU-Net itself is not installed)."""
import json

import cv2
import numpy as np
import pandas as pd
import pytest
import tifffile
from skimage import io as skio

from data_prep.cli import main
from data_prep.nnunet import cityscapes_export_labels, dataset_folder_name, export_nnunet
from mammoseg.errors import ConfigError, DataError
from mammoseg.io.dicom import write_dicom
from mammoseg.io.raster import write_image, write_mask
from mammoseg.labels import MAMMO13

REQUIRED_KEYS = {"channel_names", "labels", "numTraining", "file_ending"}


def read_like_nnunet(path, ending):
    """What nnU-Net's NaturalImage2DIO (skimage) or Tiff3DIO (tifffile) reads."""
    return tifffile.imread(path) if ending == ".tif" else skio.imread(path)


def verify_like_nnunet(folder):
    """Required keys; background 0; consecutive labels (ignore last); numTraining = cases in imagesTr; every case
    has one `_0000` file per channel group and a label of the same shape holding only declared values."""
    dataset = json.loads((folder / "dataset.json").read_text())
    assert REQUIRED_KEYS <= dataset.keys()
    labels, ending = dataset["labels"], dataset["file_ending"]
    assert labels["background"] == 0
    expected = sorted(v for k, v in labels.items() if k != "ignore")
    expected += [labels["ignore"]] if "ignore" in labels else []
    assert expected == list(range(len(expected)))
    cases = {}
    for part in ("Tr", "Ts"):
        images = sorted((folder / f"images{part}").glob(f"*{ending}"))
        assert all(p.name.endswith(f"_0000{ending}") for p in images)
        for image_path in images:
            case = image_path.name[: -len(f"_0000{ending}")]
            label_path = folder / f"labels{part}" / f"{case}{ending}"
            image, label = read_like_nnunet(image_path, ending), read_like_nnunet(label_path, ending)
            assert image.shape[: label.ndim] == label.shape
            assert set(np.unique(label).tolist()) <= set(expected)
            cases[case] = (part, image, label)
    assert sum(1 for part, *_ in cases.values() if part == "Tr") == dataset["numTraining"]
    return dataset, cases


def read_splits(folder):
    splits = json.loads((folder / "splits_final.json").read_text())
    assert isinstance(splits, list) and all(set(fold) == {"train", "val"} for fold in splits)
    return splits


# ------------------------------------------------------------------------------------------------- kth-seg
@pytest.fixture
def kthseg_root(tmp_path, rng):
    root = tmp_path / "kthseg"
    splits = {"c00": "train", "c01": "train", "c02": "val", "c03": "test"}
    for case in splits:
        write_image(root / case / "image.png", (rng.random((12, 10)) * 4095).astype(np.uint16))
        write_image(root / case / "label.png", rng.integers(0, MAMMO13.num_classes, (12, 10)).astype(np.uint8))
    (root / "splits.csv").write_text("case,split\n" + "".join(f"{c},{s}\n" for c, s in splits.items()))
    MAMMO13.save_json(root / "labels.json")  # the dataset declares its label set
    return root


def test_kth_seg_export_is_valid_nnunet_raw_data(kthseg_root, tmp_path, capsys):
    out = tmp_path / "nnUNet_raw"
    assert main(["export-nnunet", "--dataset", "kth-seg", "--root", str(kthseg_root), "--out", str(out),
                 "--id", "501", "-q"]) == 0
    folder = out / "Dataset501_KthSeg"
    assert "splits_final.json" in capsys.readouterr().out
    dataset, cases = verify_like_nnunet(folder)
    assert dataset["channel_names"] == {"0": "mammogram"} and dataset["file_ending"] == ".png"
    assert dataset["numTraining"] == 3 and dataset["overwrite_image_reader_writer"] == "NaturalImage2DIO"
    assert dataset["labels"] == {name: i for i, name in enumerate(MAMMO13.names)}
    assert {c: part for c, (part, *_) in cases.items()} == {"c00": "Tr", "c01": "Tr", "c02": "Tr", "c03": "Ts"}
    for case, (_, image, label) in cases.items():
        np.testing.assert_array_equal(image, cv2.imread(str(kthseg_root / case / "image.png"), cv2.IMREAD_UNCHANGED))
        np.testing.assert_array_equal(label, cv2.imread(str(kthseg_root / case / "label.png"), cv2.IMREAD_UNCHANGED))
        assert image.dtype == np.uint16
    assert read_splits(folder) == [{"train": ["c00", "c01"], "val": ["c02"]}]
    manifest = pd.read_csv(folder / "mammoseg-export.csv")
    assert list(manifest["case"]) == ["c00", "c01", "c02", "c03"] and manifest["image_source"].str.contains("c0").all()
    assert json.loads((folder / "mammoseg-export.json").read_text())["kind"] == "kth-seg"


def test_export_refuses_bad_requests(kthseg_root, tmp_path, capsys):
    out = tmp_path / "raw"
    export_nnunet("kth-seg", kthseg_root, out, 7, "Small", progress_bar=False)
    assert (out / "Dataset007_Small" / "dataset.json").is_file()
    assert main(["export-nnunet", "--dataset", "kth-seg", "--root", str(kthseg_root), "--out", str(out), "--id", "7",
                 "--name", "Small", "-q"]) == 2
    assert "already exists; pass --overwrite" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="1..999"):
        dataset_folder_name(1000, "X")
    with pytest.raises(ConfigError, match="letters"):
        dataset_folder_name(5, "bad name")
    with pytest.raises(ConfigError, match="classification"):
        export_nnunet("kth-cls", kthseg_root, out, 8)
    (kthseg_root / "c01" / "label.png").unlink()
    with pytest.raises(DataError, match="run `mammoseg-prep merge` first"):
        export_nnunet("kth-seg", kthseg_root, out, 9, progress_bar=False)
    assert sorted(p.name for p in out.iterdir()) == ["Dataset007_Small"]  # no half-written Dataset009


# ------------------------------------------------------------------------------------------------- oulu-mass
def test_mass_export_binary_labels_without_val_has_no_splits_file(tmp_path, rng):
    root = tmp_path / "mass"
    for case in ("a", "b"):
        write_image(root / "images" / f"{case}.png", (rng.random((16, 12)) * 4095).astype(np.uint16))
    mask = np.zeros((16, 12), bool)
    mask[4:8, 2:6] = True
    write_mask(root / "masks" / "a.png", mask)  # stored as 0/255: exported as 0/1
    (root / "meta.csv").write_text("id,split,has_mass\na,train,1\nb,test,0\n")
    folder = export_nnunet("oulu-mass", root, tmp_path / "raw", 502, progress_bar=False)
    dataset, cases = verify_like_nnunet(folder)
    assert dataset["labels"] == {"background": 0, "mass": 1} and dataset["numTraining"] == 1
    np.testing.assert_array_equal(cases["a"][2], mask.astype(np.uint8))
    assert not cases["b"][2].any() and not (folder / "splits_final.json").exists()


# ------------------------------------------------------------------------------------------------- Cityscapes
def test_cityscapes_export_shifts_train_ids_and_moves_ignore_last(tmp_path, rng):
    root = tmp_path / "cityscapes"
    label_ids = np.array([[7, 7, 26, 0], [33, 24, 1, 7]], np.uint8)  # road, car, unlabeled, bicycle, person, ego
    for split in ("train", "val"):
        name = f"aachen_000000_00001{int(split == 'val')}"
        image_dir, label_dir = root / "leftImg8bit" / split / "aachen", root / "gtFine" / split / "aachen"
        image_dir.mkdir(parents=True)
        label_dir.mkdir(parents=True)
        cv2.imwrite(str(image_dir / f"{name}_leftImg8bit.png"), rng.integers(0, 256, (2, 4, 3), dtype=np.uint8))
        cv2.imwrite(str(label_dir / f"{name}_gtFine_labelIds.png"), label_ids)
    folder = export_nnunet("cityscapes", root, tmp_path / "raw", 503, progress_bar=False)
    dataset, cases = verify_like_nnunet(folder)
    assert dataset["channel_names"] == {"0": "R", "1": "G", "2": "B"}
    assert dataset["labels"]["road"] == 1 and dataset["labels"]["bicycle"] == 19 and dataset["labels"]["ignore"] == 20
    _, image, label = cases["aachen_000000_000010"]
    assert image.shape == (2, 4, 3)  # one RGB `_0000` file: NaturalImage2DIO makes it three channels
    # train ids road 0, car 13, ignore 255, bicycle 18, person 11, ignore -> +1 with ignore = 20
    np.testing.assert_array_equal(label, [[1, 1, 14, 20], [19, 12, 20, 1]])
    assert read_splits(folder) == [{"train": ["aachen_000000_000010"], "val": ["aachen_000000_000011"]}]
    np.testing.assert_array_equal(cityscapes_export_labels(np.array([0, 18, 255], np.uint8)), [1, 19, 20])


# ------------------------------------------------------------------------------------------------- pig-ct
def test_pig_ct_export_writes_3d_tiffs_with_spacing(tmp_path, rng):
    root = tmp_path / "pigct"
    (root / "npy1").mkdir(parents=True)
    hu = np.rint(rng.uniform(-1000, 1000, (6, 8, 7))).astype(np.float32)
    np.save(root / "npy1" / "volume.npy", hu)
    np.save(root / "npy1" / "label.npy", (hu > 0).astype(np.uint8))
    stored = rng.integers(0, 2000, (4, 8, 8)).astype(np.uint16)
    for z, pixels in enumerate(stored):  # a DICOM series: 2.5 mm slices of 0.7 mm pixels, HU = stored - 1024
        write_dicom(root / "dcm1" / "ct" / f"s{z}.dcm", pixels, modality="CT", bits_stored=12,
                    RescaleSlope=1, RescaleIntercept=-1024, ImagePositionPatient=[0, 0, 2.5 * z],
                    ImageOrientationPatient=[1, 0, 0, 0, 1, 0], PixelSpacing=[0.7, 0.7])
    np.save(root / "dcm1" / "label.npy", np.ones((4, 8, 8), np.uint8))
    (root / "splits.csv").write_text("case,split\nnpy1,train\ndcm1,val\n")
    folder = export_nnunet("pig-ct", root, tmp_path / "raw", 504, progress_bar=False)
    dataset, cases = verify_like_nnunet(folder)
    assert dataset["file_ending"] == ".tif" and dataset["overwrite_image_reader_writer"] == "Tiff3DIO"
    assert dataset["channel_names"] == {"0": "CT"} and dataset["labels"] == {"background": 0, "edible": 1}
    np.testing.assert_array_equal(cases["npy1"][1], hu.astype(np.int16))
    np.testing.assert_array_equal(cases["dcm1"][1], stored.astype(np.int16) - 1024)
    for part in ("imagesTr", "labelsTr"):  # Tiff3DIO reads <case>.json next to <case>_0000.tif and <case>.tif
        assert json.loads((folder / part / "dcm1.json").read_text()) == {"spacing": [2.5, 0.7, 0.7]}
        assert json.loads((folder / part / "npy1.json").read_text()) == {"spacing": [1.0, 1.0, 1.0]}
    assert read_splits(folder) == [{"train": ["npy1"], "val": ["dcm1"]}]
