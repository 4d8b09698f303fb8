"""kth-cls Tables 4.2 / 4.3 (end-to-end) and 4.6 / 4.7 (decomposition) at smoke scale: every script on its own,
and the train-set scripts reusing their sibling's run with --from-run."""
import csv
import json
from pathlib import Path

import numpy as np
import pytest
from experiment_scripts import load_script, run_in_process

from mammoseg.recipes import kth_cls

pytestmark = pytest.mark.experiment

ROWS = ("Accuracy", "Specificity", "Precision", "Recall")


def _check_table(run_dir: Path, name: str, split: str) -> dict:
    """Every thesis row with our four numbers in range (or '–' where undefined), the thesis' beside them."""
    published = load_script(name).TABLE.rows
    table = (run_dir / "table.md").read_text()
    for row in (*ROWS, kth_cls.AUC_ROW):
        line = next(line for line in table.splitlines() if line.startswith(f"| {row} |"))
        cells = [c.strip() for c in line.strip("|").split("|")]
        ours = [float(c) for c in cells[1:5] if c != "–"]
        assert all(0.0 <= v <= 100.0 for v in ours), line
        if row != "Precision":  # a class nobody predicted has no precision; the other rows are always defined
            assert len(ours) == 4, line
        if row in published:
            assert [float(c) for c in cells[5:9]] == list(published[row])
        assert f"smoke scale, synthetic data, {split} set" in cells[9]
    assert "Smoke scale on synthetic data" in table
    with open(run_dir / "results.csv", newline="") as f:
        return {r["row"]: r for r in csv.DictReader(f)}


def _same_numbers(results: dict, saved_eval: Path) -> None:
    """The table of a --from-run script equals what the training run measured on that split."""
    saved = json.loads(saved_eval.read_text())
    for row, key in kth_cls.ROW_METRICS.items():
        for column in kth_cls.CLASS_COLUMNS:
            theirs = saved["per_class"][key][column]  # NaN where undefined (a class nobody predicted)
            np.testing.assert_allclose(float(results[row][column]), np.nan if theirs is None else theirs,
                                       equal_nan=True, err_msg=f"{row} {column}")


def test_tables_4_2_and_4_3_end_to_end(tmp_path):
    run_dir = run_in_process("18_kth_cls_table4_2", tmp_path)
    _check_table(run_dir, "18_kth_cls_table4_2", "test")
    stage = run_dir / "end_to_end"
    for produced in ("best.weights.h5", "eval_test.json", "eval_train.json", "confusion_test.png", "roc_test.png"):
        assert (stage / produced).is_file(), produced
    saved = json.loads((stage / "eval_test.json").read_text())
    assert np.sum(saved["confusion_matrix"]) == 9  # 3 test images per class at smoke scale
    reused = run_in_process("19_kth_cls_table4_3", tmp_path, "--from-run", str(run_dir))
    _same_numbers(_check_table(reused, "19_kth_cls_table4_3", "train"), stage / "eval_train.json")
    assert not (reused / "end_to_end" / "best.weights.h5").exists()  # nothing was trained again


def test_table_4_3_on_its_own(tmp_path):
    run_dir = run_in_process("19_kth_cls_table4_3", tmp_path)
    _check_table(run_dir, "19_kth_cls_table4_3", "train")
    assert (run_dir / "end_to_end" / "best.weights.h5").is_file()


def test_tables_4_6_and_4_7_decomposition(tmp_path):
    run_dir = run_in_process("20_kth_cls_table4_6", tmp_path)
    _check_table(run_dir, "20_kth_cls_table4_6", "test")
    for loss in kth_cls.DETECTOR_LOSSES:  # all ten ROI detectors trained
        for group in range(5):
            assert (run_dir / "detectors" / f"{loss}_P{group}" / "best.weights.h5").is_file(), (loss, group)
    stage = run_dir / "decomposition"
    summary = json.loads((stage / kth_cls.DETECTOR_SUMMARY).read_text())
    assert [(s["loss"], s["group"]) for s in summary] == [(loss, f"P{g}") for loss in kth_cls.DETECTOR_LOSSES
                                                          for g in range(5)]
    heat = np.load(stage / kth_cls.HEAT_MAPS)
    assert heat.shape == (45, 64, 64) and set(np.unique(heat)) <= {0.0, 1.0, 2.0, 3.0, 4.0, 5.0}
    table = (run_dir / "table.md").read_text()
    assert table.count("| dice | P") == 5 and table.count("| sensitivity_specificity | P") == 5
    reused = run_in_process("21_kth_cls_table4_7", tmp_path, "--from-run", str(run_dir))
    _same_numbers(_check_table(reused, "21_kth_cls_table4_7", "train"), stage / "eval_train.json")
    assert not (reused / "detectors").exists()


def test_table_4_7_on_its_own(tmp_path):
    run_dir = run_in_process("21_kth_cls_table4_7", tmp_path)
    _check_table(run_dir, "21_kth_cls_table4_7", "train")
    assert (run_dir / "decomposition" / "best.weights.h5").is_file()
