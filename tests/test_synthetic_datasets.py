"""Synthetic stand-ins of Cityscapes, INbreast-like masses, pig CT and DDSM: layout, readers, determinism and
crude learnability (labels follow local appearance and context, not a single intensity threshold)."""
import csv

import numpy as np
import pydicom
import pytest
from scipy import ndimage
from skimage.morphology import convex_hull_image

from mammoseg.data.phantom import assign_group_splits, reproducible_uid, stream_rng
from mammoseg.data.synthetic_cityscapes import ID, make_cityscapes_like
from mammoseg.data.synthetic_ct import make_ct_dataset
from mammoseg.data.synthetic_ddsm import _van_der_corput, make_ddsm_like
from mammoseg.data.synthetic_mass import make_mass_dataset
from mammoseg.errors import ConfigError
from mammoseg.io.annotations import read_splits
from mammoseg.io.cityscapes import list_cityscapes_pairs, read_cityscapes_pair
from mammoseg.io.dicom import read_dicom, write_dicom
from mammoseg.io.inbreast import load_record, read_mass_dataset
from mammoseg.io.raster import read_image, read_mask
from mammoseg.io.volume import read_ct_volume, read_label_volume
from mammoseg.labels import CITYSCAPES19, DDSM3

EIGHT_CONNECTED = np.ones((3, 3), bool)


