"""pig-ct Table 5.1: per-scan IoU of the transverse, sagittal and coronal networks, their
averaged fusions and the 3-D block network.

Run from the repository root:
    .venv/bin/python experiments/15_pig_ct_table5_1.py --scale smoke --out runs
Options: --data-root DIR (real scans in the pig-ct layout; default: a synthetic stand-in), --scale smoke|full,
--out DIR, --seed N, and --from-run RUN_DIR to reuse the per-scan IoUs of an earlier pig-ct table run instead of
training (e.g. the run directory of 15_pig_ct_table5_1.py).
"""
import functools
import sys

from mammoseg.experiment import ThesisTable, experiment_main
from mammoseg.recipes import pig_ct

# Seed 003 L1613-1649, as printed: row name, then one cell per column.
PUBLISHED = """
10969 0.951 0.952 0.910 0.952 0.952 0.952 0.960 0.777
19813 0.963 0.966 0.928 0.964 0.964 0.966 0.972 0.769
21797 0.953 0.957 0.922 0.958 0.954 0.957 0.962 0.779
21798 0.946 0.945 0.909 0.950 0.947 0.945 0.951 0.786
21800 0.949 0.953 0.917 0.954 0.949 0.954 0.959 0.784
21811 0.965 0.957 0.919 0.966 0.966 0.958 0.966 0.791
21816 0.958 0.961 0.918 0.966 0.958 0.961 0.965 0.792
21828 0.958 0.963 0.925 0.964 0.959 0.963 0.969 0.774
21887 0.943 0.948 0.907 0.948 0.943 0.948 0.951 0.795
21901 0.965 0.961 0.927 0.966 0.965 0.961 0.971 0.772
21920 0.938 0.945 0.907 0.943 0.938 0.945 0.948 0.793
21943 0.956 0.957 0.914 0.958 0.957 0.957 0.961 0.786
21951 0.956 0.957 0.919 0.959 0.956 0.957 0.961 0.758
21952 0.956 0.960 0.915 0.962 0.957 0.961 0.963 0.782
21953 0.896 0.895 0.855 0.910 0.896 0.895 0.899 0.797
21954 0.956 0.961 0.920 0.959 0.956 0.961 0.965 0.778
21955 0.962 0.963 0.925 0.961 0.962 0.964 0.972 0.761
21967 0.965 0.964 0.926 0.966 0.966 0.964 0.972 0.790
21979 0.963 0.959 0.916 0.962 0.963 0.959 0.964 0.763
21991 0.960 0.964 0.926 0.963 0.960 0.965 0.970 0.778
22004 0.964 0.962 0.922 0.961 0.964 0.962 0.968 0.751
22005 0.948 0.950 0.907 0.952 0.948 0.950 0.954 0.777
22008 0.963 0.967 0.924 0.967 0.963 0.967 0.971 0.772
22009 0.965 0.966 0.928 0.969 0.966 0.966 0.972 0.761
22010 0.966 0.963 0.921 0.967 0.967 0.964 0.971 0.766
22011 0.931 0.919 0.892 0.939 0.931 0.920 0.933 0.811
22012 0.955 0.963 0.919 0.962 0.956 0.963 0.968 0.780
22013 0.953 0.955 0.919 0.961 0.954 0.956 0.961 0.783
22066 0.949 0.955 0.910 0.954 0.949 0.955 0.957 0.756
22216 0.952 0.956 0.915 0.960 0.952 0.957 0.961 0.790
22323 0.955 0.957 0.914 0.958 0.956 0.957 0.964 0.764
23303 0.951 0.957 0.917 0.959 0.951 0.958 0.961 0.782
23494 0.954 0.960 0.919 0.959 0.955 0.960 0.966 0.768
31125 0.956 0.966 0.918 0.965 0.957 0.966 0.969 0.785
31338 0.965 0.961 0.918 0.961 0.966 0.962 0.968 0.778
32385 0.966 0.967 0.923 0.969 0.967 0.968 0.973 0.781
32576 0.962 0.965 0.923 0.965 0.963 0.966 0.971 0.786
"""

TABLE = ThesisTable(thesis="pig-ct", table="Table 5.1", title="IoU scores for the 37 pigs in the test set",
                    columns=pig_ct.COLUMNS, headers=pig_ct.COLUMNS, rows=pig_ct.parse_thesis_rows(PUBLISHED),
                    percent=False)


def main(argv=None) -> int:
    return experiment_main("15_pig_ct_table5_1", TABLE, pig_ct.build_config,
                           functools.partial(pig_ct.run_table_5_1, thesis_rows=tuple(TABLE.rows)), argv,
                           pig_ct.extra_options())


if __name__ == "__main__":
    sys.exit(main())
