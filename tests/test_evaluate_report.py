"""Report writers: Markdown + CSV tables, confusion-matrix / per-class / ROC plots."""
import csv

import numpy as np

from mammoseg.evaluate.report import (markdown_table, plot_confusion_matrix, plot_per_class_iou, plot_roc_curves,
                                      write_table)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_markdown_table_formats_floats_and_nan():
    text = markdown_table(["Scan", "IoU", "n"], [["pig1", 0.96234, 3], ["mean", float("nan"), 2]], digits=3)
    assert text.splitlines() == ["| Scan | IoU | n |", "|---|---|---|", "| pig1 | 0.962 | 3 |", "| mean | – | 2 |"]


def test_write_table_md_and_csv_roundtrip(tmp_path):
    md, csv_path = write_table(tmp_path / "sub" / "ious", ["Scan", "IoU"], [["a", 1 / 3], ["b", float("nan")]],
                               title="Table 5.1", note="synthetic data")
    text = md.read_text()
    assert text.startswith("### Table 5.1") and "| a | 0.3333 |" in text and text.rstrip().endswith("synthetic data")
    with csv_path.open() as handle:
        rows = list(csv.reader(handle))
    assert rows == [["Scan", "IoU"], ["a", repr(1 / 3)], ["b", ""]]
    assert not [p for p in (tmp_path / "sub").iterdir() if p.name.startswith(".")]  # no temp files left


def test_plots_are_written_as_png(tmp_path):
    cm = np.array([[5, 1, 0], [2, 3, 1], [0, 0, 4]])
    plot_confusion_matrix(cm, ["a", "b", "c"], tmp_path / "cm.png")
    plot_confusion_matrix(cm, ["a", "b", "c"], tmp_path / "cm_counts.png", normalize=False)
    plot_per_class_iou({"a": 0.5, "b": float("nan"), "c": 0.9}, tmp_path / "iou.png", thesis={"a": 0.4})
    plot_roc_curves({"a": (np.array([0, 0.5, 1]), np.array([0, 0.8, 1]), 0.65)}, tmp_path / "roc.png")
    for name in ("cm.png", "cm_counts.png", "iou.png", "roc.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG_SIGNATURE


def test_segmentation_report_writes_every_artefact(tmp_path):
    from mammoseg.evaluate.report import write_segmentation_report
    from mammoseg.train.metrics import segmentation_metrics

    cm = np.array([[50, 5, 0], [5, 20, 0], [0, 0, 0]])  # class "c" absent from truth and prediction
    names = ["a", "b", "c"]
    files = write_segmentation_report(tmp_path, "U-Net", segmentation_metrics(cm, names), cm, names,
                                      thesis={"U-Net": (92.71, 43.13, 55.03)})
    assert all(path.exists() for path in files.values())
    table = (tmp_path / "table.md").read_text()
    # pixel accuracy 70/80 = 87.50 %; IoU a = 50/60, b = 20/30 -> mean 75.00 %, "c" excluded
    assert "| U-Net | 87.50 | 75.00 |" in table and "92.71" in table and "mean IoU (no pixel" in table
    assert "excluded" in table and table.rstrip().endswith("c")
    rows = list(csv.reader((tmp_path / "per_class_iou.csv").open()))
    assert rows[1][0] == "a" and float(rows[1][1]) == 50 / 60 and rows[3][1] == ""
