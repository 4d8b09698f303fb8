import csv

import numpy as np
import pytest
from scipy import ndimage

from mammoseg.data.synthetic import MAX_VALUE, make_kthseg_dataset, render_case
from mammoseg.errors import ConfigError
from mammoseg.io.annotations import list_cases, merge_case, read_splits
from mammoseg.io.raster import read_image, read_mask
from mammoseg.labels import MAMMO13

SHAPE = (384, 320)
C = MAMMO13.num_classes


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """The default dataset, generated once for the module (a few seconds)."""
    return make_kthseg_dataset(tmp_path_factory.mktemp("kthseg"))


@pytest.fixture(scope="module")
def labels(dataset):
    return {case: read_image(dataset / case / "label.png") for case in list_cases(dataset)}


def _files(root, case):
    return sorted(p.relative_to(root / case) for p in (root / case).rglob("*") if p.is_file())


def test_layout_and_splits_file(dataset):
    with open(dataset / "splits.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["case", "split"]
    splits = read_splits(dataset)
    assert len(splits) == 24
    assert [list(splits.values()).count(s) for s in ("train", "val", "test")] == [14, 5, 5]  # 0.6 / 0.2 / 0.2
    for case in splits:
        image = read_image(dataset / case / "image.png")
        label = read_image(dataset / case / "label.png")
        assert image.dtype == np.uint16 and image.shape == SHAPE and image.max() <= MAX_VALUE
        assert label.dtype == np.uint8 and label.shape == SHAPE and label.max() < C
        mask_files = list((dataset / case / "masks").glob("*.png"))
        assert mask_files and all(p.stem in MAMMO13.names and p.stem != "background" for p in mask_files)
        assert set(np.unique(read_image(mask_files[0]))) <= {0, 255}


def test_same_seed_gives_identical_bytes_and_cases_do_not_depend_on_n_cases(dataset, tmp_path):
    small = make_kthseg_dataset(tmp_path / "small", n_cases=3)
    for case in list_cases(small):
        files = _files(small, case)
        assert files == _files(dataset, case)
        for rel in files:
            assert (small / case / rel).read_bytes() == (dataset / case / rel).read_bytes(), rel
    other = make_kthseg_dataset(tmp_path / "other", n_cases=1, seed=1)
    assert (other / "case_000" / "image.png").read_bytes() != (dataset / "case_000" / "image.png").read_bytes()


def test_regenerating_into_the_same_root_removes_stale_masks(tmp_path):
    root = make_kthseg_dataset(tmp_path / "d", n_cases=1, seed=3)
    masks_dir = root / "case_000" / "masks"
    absent = next(n for n in MAMMO13.names if n != "background" and not (masks_dir / f"{n}.png").exists())
    (masks_dir / f"{absent}.png").write_bytes(b"left over from an earlier run")
    make_kthseg_dataset(root, n_cases=1, seed=3)
    fresh = make_kthseg_dataset(tmp_path / "fresh", n_cases=1, seed=3)
    assert _files(root, "case_000") == _files(fresh, "case_000")


def test_all_classes_occur_and_every_split_holds_most(dataset, labels):
    splits = read_splits(dataset)
    seen = {s: set() for s in ("train", "val", "test")}
    for case, label in labels.items():
        seen[splits[case]] |= set(np.unique(label).tolist())
    assert set().union(*seen.values()) == set(range(C))
    for split, classes in seen.items():
        assert len(classes) >= 11, (split, sorted(set(range(C)) - classes))


def test_every_mask_pixel_keeps_its_class_or_a_higher_priority_one(dataset):
    rank = {MAMMO13.id(name): r for r, name in enumerate(MAMMO13.priority)}  # 0 = painted on top
    rank_lut = np.array([rank[i] for i in range(C)])
    for case in list_cases(dataset)[:8]:
        exact = merge_case(dataset / case, sigma=0, write=False)
        smoothed = read_image(dataset / case / "label.png")
        for path in (dataset / case / "masks").glob("*.png"):
            mask = read_mask(path)
            own = rank[MAMMO13.id(path.stem)]
            assert np.all(rank_lut[exact[mask]] <= own), (case, path.stem)
            # smoothing only moves edges: almost every pixel still keeps its class or a higher-priority one
            assert np.mean(rank_lut[smoothed[mask]] <= own) > 0.97, (case, path.stem)


def test_intensity_alone_does_not_segment(dataset, labels):
    """A per-intensity-bin majority vote, fit on training pixels, must stay far below the 0.45 mIoU target."""
    bins = 64

    def binned(image):
        return np.minimum(image.astype(np.int64) * bins // (MAX_VALUE + 1), bins - 1)

    votes = np.zeros((bins, C), np.int64)
    for case in list_cases(dataset, "train"):
        np.add.at(votes, (binned(read_image(dataset / case / "image.png")), labels[case]), 1)
    lookup = votes.argmax(1)
    confusion = np.zeros((C, C), np.int64)
    for case in list_cases(dataset, "val") + list_cases(dataset, "test"):
        predicted = lookup[binned(read_image(dataset / case / "image.png"))]
        confusion += np.bincount(labels[case].ravel().astype(np.int64) * C + predicted.ravel(),
                                 minlength=C * C).reshape(C, C)
    hits = np.diag(confusion)
    iou = hits / np.maximum(confusion.sum(0) + confusion.sum(1) - hits, 1)
    present = confusion.sum(1) > 0
    # the classifier does work where intensity suffices: air is dark (sanity check of the measurement itself)
    assert iou[MAMMO13.id("background")] > 0.9
    # measured 0.14-0.15 for the default dataset; 0.25 leaves margin and is far below 0.45
    assert iou[present].mean() < 0.25


def test_render_case_footprints(rng):
    image, masks = render_case(rng, SHAPE)
    assert image.dtype == np.uint16 and image.shape == SHAPE
    assert {"mammary_gland", "skin", "nipple", "pectoral_muscle", "submammary_tissue"} <= set(masks)
    assert all(m.dtype == bool and m.shape == SHAPE for m in masks.values())
    nipple_diameter = 2 * np.sqrt(masks["nipple"].sum() / np.pi)
    assert 14 <= nipple_diameter <= 26
    # air is dark, tissue is not: background median well below the breast's
    background = ~(masks["mammary_gland"] | masks["submammary_tissue"]) & ~masks.get("text", False)
    assert np.median(image[background]) < 0.3 * np.median(image[masks["mammary_gland"]])


def test_calcification_specks_are_tiny():
    for seed in range(6):
        _, masks = render_case(np.random.default_rng(seed), SHAPE)
        if "calcifications" in masks:
            specks, n = ndimage.label(masks["calcifications"])
            sizes = np.bincount(specks.ravel())[1:]
            assert n >= 3 and np.median(sizes) <= 16  # 2-4 px across; touching specks may merge
            return
    pytest.fail("no calcifications in 6 cases")


def test_rejects_bad_arguments(tmp_path):
    with pytest.raises(ConfigError, match="split_fractions"):
        make_kthseg_dataset(tmp_path, n_cases=2, split_fractions=(0.5, 0.2, 0.2))
    with pytest.raises(ConfigError, match="n_cases"):
        make_kthseg_dataset(tmp_path, n_cases=0)
    with pytest.raises(ConfigError, match="too small"):
        render_case(np.random.default_rng(0), (32, 32))
