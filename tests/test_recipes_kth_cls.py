"""kth-cls recipe pieces: presets = the thesis' tables, the published tables as transcribed, size groups,
overlap-accuracy, the channel-stacked augmentation, table rows and --from-run checks."""
import json
from pathlib import Path

import numpy as np
import pytest
from experiment_scripts import load_script

from mammoseg.errors import ConfigError, DataError
from mammoseg.evaluate.classification_eval import classification_report
from mammoseg.labels import DDSM3
from mammoseg.recipes import kth_cls

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = {"18_kth_cls_table4_2": ("Table 4.2", "test"), "19_kth_cls_table4_3": ("Table 4.3", "train"),
           "20_kth_cls_table4_6": ("Table 4.6", "test"), "21_kth_cls_table4_7": ("Table 4.7", "train")}


def test_full_preset_is_the_thesis_configuration():
    cfg = kth_cls.build_config("full")
    # Tables 4.1 / 4.5 and 4.4: batch 50, steps per epoch 5000 / 100, epochs 10 / 20, lr 5e-5, decay 0.75.
    assert (cfg.classifier.batch_size, cfg.classifier.steps_per_epoch, cfg.classifier.epochs) == (50, 5000, 10)
    assert (cfg.detector.batch_size, cfg.detector.steps_per_epoch, cfg.detector.epochs) == (50, 100, 20)
    for stage in (cfg.classifier, cfg.detector):
        assert stage.learning_rate == 5e-5 and stage.lr_decay == 0.75
    assert cfg.classifier.total_steps == 50_000  # Fig. 4.7 switches channels "on step 50000"
    assert (cfg.input_size, cfg.work_size, cfg.clahe_clip) == (128, 1024, 0.02)
    assert (cfg.flip_p, cfg.max_rotation_deg, cfg.test_fraction) == (0.5, 5.0, 0.2)
    assert (cfg.classifier_width, cfg.detector_base_filters, cfg.detector_depth) == (1.0, 64, 4)
    assert (cfg.size_groups, cfg.overlap_threshold, cfg.merge_loss) == (5, 0.2, "dice")
    assert cfg.detector_losses == ("dice", "sensitivity_specificity")


def test_smoke_preset_is_small_and_keeps_every_row():
    cfg = kth_cls.build_config("smoke", seed=3)
    assert cfg.input_size == 64 and cfg.classifier_width < 0.1 and cfg.detector_base_filters <= 8
    assert cfg.classifier.epochs == 1 and cfg.detector.epochs == 1 and cfg.seed == 3
    assert cfg.size_groups == 5 and len(cfg.detector_losses) == 2  # all ten detectors still run


def test_config_rejects_inconsistent_settings():
    with pytest.raises(ConfigError, match="merge_loss"):
        kth_cls.KthClsConfig(detector_losses=("sensitivity_specificity",))
    with pytest.raises(ConfigError, match="scale"):
        kth_cls.KthClsConfig(scale="medium")


def test_config_round_trips_through_its_json_form():
    cfg = kth_cls.build_config("smoke")
    again = kth_cls.KthClsConfig(**json.loads(json.dumps(kth_cls.asdict(cfg))))
    assert again == cfg


@pytest.mark.parametrize("name", SCRIPTS)
def test_published_tables_are_consistent(name):
    """Transcription check: each Mean is the class average, and accuracy follows from precision, recall and the
    thesis' class counts (TP = recall N, FP = TP / precision - TP; spec §6.5)."""
    table, split = SCRIPTS[name]
    thesis = load_script(name).TABLE
    assert thesis.table == table and tuple(thesis.columns) == kth_cls.COLUMNS
    assert list(thesis.rows) == ["Accuracy", "Specificity", "Precision", "Recall"]
    for values in thesis.rows.values():
        assert abs(np.mean(values[:3]) - values[3]) < 0.01
    counts = np.array([kth_cls.THESIS_COUNTS[split][c] for c in kth_cls.CLASS_COLUMNS], np.float64)
    recall = np.array(thesis.rows["Recall"][:3]) / 100
    precision = np.array(thesis.rows["Precision"][:3]) / 100
    tp = recall * counts
    fp = tp / precision - tp
    fn = counts - tp
    accuracy = 100 * (counts.sum() - fp - fn) / counts.sum()
    np.testing.assert_allclose(accuracy, thesis.rows["Accuracy"][:3], atol=0.02)
    assert abs((tp + fp).sum() - counts.sum()) < 0.5  # every image gets exactly one predicted class


def test_size_groups_are_training_quintiles():
    sizes = np.arange(1, 11)
    thresholds = kth_cls.size_group_thresholds(sizes)
    np.testing.assert_allclose(thresholds, [2.8, 4.6, 6.4, 8.2])  # numpy's linear percentiles of 1..10
    np.testing.assert_array_equal(kth_cls.size_groups(sizes, thresholds), [0, 0, 1, 1, 2, 2, 3, 3, 4, 4])
    np.testing.assert_array_equal(kth_cls.size_groups([0, 100], thresholds), [0, 4])  # test sizes beyond the range
    with pytest.raises(DataError, match="annotation-size"):
        kth_cls.size_group_thresholds([])


