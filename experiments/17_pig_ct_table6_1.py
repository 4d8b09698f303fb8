"""pig-ct Table 6.1: summary statistics (count, mean, std, min, quartiles, max) of Table 5.1's columns.

Run from the repository root:
    .venv/bin/python experiments/17_pig_ct_table6_1.py --scale smoke --out runs
Options: --data-root DIR (real scans in the pig-ct layout; default: a synthetic stand-in), --scale smoke|full,
--out DIR, --seed N, and --from-run RUN_DIR to reuse the per-scan IoUs of an earlier pig-ct table run instead of
training (e.g. the run directory of 15_pig_ct_table5_1.py).
"""
import sys

from mammoseg.experiment import ThesisTable, experiment_main
from mammoseg.recipes import pig_ct

# Seed 003 L1722-1730, as printed: row name, then one cell per column.
PUBLISHED = """
count 37 37 37 37 37 37 37 37
mean 0.954 0.956 0.916 0.958 0.955 0.956 0.962 0.778
std 0.013 0.014 0.013 0.011 0.013 0.014 0.013 0.013
min 0.896 0.895 0.855 0.910 0.896 0.895 0.899 0.751
25% 0.951 0.955 0.914 0.958 0.952 0.956 0.961 0.769
50% 0.956 0.960 0.919 0.961 0.957 0.960 0.965 0.779
75% 0.963 0.963 0.923 0.965 0.963 0.964 0.970 0.786
max 0.966 0.967 0.928 0.969 0.967 0.968 0.973 0.811
"""

HEADERS = ("transverse", "sagittal", "coronal", "tra_sag", "tra_cor", "sag_cor", "combined", "3D")  # L1721
TABLE = ThesisTable(thesis="pig-ct", table="Table 6.1", title="Summary statistics of table 5.1",
                    columns=pig_ct.COLUMNS, headers=HEADERS, rows=pig_ct.parse_thesis_rows(PUBLISHED), percent=False)


def main(argv=None) -> int:
    return experiment_main("17_pig_ct_table6_1", TABLE, pig_ct.build_config,
                           pig_ct.run_table_6_1, argv, pig_ct.extra_options())


if __name__ == "__main__":
    sys.exit(main())
