import numpy as np
import pytest
from scipy import stats

from mammoseg.data.sampling import (MAMMO_EXCLUDE_IDS, UNIFORM_FALLBACK, LabelIndex, class_balanced_centre,
                                    exclude_ids_for, uniform_centre)
from mammoseg.errors import DataError
from mammoseg.labels import CITYSCAPES19, MAMMO13

BACKGROUND, GLAND = MAMMO13.id("background"), MAMMO13.id("mammary_gland")
NIPPLE, TUMOR, PECTORAL = MAMMO13.id("nipple"), MAMMO13.id("tumor"), MAMMO13.id("pectoral_muscle")


@pytest.fixture
def imbalanced_map():
    """Background and gland dominate; three eligible labels of 1, 50 and 4000 pixels."""
    label = np.full((120, 100), BACKGROUND, np.uint8)
    label[:, 50:] = GLAND
    label[7, 93] = NIPPLE
    label[20:25, 10:20] = TUMOR
    label[60:100, 0:100] = PECTORAL
    return label


def test_thesis_exclusions_are_background_and_mammary_gland():
    assert set(MAMMO_EXCLUDE_IDS) == {BACKGROUND, GLAND}
    assert exclude_ids_for(MAMMO13) == MAMMO_EXCLUDE_IDS
    assert CITYSCAPES19.ignore_id in exclude_ids_for(CITYSCAPES19)


def test_label_index_matches_flatnonzero(imbalanced_map):
    index = LabelIndex(imbalanced_map)
    assert index.labels == (BACKGROUND, NIPPLE, TUMOR, PECTORAL, GLAND)
    for label_id in range(14):
        expected = np.flatnonzero(imbalanced_map.ravel() == label_id)
        np.testing.assert_array_equal(index.pixels(label_id), expected)
        assert index.count(label_id) == expected.size
    assert index.eligible(MAMMO_EXCLUDE_IDS) == (NIPPLE, TUMOR, PECTORAL)


def test_chosen_label_is_uniform_over_eligible_labels_and_centre_has_it(imbalanced_map, rng):
    index = LabelIndex(imbalanced_map)
    draws = [class_balanced_centre(index, rng) for _ in range(3000)]
    chosen = np.array([c for _, _, c in draws])
    for cy, cx, c in draws:
        assert imbalanced_map[cy, cx] == c
    counts = np.array([(chosen == i).sum() for i in (NIPPLE, TUMOR, PECTORAL)])
    assert counts.sum() == len(draws)  # background and gland never chosen
    assert stats.chisquare(counts).pvalue > 0.001


def test_pixel_is_uniform_within_the_chosen_label(imbalanced_map, rng):
    index = LabelIndex(imbalanced_map)
    tumor_pixels = index.pixels(TUMOR)
    hits = []
    while len(hits) < 2500:
        cy, cx, c = class_balanced_centre(index, rng)
        if c == TUMOR:
            hits.append(cy * imbalanced_map.shape[1] + cx)
    counts = np.array([hits.count(p) for p in tumor_pixels])
    assert counts.sum() == len(hits) and stats.chisquare(counts).pvalue > 0.001


def test_uniform_fallback_when_only_background_and_gland(rng):
    label = np.full((4, 5), BACKGROUND, np.uint8)
    label[:, 3:] = GLAND
    draws = [class_balanced_centre(label, rng) for _ in range(2000)]
    assert {c for _, _, c in draws} == {UNIFORM_FALLBACK}
    counts = np.bincount([cy * 5 + cx for cy, cx, _ in draws], minlength=20)
    assert counts.size == 20 and stats.chisquare(counts).pvalue > 0.001


def test_same_seed_same_centres(imbalanced_map):
    first = [class_balanced_centre(imbalanced_map, np.random.default_rng(7)) for _ in range(3)]
    again = [class_balanced_centre(imbalanced_map, np.random.default_rng(7)) for _ in range(3)]
    assert first == again
    assert uniform_centre((9, 4), np.random.default_rng(3)) == uniform_centre((9, 4), np.random.default_rng(3))


def test_custom_exclusions(imbalanced_map, rng):
    draws = {class_balanced_centre(imbalanced_map, rng, exclude_ids=(NIPPLE, TUMOR, PECTORAL, GLAND))[2]
             for _ in range(50)}
    assert draws == {BACKGROUND}


@pytest.mark.parametrize("bad", [np.zeros((2, 3, 3), np.uint8), np.zeros((3, 3), np.float32),
                                 np.array([[0, -1]], np.int16), np.zeros((0, 4), np.uint8)])
def test_bad_label_maps_raise(bad):
    with pytest.raises(DataError):
        LabelIndex(bad)