def test_overlap_coefficient_and_detector_scores_by_hand():
    truth = np.zeros((3, 4, 4), bool)
    truth[:, :2, :2] = True  # 4 pixels in every image
    pred = np.zeros_like(truth)
    pred[0, 0, :2] = True  # 2 pixels, both inside: 2 / min(4, 2) = 1
    pred[1, 1:3, 1] = True  # (1,1) inside, (2,1) outside: 1 / 2 = 0.5
    pred[1, 3, 3] = True  # 3 predicted pixels: 1 / min(4, 3)
    # image 2: nothing predicted -> 0
    np.testing.assert_allclose(kth_cls.overlap_coefficients(truth, pred), [1.0, 1 / 3, 0.0])
    scores = kth_cls.detector_scores(pred.astype(float), truth, threshold=0.5, overlap_threshold=0.3)
    tp, fp, fn = 3, 2, 9  # over the 48 pixels
    assert scores["images"] == 3
    assert scores["precision"] == pytest.approx(tp / (tp + fp))
    assert scores["recall"] == pytest.approx(tp / (tp + fn))
    assert scores["pixel_accuracy"] == pytest.approx((48 - fp - fn) / 48)
    assert scores["overlap_accuracy"] == pytest.approx(2 / 3)  # 1.0 and 0.333 reach 0.3
    assert np.isnan(kth_cls.detector_scores(np.zeros((0, 4, 4)), np.zeros((0, 4, 4)))["recall"])


def test_stacked_channels_share_the_image_and_its_geometry(rng):
    cfg = kth_cls.build_config("smoke")
    ids = np.array([0, 0, 1, 1, 2, 2])
    level = 0.1 * (ids + 1)[:, None, None]  # each class has its own base intensity
    images = (level + rng.uniform(0, 0.01, (6, 16, 16))).astype(np.float32)
    x, y = next(iter(kth_cls.balanced_batches([images, 3 * images], ids, 12, 1, cfg)))
    x, y = x.numpy(), y.numpy()
    assert x.shape == (12, 16, 16, 2) and y.shape == (12,)
    np.testing.assert_allclose(x[..., 1], 3 * x[..., 0], rtol=1e-5, atol=1e-5)  # same draw, same warp
    # the image drawn belongs to the class reported (the centre survives the flip and a 5-degree rotation)
    np.testing.assert_allclose(x[:, 8, 8, 0], 0.1 * (y + 1), atol=0.011)


def test_mask_batches_binarise_the_warped_mask(rng):
    cfg = kth_cls.build_config("smoke")
    masks = np.zeros((3, 16, 16), np.uint8)
    masks[:, 4:12, 4:12] = 1
    images = rng.uniform(0, 1, (3, 16, 16)).astype(np.float32)
    x, y = next(iter(kth_cls.mask_batches(images, masks, 4, 1, cfg)))
    assert x.shape == (4, 16, 16, 1) and y.dtype.name == "int32"
    assert set(np.unique(y.numpy())) == {0, 1}
    assert abs(int(y.numpy().sum()) - 4 * 64) <= 4 * 12  # a ±5° rotation moves only border pixels


def test_table_rows_follow_the_thesis_column_order():
    # DDSM3 ids: normal 0, benign 1, cancer 2. Four cancers (3 right, 1 called benign), two normals (right),
    # two benign (1 right, 1 called normal).
    labels = np.array([2, 2, 2, 2, 0, 0, 1, 1])
    predicted = np.array([2, 2, 2, 1, 0, 0, 1, 0])
    scores = np.eye(3)[predicted] * 0.8 + 0.1
    rows = {r.name: r for r in kth_cls.table_rows(classification_report(labels, scores, DDSM3.names), "n")}
    assert list(rows) == ["Accuracy", "Specificity", "Precision", "Recall", kth_cls.AUC_ROW]
    recall = rows["Recall"].metrics
    assert (recall["cancer"], recall["normal"], recall["benign"]) == (0.75, 1.0, 0.5)
    assert recall["mean"] == pytest.approx((0.75 + 1.0 + 0.5) / 3)
    precision = rows["Precision"].metrics
    assert (precision["cancer"], precision["normal"], precision["benign"]) == (1.0, 2 / 3, 0.5)
    spec = rows["Specificity"].metrics  # normal: 5 of the 6 non-normal images not called normal
    assert (spec["cancer"], spec["normal"], spec["benign"]) == (1.0, 5 / 6, 5 / 6)
    assert rows["Accuracy"].metrics["cancer"] == pytest.approx(7 / 8)
    assert "argmax" in rows["Specificity"].note


def test_from_run_must_match_this_runs_settings(tmp_path):
    cfg = kth_cls.build_config("smoke", from_run=str(tmp_path))
    with pytest.raises(DataError, match="config.json"):
        kth_cls._check_reusable(cfg)
    other = kth_cls.build_config("smoke", seed=7)
    (tmp_path / "config.json").write_text(json.dumps({"config": kth_cls.asdict(other)}))
    with pytest.raises(DataError, match="seed"):
        kth_cls._check_reusable(cfg)
    same = kth_cls.build_config("smoke")
    (tmp_path / "config.json").write_text(json.dumps({"config": json.loads(json.dumps(kth_cls.asdict(same)))}))
    kth_cls._check_reusable(cfg)  # same settings: accepted
    with pytest.raises(DataError, match="classification store"):
        kth_cls.prepare_data(cfg, tmp_path / "new")


def test_saved_json_is_strict_and_the_detector_table_reads_it():
    saved = kth_cls.strict_json({"auc": np.float32(np.nan), "n": np.int64(3), "v": [0.25, float("inf")]})
    assert saved == {"auc": None, "n": 3, "v": [0.25, None]}
    json.dumps(saved, allow_nan=False)
    empty = {"images": 0, "pixel_accuracy": None, "precision": None, "recall": None, "overlap_accuracy": None}
    row = {"loss": "dice", "group": "P4", "size_from": 509.4, "size_to": None, "test": empty,
           "train": {**empty, "images": 5, "overlap_accuracy": 0.8}, "complete_test": {**empty, "overlap_accuracy": 1.0}}
    line = kth_cls.detector_table([row]).splitlines()[2]
    assert line == "| dice | P4 | [509, inf) | 5 | 0 | – | – | – | – | 1.000 | 0.800 |"
