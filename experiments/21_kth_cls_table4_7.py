"""kth-cls (seed 004) Table 4.7: decomposition classifier (image + five ROI detectors' heat map), training set.

    .venv/bin/python experiments/21_kth_cls_table4_7.py --scale smoke --out runs [--data-root DDSM] [--from-run DIR]

Without --from-run it trains the detectors and the classifier itself; with the run directory of
20_kth_cls_table4_6.py it reuses that run's data store, heat maps and weights. Recipe: mammoseg/recipes/kth_cls.py.
"""
import sys

from mammoseg.experiment import ThesisTable
from mammoseg.recipes import kth_cls

NAME = "21_kth_cls_table4_7"
# The thesis prints fractions (0.7062); shown here x100.
TABLE = ThesisTable(kth_cls.THESIS, "Table 4.7", "Performance metrics of the decomposition classifier (five ROIs "
                    "added to the original input), evaluated on the training-set", kth_cls.COLUMNS, kth_cls.HEADERS,
                    rows={
                        "Accuracy": (70.62, 73.29, 53.06, 65.66),
                        "Specificity": (92.87, 76.45, 50.65, 73.32),
                        "Precision": (59.51, 80.27, 37.39, 59.06),
                        "Recall": (16.25, 43.45, 89.44, 49.71)})


def main(argv=None) -> int:
    return kth_cls.script_main(NAME, TABLE, "decomposition", "train", argv)


if __name__ == "__main__":
    sys.exit(main())
