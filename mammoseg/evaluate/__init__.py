"""Full-image inference, metrics over a test set and reports.

sliding_window (2-D / 3-D tiled inference, streamed), test_set (kth-seg / lrh-seg), volume_inference and
plane_fusion (pig-ct), mass_eval (oulu-mass), classification_eval (kth-cls), report (tables, plots, overlays),
predict (`mammoseg predict`). docs/evaluation.md describes every rule and choice.
"""
