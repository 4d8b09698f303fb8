"""Label sets as data: JSON round trip, nnU-Net dataset.json labels, clear errors."""
import json

import pytest

from mammoseg.errors import ConfigError, DataError
from mammoseg.labels import BINARY, CITYSCAPES19, MAMMO13, LabelSet, load_label_set


@pytest.mark.parametrize("label_set", [MAMMO13, CITYSCAPES19, BINARY])
def test_json_round_trip_is_exact(label_set, tmp_path):
    assert LabelSet.from_json(json.loads(json.dumps(label_set.to_json()))) == label_set
    path = label_set.save_json(tmp_path / "labels.json")
    assert load_label_set(path) == label_set


def test_nnunet_dataset_json_labels(tmp_path):
    path = tmp_path / "dataset.json"
    path.write_text(json.dumps({"channel_names": {"0": "mammo"}, "file_ending": ".png",
                                "labels": {"background": 0, "pectoral": 3, "adipose": 1, "fibroglandular": 2,
                                           "ignore": 255}}))
    labels = LabelSet.from_json(path, name="tissue4")
    assert labels.names == ("background", "adipose", "fibroglandular", "pectoral")  # ordered by id
    assert labels.ignore_id == 255 and labels.background == "background" and labels.num_classes == 4
    assert labels.labels_dict() == {"background": 0, "adipose": 1, "fibroglandular": 2, "pectoral": 3,
                                    "ignore": 255}
    assert len(set(labels.colors)) == 4


@pytest.mark.parametrize("payload, problem", [
    ({"labels": {"background": 0, "mass": 2}}, "ids must be 0..1"),
    ({"labels": {"background": 0, "mass": 0}}, "ids must be 0..1"),
    ({"labels": {"background": 0, "mass": [1, 2]}}, "region"),
    ({"labels": {"background": 0, "mass": "1"}}, "integers"),
    ({"labels": {}}, "non-empty"),
    ({"labels": {"background": 0}, "colors": {"mass": [1, 2, 3]}}, "unknown classes"),
    ({"labels": {"background": 0}, "colors": {"background": [1, 2]}}, "three integers"),
    ({"labels": {"background": 0, "ignore": 0}}, "ignore id"),
    ({"labels": {"a": 0, "b": 1}, "priority": ["a"]}, "priority"),
])
def test_bad_label_sets_raise_one_clear_error(payload, problem):
    with pytest.raises(DataError, match=problem):
        LabelSet.from_json(payload)


def test_unreadable_file_names_the_file(tmp_path):
    path = tmp_path / "labels.json"
    path.write_text("{not json")
    with pytest.raises(DataError, match="labels.json"):
        load_label_set(path)
    with pytest.raises(DataError, match="not found"):
        load_label_set(tmp_path / "missing.json")
    with pytest.raises(ConfigError, match="mammo13"):
        load_label_set("no-such-set")
