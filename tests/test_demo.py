"""The main job end to end at smoke size: every stage runs and writes the run directory it promises."""
import json

from mammoseg.cli import main


def test_quick_demo_writes_run_directory(tmp_path, capsys):
    assert main(["demo", "--quick", "--out", str(tmp_path), "--no-progress"]) == 0
    (run_dir,) = list(tmp_path.iterdir())
    for name in ("config.json", "metrics.csv", "training_curve.png", "table.md", "test_metrics.json",
                 "best.weights.h5", "crops_80_train.h5", "crops_80_val.h5"):
        assert (run_dir / name).exists(), name
    overlays = list((run_dir / "overlays").glob("*_overlay.png"))
    assert overlays
    config = json.loads((run_dir / "config.json").read_text())
    assert config["git_commit"] and config["demo"]["seed"] == 0
    metrics = json.loads((run_dir / "test_metrics.json").read_text())
    assert 0.0 <= metrics["mean_iou"] <= 1.0 and 0.0 <= metrics["pixel_accuracy"] <= 1.0
    table = (run_dir / "table.md").read_text()
    assert "| U-Net |" in table and "mean iou accuracy" in table
    assert "| U-Net |" in capsys.readouterr().out
