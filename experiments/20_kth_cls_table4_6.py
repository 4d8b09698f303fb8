"""kth-cls (seed 004) Table 4.6: decomposition classifier (image + five ROI detectors' heat map), test set.

    .venv/bin/python experiments/20_kth_cls_table4_6.py --scale smoke --out runs [--data-root DDSM] [--from-run DIR]

Trains the ROI detectors (5 annotation-size groups x Dice / SS loss, Table 4.4), merges the Dice detectors' masks
(Eq. 4.2), trains the 2-channel classifier (Table 4.5) and evaluates both splits; 21_kth_cls_table4_7.py
--from-run <this run's directory> reports the training set. Recipe: mammoseg/recipes/kth_cls.py.
"""
import sys

from mammoseg.experiment import ThesisTable
from mammoseg.recipes import kth_cls

NAME = "20_kth_cls_table4_6"
# The thesis prints fractions (0.6921); shown here x100.
TABLE = ThesisTable(kth_cls.THESIS, "Table 4.6", "Performance metrics of the decomposition classifier (five ROIs "
                    "added to the original input), evaluated on the test-set", kth_cls.COLUMNS, kth_cls.HEADERS,
                    rows={
                        "Accuracy": (69.21, 73.47, 53.05, 65.24),
                        "Specificity": (92.87, 74.60, 54.26, 73.91),
                        "Precision": (50.86, 77.43, 36.66, 54.99),
                        "Recall": (15.95, 46.95, 82.86, 48.58)})


def main(argv=None) -> int:
    return kth_cls.script_main(NAME, TABLE, "decomposition", "test", argv)


if __name__ == "__main__":
    sys.exit(main())
