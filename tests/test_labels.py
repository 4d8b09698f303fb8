import numpy as np
import pytest

from mammoseg.errors import DataError
from mammoseg.labels import CITYSCAPES19, MAMMO13, cityscapes_labelids_to_trainids


def test_mammo13_priority_and_smoothing_follow_thesis():
    assert MAMMO13.num_classes == 13
    assert MAMMO13.priority[0] == "nipple" and MAMMO13.priority[-1] == "background"
    assert MAMMO13.priority[:4] == ("nipple", "calcifications", "skin", "tumor")
    # Thesis L846-849: four small classes are not smoothed; background is the fill value.
    unsmoothed = set(MAMMO13.names) - MAMMO13.smoothed
    assert unsmoothed == {"nipple", "calcifications", "text", "axillary_lymph_nodes", "background"}
    assert MAMMO13.id("background") == 0


def test_cityscapes_trainids():
    assert CITYSCAPES19.num_classes == 19 and CITYSCAPES19.ignore_id == 255
    ids = np.array([[7, 8, 26], [0, 33, 29]], np.uint8)
    np.testing.assert_array_equal(cityscapes_labelids_to_trainids(ids), [[0, 1, 13], [255, 18, 255]])


def test_check_ids_names_file():
    with pytest.raises(DataError, match="x.png.*unknown label ids \\[13\\]"):
        MAMMO13.check_ids(np.array([0, 13]), path="x.png")
    CITYSCAPES19.check_ids(np.array([0, 18, 255]))