# ---------------------------------------------------------------------------------------------- helpers
def _files(root):
    """Relative path -> bytes of every file under root (temp files of atomic writes would show up here too)."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _best_threshold_balanced_accuracy(values, labels):
    """Best (TPR + TNR) / 2 of any rule "positive iff value > t" or "value < t"."""
    order = np.argsort(values, kind="stable")
    v, y = np.asarray(values)[order], np.asarray(labels, bool)[order]
    positives, negatives = y.sum(), (~y).sum()
    tpr_above = (positives - np.cumsum(y)) / positives  # threshold just after position i
    fpr_above = (negatives - np.cumsum(~y)) / negatives
    distinct = np.r_[v[1:] != v[:-1], True]  # a threshold can only fall between different values
    ba = 0.5 * (tpr_above + 1 - fpr_above)[distinct]
    return float(max(ba.max(), (1 - ba).max(), 0.5))


def _binned_balanced_accuracy(train_features, train_labels, test_features, test_labels, edges):
    """A crude learned classifier: per feature bin, say "positive" where positives are relatively more frequent
    (class-balanced majority vote fit on train), scored by balanced accuracy on test."""
    def index(features):
        return tuple(np.digitize(f, e) for f, e in zip(features, edges))

    shape = tuple(len(e) + 1 for e in edges)
    pos, neg = np.zeros(shape), np.zeros(shape)
    np.add.at(pos, index([f[train_labels] for f in train_features]), 1)
    np.add.at(neg, index([f[~train_labels] for f in train_features]), 1)
    rule = pos / train_labels.sum() > neg / (~train_labels).sum()
    predicted = rule[index(test_features)]
    return 0.5 * (predicted[test_labels].mean() + (~predicted[~test_labels]).mean())


def test_threshold_helper_matches_a_hand_computed_case():
    # values 1..4 with labels 0,1,0,1: "v > 1.5" gives TPR 1, TNR 1/2; "v > 3.5" gives TPR 1/2, TNR 1 -> 0.75
    assert _best_threshold_balanced_accuracy(np.array([1, 2, 3, 4]), np.array([0, 1, 0, 1])) == 0.75
    assert _best_threshold_balanced_accuracy(np.array([5, 1, 4, 2]), np.array([0, 1, 0, 1])) == 1.0  # inverted
    assert _best_threshold_balanced_accuracy(np.array([3, 3, 3, 3]), np.array([0, 1, 0, 1])) == 0.5


# ---------------------------------------------------------------------------------------------- shared pieces
def test_van_der_corput_by_hand():
    # k in binary, mirrored behind the point: 1 -> .1b, 2 -> .01b, 3 -> .11b, 6 = 110b -> .011b
    assert [_van_der_corput(k) for k in (0, 1, 2, 3, 6)] == [0.0, 0.5, 0.25, 0.75, 0.375]


def test_group_splits_use_largest_remainder_counts():
    splits = assign_group_splits(8, {"train": 0.6, "val": 0.15, "test": 0.25}, np.random.default_rng(0))
    # 8 x (0.6, 0.15, 0.25) = (4.8, 1.2, 2.0): floors 4, 1, 2 and the one left over goes to train (remainder .8)
    assert [splits.count(s) for s in ("train", "val", "test")] == [5, 1, 2]
    assert stream_rng(3, 1, 2).integers(1 << 30) == stream_rng(3, 1, 2).integers(1 << 30)
    assert stream_rng(3, 1, 2).integers(1 << 30) != stream_rng(3, 2, 1).integers(1 << 30)


def test_reproducible_rle_dicom_keeps_its_uid_and_bytes(tmp_path):
    pixels = (np.arange(64 * 48).reshape(64, 48) % 4096).astype(np.uint16)
    uid = reproducible_uid("test", 1)
    assert uid == reproducible_uid("test", 1) != reproducible_uid("test", 2)
    a = write_dicom(tmp_path / "a.dcm", pixels, uid=uid, rle=True, bits_stored=12)
    b = write_dicom(tmp_path / "b.dcm", pixels, uid=uid, rle=True, bits_stored=12)
    assert a.read_bytes() == b.read_bytes()
    ds = pydicom.dcmread(a)
    assert ds.SOPInstanceUID == ds.file_meta.MediaStorageSOPInstanceUID == uid
    assert ds.file_meta.TransferSyntaxUID == pydicom.uid.RLELossless
    assert np.array_equal(read_dicom(a).pixels, pixels)


# ---------------------------------------------------------------------------------------------- Cityscapes
@pytest.fixture(scope="module")
def cityscapes(tmp_path_factory):
    return make_cityscapes_like(tmp_path_factory.mktemp("cityscapes"))


@pytest.fixture(scope="module")
def cityscapes_pairs(cityscapes):
    return {split: [read_cityscapes_pair(p) for p in list_cityscapes_pairs(cityscapes, split)]
            for split in ("train", "val")}


def test_cityscapes_layout_and_reader(cityscapes, cityscapes_pairs):
    assert [len(cityscapes_pairs[s]) for s in ("train", "val")] == [8, 4]
    pairs = list_cityscapes_pairs(cityscapes, "train")
    assert pairs[0].image_path.relative_to(cityscapes).as_posix().startswith("leftImg8bit/train/")
    assert all(p.name.endswith("_000019") and p.name.startswith(p.city) for p in pairs)
    raw_ids = set()
    for p in pairs + list_cityscapes_pairs(cityscapes, "val"):
        raw = read_image(p.label_path)
        assert raw.dtype == np.uint8 and raw.shape == (128, 256)
        raw_ids |= set(np.unique(raw).tolist())
    assert raw_ids <= set(ID.values())
    assert {0, 1, 4} <= raw_ids  # void ids that must come back as ignore
    for image, train_ids in cityscapes_pairs["train"]:
        assert image.dtype == np.uint8 and image.shape == (128, 256, 3)
        assert set(np.unique(train_ids).tolist()) <= set(range(19)) | {CITYSCAPES19.ignore_id}


def test_cityscapes_every_train_class_occurs_in_train_and_in_val(cityscapes_pairs):
    for split, pairs in cityscapes_pairs.items():
        seen = set().union(*(np.unique(label).tolist() for _, label in pairs))
        assert seen - {255} == set(range(19)), (split, sorted(set(range(19)) - seen))


def test_cityscapes_void_ids_map_to_ignore(cityscapes):
    pair = list_cityscapes_pairs(cityscapes, "train")[0]
    raw, (_, train_ids) = read_image(pair.label_path), read_cityscapes_pair(pair)
    assert np.all(train_ids[raw == ID["ego_vehicle"]] == 255) and np.any(raw == ID["ego_vehicle"])
    assert np.all(train_ids[raw == ID["road"]] == CITYSCAPES19.names.index("road"))


def test_cityscapes_is_deterministic_and_cleans_stale_files(cityscapes, tmp_path):
    again = make_cityscapes_like(tmp_path / "again")
    assert _files(again) == _files(cityscapes)
    small = make_cityscapes_like(tmp_path / "again", n_per_split={"train": 2})  # same root, fewer images
    left = _files(small)
    assert len([k for k in left if k.startswith("leftImg8bit/train/")]) == 2
    assert all(left[k] == _files(cityscapes)[k] for k in left if "/train/" in k)  # case i never depends on n
    other = make_cityscapes_like(tmp_path / "other", n_per_split={"train": 1}, seed=1)
    first = "leftImg8bit/train/synthburg/synthburg_000000_000019_leftImg8bit.png"
    assert _files(other)[first] != _files(cityscapes)[first]


def test_cityscapes_colour_alone_does_not_segment(cityscapes_pairs):
    """Colour-bin majority vote fit on train, scored on val: poor alone, better with the row (context)."""
    C = 19

    def fit_and_score(with_row):
        def features(image):
            q = image.astype(np.int64) // 32  # 8 levels per channel
            f = (q[..., 0] * 8 + q[..., 1]) * 8 + q[..., 2]
            return f * 8 + np.arange(image.shape[0])[:, None] * 8 // image.shape[0] if with_row else f

        votes = np.zeros((512 * 8, C), np.int64)
        for image, label in cityscapes_pairs["train"]:
            keep = label < C
            np.add.at(votes, (features(image)[keep], label[keep]), 1)
        confusion = np.zeros((C, C), np.int64)
        for image, label in cityscapes_pairs["val"]:
            keep = label < C
            predicted = votes.argmax(1)[features(image)[keep]]
            confusion += np.bincount(label[keep].astype(np.int64) * C + predicted, minlength=C * C).reshape(C, C)
        hits = np.diag(confusion)
        return hits.sum() / confusion.sum(), np.mean(hits / np.maximum(confusion.sum(0) + confusion.sum(1) - hits, 1))

    colour_accuracy, colour_miou = fit_and_score(False)
    context_accuracy, context_miou = fit_and_score(True)
    # measured 0.45 / 0.13 (colour) and 0.61 / 0.21 (colour + row) for the default set
    assert colour_accuracy < 0.6 and colour_miou < 0.25
    assert context_accuracy > colour_accuracy + 0.08 and context_miou > colour_miou + 0.04


# ---------------------------------------------------------------------------------------------- INbreast-like
@pytest.fixture(scope="module")
def mass_dcm(tmp_path_factory):
    return make_mass_dataset(tmp_path_factory.mktemp("mass_dcm"))


@pytest.fixture(scope="module")
def mass_cases(mass_dcm):
    return {r.id: (r, *load_record(r)) for r in read_mass_dataset(mass_dcm)}


def test_mass_layout_meta_and_reader(mass_dcm, mass_cases):
    with open(mass_dcm / "meta.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["id", "split", "has_mass", "patient_id", "laterality", "view"]
    assert len(mass_cases) == 16
    positives = sum(r.has_mass for r, _, _ in mass_cases.values())
    assert positives == 10  # 8 patients x 0.6 = 4.8 -> 5 patients with a mass, 2 views each
    without_file = [r for r, _, _ in mass_cases.values() if r.mask_path is None]
    zero_file = [r for r, _, m in mass_cases.values() if r.mask_path is not None and not m.any()]
    assert without_file and zero_file and all(not r.has_mass for r in without_file + zero_file)
    for record, image, mask in mass_cases.values():
        assert image.dtype == np.uint16 and image.shape == (256, 192) and image.max() <= 4095
        assert mask.any() == record.has_mass
    patients = {}
    for row in rows:
        patients.setdefault(row["patient_id"], set()).add(row["split"])
    assert all(len(s) == 1 for s in patients.values())  # a patient never straddles splits
    assert len(patients) >= 5  # enough groups for the thesis' 5-fold GroupKFold
    assert {r["split"] for r in rows} == {"train", "val", "test"} and {r["laterality"] for r in rows} == {"L", "R"}


def test_mass_dicoms_vary_like_real_archives_and_decode_to_the_png_pixels(mass_dcm, mass_cases, tmp_path):
    headers = {p.stem: pydicom.dcmread(p) for p in (mass_dcm / "images").glob("*.dcm")}
    assert {str(h.PhotometricInterpretation) for h in headers.values()} == {"MONOCHROME1", "MONOCHROME2"}
    assert pydicom.uid.RLELossless in {h.file_meta.TransferSyntaxUID for h in headers.values()}
    png = make_mass_dataset(tmp_path / "png", fmt="png")
    for record in read_mass_dataset(png):
        image, mask = load_record(record)
        _, dcm_image, dcm_mask = mass_cases[record.id]
        assert np.array_equal(image, dcm_image) and np.array_equal(mask, dcm_mask), record.id
        dicom = read_dicom(mass_dcm / "images" / f"{record.id}.dcm")
        assert dicom.laterality == record.extra["laterality"] and dicom.view == record.extra["view"]
        assert dicom.chest_wall_side == {"L": "left", "R": "right"}[record.extra["laterality"]]


def test_mass_is_deterministic_and_a_rerun_in_another_format_stays_readable(mass_dcm, tmp_path):
    assert _files(make_mass_dataset(tmp_path / "again")) == _files(mass_dcm)
    root = make_mass_dataset(tmp_path / "switch", n_cases=4)
    make_mass_dataset(root, n_cases=4, fmt="png", mass_fraction=0.0)  # different masses and format, same root
    records = read_mass_dataset(root)
    assert all(r.image_path.suffix == ".png" and not load_record(r)[1].any() for r in records)


def test_mass_pixels_are_not_separable_by_intensity_but_stand_out_locally(mass_cases):
    values, labels = [], []
    for record, image, mask in mass_cases.values():
        image = image.astype(np.float32)
        tissue = ndimage.binary_erosion(image > np.percentile(image, 40), iterations=3)
        values.append(image[tissue])
        labels.append(mask[tissue])
        components, n = ndimage.label(mask, EIGHT_CONNECTED)
        for k in range(1, n + 1):
            blob = components == k
            ring = ndimage.binary_dilation(blob, iterations=4) & ~ndimage.binary_dilation(blob, iterations=1)
            assert image[blob].mean() > image[ring].mean() + 100, record.id  # brighter than its surroundings
    # measured 0.75 for the default set: dense tissue, muscle and nodes are as bright as masses
    assert _best_threshold_balanced_accuracy(np.concatenate(values), np.concatenate(labels)) < 0.85


def test_mass_rejects_bad_arguments(tmp_path):
    with pytest.raises(ConfigError, match="fmt"):
        make_mass_dataset(tmp_path, fmt="jpg")
    with pytest.raises(ConfigError, match="mass_fraction"):
        make_mass_dataset(tmp_path, mass_fraction=1.5)
    with pytest.raises(ConfigError, match="n_cases"):
        make_mass_dataset(tmp_path, n_cases=0)
    with pytest.raises(ConfigError, match="size"):
        make_mass_dataset(tmp_path, size=(32, 32))


# ---------------------------------------------------------------------------------------------- pig CT
@pytest.fixture(scope="module")
def ct_npy(tmp_path_factory):
    return make_ct_dataset(tmp_path_factory.mktemp("ct_npy"))


@pytest.fixture(scope="module")
def ct_scans(ct_npy):
    scans = {}
    for scan in sorted(read_splits(ct_npy)):
        volume = read_ct_volume(ct_npy / scan / "volume.npy")
        scans[scan] = volume.hu, read_label_volume(ct_npy / scan / "label.npy", expected_shape=volume.hu.shape)
    return scans


def test_ct_layout_reader_and_both_formats_hold_the_same_hu(ct_npy, ct_scans, tmp_path):
    assert sorted(set(read_splits(ct_npy).values())) == ["test", "train", "val"]
    dicom = make_ct_dataset(tmp_path / "dicom", fmt="dicom")
    for scan, (hu, label) in ct_scans.items():
        assert hu.shape == label.shape == (48, 64, 64) and np.load(ct_npy / scan / "volume.npy").dtype == np.int16
        series = read_ct_volume(dicom / scan / "ct")
        assert np.array_equal(series.hu, hu)
        assert series.spacing == pytest.approx((1300 / 48, 600 / 64, 600 / 64))
        assert 0.05 < label.mean() < 0.35
        assert np.median(hu[0]) == pytest.approx(-1000, abs=40)  # air around the snout's tip
    assert _files(make_ct_dataset(tmp_path / "dicom2", fmt="dicom")) == _files(dicom)


def test_ct_is_deterministic_and_a_rerun_in_another_format_leaves_one_volume(ct_npy, tmp_path):
    assert _files(make_ct_dataset(tmp_path / "again")) == _files(ct_npy)
    root = make_ct_dataset(tmp_path / "switch", n_scans=1, shape=(16, 32, 32), fmt="dicom")
    make_ct_dataset(root, n_scans=1, shape=(16, 32, 32), fmt="npy")
    assert sorted(p.name for p in (root / "pig_000").iterdir()) == ["label.npy", "volume.npy"]
    make_ct_dataset(root, n_scans=1, shape=(16, 32, 32), fmt="dicom")
    assert sorted(p.name for p in (root / "pig_000").iterdir()) == ["ct", "label.npy"]
    assert len(list((root / "pig_000" / "ct").iterdir())) == 16


def test_ct_edible_tissue_follows_anatomy_not_hu(ct_scans):
    train_a, train_b, test = ct_scans.values()
    hu, label = train_a
    tissue = hu > -500
    edible, other = hu[label], hu[tissue & ~label]
    def soft(values):  # fraction with muscle-like HU (Table 3.1)
        return np.mean((values > 20) & (values < 80))

    assert soft(edible) > 0.3 and soft(other) > 0.15  # muscle vs heart, liver, gut, brain
    assert np.mean(edible < -60) > 0.1  # fat belongs to the carcass
    assert np.mean(other > 300) > 0.03 and np.any(edible > 300)  # spine/limb bones vs ribs

    def depth(volume):
        return np.stack([ndimage.distance_transform_edt(s) for s in volume > -400])

    def features_and_labels(scans):  # voxels of the pig and the tray: HU, depth below the surface; edible
        keep = [h > -500 for h, _ in scans]
        return ([np.concatenate([h[k] for (h, _), k in zip(scans, keep)]),
                 np.concatenate([depth(h)[k] for (h, _), k in zip(scans, keep)])],
                np.concatenate([lab[k] for (_, lab), k in zip(scans, keep)]))

    (train_f, train_l), (test_f, test_l) = features_and_labels([train_a, train_b]), features_and_labels([test])
    edges = [np.linspace(-1000, 1500, 101), np.arange(0, 30)]
    hu_only = _binned_balanced_accuracy(train_f[:1], train_l, test_f[:1], test_l, edges[:1])
    with_depth = _binned_balanced_accuracy(train_f, train_l, test_f, test_l, edges)
    # measured 0.62 (HU) and 0.76 (HU + depth below the skin) on the default scans
    assert hu_only < 0.75 and with_depth > hu_only + 0.08


def test_ct_rejects_bad_arguments(tmp_path):
    with pytest.raises(ConfigError, match="fmt"):
        make_ct_dataset(tmp_path, fmt="nii")
    with pytest.raises(ConfigError, match="shape"):
        make_ct_dataset(tmp_path, shape=(48, 64))
    with pytest.raises(ConfigError, match="seed"):
        make_ct_dataset(tmp_path, seed=-1)


# ---------------------------------------------------------------------------------------------- DDSM-like
@pytest.fixture(scope="module")
def ddsm(tmp_path_factory):
    return make_ddsm_like(tmp_path_factory.mktemp("ddsm"))


@pytest.fixture(scope="module")
def ddsm_rows(ddsm):
    with open(ddsm / "labels.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        row["image"] = read_image(ddsm / "images" / f"{row['id']}.png")
        roi = ddsm / "rois" / f"{row['id']}.png"
        row["roi"] = read_mask(roi, expected_shape=row["image"].shape) if roi.exists() else None
    return rows


def test_ddsm_layout_labels_and_rois(ddsm_rows):
    assert list(ddsm_rows[0])[:3] == ["id", "class", "split"]
    for label in DDSM3.names:
        rows = [r for r in ddsm_rows if r["class"] == label]
        # 8 x (0.8, 0.2) = (6.4, 1.6): floors 6 and 1, the left-over image goes to test (remainder .6)
        assert len(rows) == 8 and [r["split"] for r in rows].count("test") == 2
    for row in ddsm_rows:
        assert row["image"].dtype == np.uint16 and row["image"].shape == (256, 256)
        assert (row["roi"] is None) == (row["class"] == "normal")
        assert row["roi"] is None or row["roi"].any()
    assert {r["abnormality"] for r in ddsm_rows if r["class"] == "benign"} == {"mass", "calcification"}


def test_ddsm_lesion_sizes_span_the_five_size_groups(ddsm_rows):
    abnormal = [r for r in ddsm_rows if r["roi"] is not None]
    areas = np.array([r["roi"].sum() for r in abnormal])
    group = np.digitize(areas, np.percentile(areas, [20, 40, 60, 80]))  # P0..P4 as seed 004 L1613-1626
    assert areas.max() > 20 * areas.min()
    for label in ("benign", "cancer"):
        groups = {g for g, r in zip(group, abnormal) if r["class"] == label}
        assert len(groups) >= 4, (label, sorted(groups))


def test_ddsm_classes_differ_by_lesion_shape_not_by_image_brightness(ddsm_rows):
    def solidity(mask):  # area / convex-hull area: 1 for a convex blob, low for a spiky one
        return ndimage.binary_fill_holes(mask).sum() / convex_hull_image(mask).sum()

    benign = [solidity(r["roi"]) for r in ddsm_rows if r["class"] == "benign" and r["abnormality"] == "mass"]
    cancer = [solidity(r["roi"]) for r in ddsm_rows if r["class"] == "cancer"]
    assert max(cancer) < 0.8 < min(benign)  # measured: cancer 0.51-0.65, benign masses 0.92-0.96
    for row in ddsm_rows:
        if row["abnormality"] == "mass":
            roi, image = row["roi"], row["image"].astype(np.float32)
            ring = ndimage.binary_dilation(roi, iterations=4) & ~ndimage.binary_dilation(roi, iterations=1)
            assert image[roi].mean() > image[ring].mean() + 100, row["id"]
    means = {label: [r["image"].mean() for r in ddsm_rows if r["class"] == label] for label in DDSM3.names}
    for a in DDSM3.names:
        for b in DDSM3.names:
            if a < b:  # the brightness ranges of every two classes overlap
                assert max(min(means[a]), min(means[b])) < min(max(means[a]), max(means[b])), (a, b)


def test_ddsm_is_deterministic(ddsm, tmp_path):
    assert _files(make_ddsm_like(tmp_path / "again")) == _files(ddsm)
    with pytest.raises(ConfigError, match="n_per_class"):
        make_ddsm_like(tmp_path, n_per_class=0)
