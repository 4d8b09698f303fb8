"""kth-cls (seed 004) Table 4.3: end-to-end VGG classifier, one-vs-all metrics on the training set.

    .venv/bin/python experiments/19_kth_cls_table4_3.py --scale smoke --out runs [--data-root DDSM] [--from-run DIR]

Without --from-run it trains the classifier itself; with the run directory of 18_kth_cls_table4_2.py it reuses
that run's data store and weights (no training). Recipe: mammoseg/recipes/kth_cls.py.
"""
import sys

from mammoseg.experiment import ThesisTable
from mammoseg.recipes import kth_cls

NAME = "19_kth_cls_table4_3"
# The thesis prints fractions (0.9026); shown here x100.
TABLE = ThesisTable(kth_cls.THESIS, "Table 4.3", "Performance metrics of the end-to-end classifier, evaluated on "
                    "the training-set", kth_cls.COLUMNS, kth_cls.HEADERS, rows={
                        "Accuracy": (90.26, 95.28, 93.35, 92.96),
                        "Specificity": (66.24, 62.54, 75.06, 67.95),
                        "Precision": (76.78, 98.10, 97.29, 90.72),
                        "Recall": (98.31, 89.85, 79.51, 89.23)})


def main(argv=None) -> int:
    return kth_cls.script_main(NAME, TABLE, "end_to_end", "train", argv)


if __name__ == "__main__":
    sys.exit(main())
