"""pig-ct Table 5.2: Table 5.1's per-scan IoUs divided by each scan's transverse IoU.

Run from the repository root:
    .venv/bin/python experiments/16_pig_ct_table5_2.py --scale smoke --out runs
Options: --data-root DIR (real scans in the pig-ct layout; default: a synthetic stand-in), --scale smoke|full,
--out DIR, --seed N, and --from-run RUN_DIR to reuse the per-scan IoUs of an earlier pig-ct table run instead of
training (e.g. the run directory of 15_pig_ct_table5_1.py).
"""
import functools
import sys

from mammoseg.experiment import ThesisTable, experiment_main
from mammoseg.recipes import pig_ct

# Seed 003 L1656-1692, as printed: row name, then one cell per column.
PUBLISHED = """
10969 1.0 1.001 0.957 1.001 1.001 1.001 1.009 0.817
19813 1.0 1.003 0.964 1.001 1.001 1.003 1.009 0.799
21797 1.0 1.004 0.967 1.005 1.001 1.004 1.009 0.817
21798 1.0 0.999 0.961 1.004 1.001 0.999 1.005 0.831
21800 1.0 1.004 0.966 1.005 1.000 1.005 1.011 0.826
21811 1.0 0.992 0.952 1.001 1.001 0.993 1.001 0.820
21816 1.0 1.003 0.958 1.008 1.000 1.003 1.007 0.827
21828 1.0 1.005 0.966 1.006 1.001 1.005 1.011 0.808
21887 1.0 1.005 0.962 1.005 1.000 1.005 1.008 0.843
21901 1.0 0.996 0.961 1.001 1.000 0.996 1.006 0.800
21920 1.0 1.007 0.967 1.005 1.000 1.007 1.011 0.845
21943 1.0 1.001 0.956 1.002 1.001 1.001 1.005 0.822
21951 1.0 1.001 0.961 1.003 1.000 1.001 1.005 0.793
21952 1.0 1.004 0.957 1.006 1.001 1.005 1.007 0.818
21953 1.0 0.999 0.954 1.016 1.000 0.999 1.003 0.890
21954 1.0 1.005 0.962 1.003 1.000 1.005 1.009 0.814
21955 1.0 1.001 0.962 0.999 1.000 1.002 1.010 0.791
21967 1.0 0.999 0.960 1.001 1.001 0.999 1.007 0.819
21979 1.0 0.996 0.951 0.999 1.000 0.996 1.001 0.792
21991 1.0 1.004 0.965 1.003 1.000 1.005 1.010 0.810
22004 1.0 0.998 0.956 0.997 1.000 0.998 1.004 0.779
22005 1.0 1.002 0.957 1.004 1.000 1.002 1.006 0.820
22008 1.0 1.004 0.960 1.004 1.000 1.004 1.008 0.802
22009 1.0 1.001 0.962 1.004 1.001 1.001 1.007 0.789
22010 1.0 0.997 0.953 1.001 1.001 0.998 1.005 0.793
22011 1.0 0.987 0.958 1.009 1.000 0.988 1.002 0.871
22012 1.0 1.008 0.962 1.007 1.001 1.008 1.014 0.817
22013 1.0 1.002 0.964 1.008 1.001 1.003 1.008 0.822
22066 1.0 1.006 0.959 1.005 1.000 1.006 1.008 0.797
22216 1.0 1.004 0.961 1.008 1.000 1.005 1.009 0.830
22323 1.0 1.002 0.957 1.003 1.001 1.002 1.009 0.800
23303 1.0 1.006 0.964 1.008 1.000 1.007 1.011 0.822
23494 1.0 1.006 0.963 1.005 1.001 1.006 1.013 0.805
31125 1.0 1.010 0.960 1.009 1.001 1.010 1.014 0.821
31338 1.0 0.996 0.951 0.996 1.001 0.997 1.003 0.806
32385 1.0 1.001 0.955 1.003 1.001 1.002 1.007 0.808
32576 1.0 1.003 0.959 1.003 1.001 1.004 1.009 0.817
"""

TABLE = ThesisTable(thesis="pig-ct", table="Table 5.2",
                    title='IoU scores for the 37 pigs in the test set seen relative to the scores in the "transverse" '
                          'column',
                    columns=pig_ct.COLUMNS, headers=pig_ct.COLUMNS, rows=pig_ct.parse_thesis_rows(PUBLISHED),
                    percent=False)


def main(argv=None) -> int:
    return experiment_main("16_pig_ct_table5_2", TABLE, pig_ct.build_config,
                           functools.partial(pig_ct.run_table_5_2, thesis_rows=tuple(TABLE.rows)), argv,
                           pig_ct.extra_options())


if __name__ == "__main__":
    sys.exit(main())
