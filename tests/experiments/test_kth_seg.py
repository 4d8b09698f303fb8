"""kth-seg Tables 5.1-5.6 at smoke scale: 5.1 and 5.2 train all nine rows from scratch; 5.4 (from 5.1), 5.3 and
5.5 (from 5.2) and 5.6 (from 5.5) reuse those runs with --from-run, as the reproduction matrix recommends.
Scripts 03-06 also run alone (they then train the stages their rows need); that path is the same code as 01/02
plus the reuse lookup that tests/test_recipes_kth_seg.py checks."""
import csv
import json
from pathlib import Path

import pytest
from experiment_scripts import load_script, run_in_process

pytestmark = pytest.mark.experiment


def _check_table(run_dir: Path, name: str, reused: bool = False) -> dict:
    """Every thesis row: our three numbers in [0, 100], the published ones beside them, an honest note."""
    published = load_script(name).TABLE.rows
    table = (run_dir / "table.md").read_text()
    assert "smoke scale" in table and "not comparable" in table
    for row, values in published.items():
        line = next(line for line in table.splitlines() if line.startswith(f"| {row} |"))
        cells = [c.strip() for c in line.strip("|").split("|")]
        ours, thesis = [float(c) for c in cells[1:4]], [float(c) for c in cells[4:7]]
        assert all(0.0 <= v <= 100.0 for v in ours), line
        assert ours[1] <= ours[2] + 0.01  # IoU <= class accuracy per class; mIoU also averages predicted-only 0s
        assert thesis == list(values)
        assert "smoke scale, synthetic data" in cells[7]
        assert ("weights reused (--from-run)" in cells[7]) == reused, line
    assert (run_dir / "config.json").is_file()
    with open(run_dir / "results.csv", newline="") as f:
        return {r["row"]: r for r in csv.DictReader(f)}


def _record(run_dir: Path, dataset: str, slug: str) -> dict:
    return json.loads((run_dir / dataset / slug / "stage.json").read_text())


def test_cityscapes_tables_5_1_and_5_4(tmp_path):
    first = run_in_process("01_kth_seg_table5_1", tmp_path)
    results = _check_table(first, "01_kth_seg_table5_1")
    assert len(results) == 9
    for slug in ("fcn32", "fcn16", "fcn8", "unet", "dilation10_front", "dilation10_context", "dilation10_global",
                 "deeplabv3", "gcn"):
        assert (first / "cityscapes" / slug / "best.weights.h5").is_file()
        assert (first / "cityscapes" / slug / "training_curve.png").is_file()
    # FCN16 started from FCN32's trained weights, context from front's (the thesis' staged training)
    assert _record(first, "cityscapes", "fcn16")["identity"]["init_from"]["weights"] == \
        _record(first, "cityscapes", "fcn32")["weights"]
    assert _record(first, "cityscapes", "dilation10_context")["identity"]["init_from"]["weights"] == \
        _record(first, "cityscapes", "dilation10_front")["weights"]

    adversarial = run_in_process("04_kth_seg_table5_4", tmp_path, "--from-run", str(first))
    _check_table(adversarial, "04_kth_seg_table5_4", reused=False)
    table = (adversarial / "table.md").read_text()
    assert table.count("vs non-adversarial") == 5
    # the fine-tuning started from 5.1's weights and was selected by validation mean IoU
    for slug in ("fcn8", "unet", "dilation10_front", "deeplabv3", "gcn"):
        record = _record(adversarial, "cityscapes", f"{slug}_adversarial")
        assert record["identity"]["init_from"]["weights"] == _record(first, "cityscapes", slug)["weights"]
        assert record["monitor"] == "val_mean_iou"
        assert not (adversarial / "cityscapes" / slug / "checkpoints").exists()  # not retrained


def test_mammography_tables_5_2_5_3_5_5_5_6(tmp_path):
    val = run_in_process("02_kth_seg_table5_2", tmp_path)
    val_results = _check_table(val, "02_kth_seg_table5_2")
    assert len(val_results) == 9

    test = run_in_process("03_kth_seg_table5_3", tmp_path, "--from-run", str(val))
    test_results = _check_table(test, "03_kth_seg_table5_3", reused=True)
    assert set(test_results) == {"FCN8", "U-Net", "Dilation10 - Front", "Dilation10 - Global", "Deeplab", "GCN"}
    assert not (test / "mammography" / "fcn8" / "checkpoints").exists()  # nothing trained again

    adv_val = run_in_process("05_kth_seg_table5_5", tmp_path, "--from-run", str(val))
    _check_table(adv_val, "05_kth_seg_table5_5")
    adv_test = run_in_process("06_kth_seg_table5_6", tmp_path, "--from-run", str(adv_val))
    _check_table(adv_test, "06_kth_seg_table5_6", reused=True)
    # 5.6 evaluates the very weights 5.5 fine-tuned, which started from 5.2's
    for slug in ("fcn8", "unet", "dilation10_front", "deeplabv3", "gcn"):
        fine_tuned = _record(adv_val, "mammography", f"{slug}_adversarial")
        assert _record(adv_test, "mammography", f"{slug}_adversarial")["weights"] == fine_tuned["weights"]
        assert fine_tuned["identity"]["init_from"]["weights"] == _record(val, "mammography", slug)["weights"]
