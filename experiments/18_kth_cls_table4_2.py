"""kth-cls (seed 004) Table 4.2: end-to-end VGG classifier, one-vs-all metrics on the test set.

    .venv/bin/python experiments/18_kth_cls_table4_2.py --scale smoke --out runs [--data-root DDSM] [--from-run DIR]

Trains the 1-channel classifier (Table 4.1) and evaluates both splits; 19_kth_cls_table4_3.py --from-run <this
run's directory> reports the training set from the same weights. Recipe: mammoseg/recipes/kth_cls.py.
"""
import sys

from mammoseg.experiment import ThesisTable
from mammoseg.recipes import kth_cls

NAME = "18_kth_cls_table4_2"
# The thesis prints fractions (0.6937); shown here x100.
TABLE = ThesisTable(kth_cls.THESIS, "Table 4.2", "Performance metrics of the end-to-end classifier, evaluated on "
                    "the test-set", kth_cls.COLUMNS, kth_cls.HEADERS, rows={
                        "Accuracy": (69.37, 86.11, 74.23, 76.57),
                        "Specificity": (69.72, 65.50, 80.95, 72.06),
                        "Precision": (50.40, 88.53, 57.09, 65.34),
                        "Recall": (67.84, 74.74, 48.29, 63.62)})


def main(argv=None) -> int:
    return kth_cls.script_main(NAME, TABLE, "end_to_end", "test", argv)


if __name__ == "__main__":
    sys.exit(main())
