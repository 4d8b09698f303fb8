"""oulu-mass (seed 002) Table 10: Results on OUDSM, models trained on the training subset of the INbreast dataset.

Published values: Dice (mean over images with Dice > 0), Accuracy, Specificity, F1, copied from the thesis.
Same models as Table 6: `--from-run` a Table 6 run directory to score its fold models instead of retraining.
Usage: .venv/bin/python experiments/14_oulu_mass_table10.py --scale smoke|full [--data-root DIR] [--out runs]
       [--from-run RUN_DIR] [--resnet22-weights F1 .. F5] [--resnet34-weights F] [--rows ROW ..]
"""
import sys

from mammoseg.recipes import oulu_mass

TITLE = ("Results on OUDSM, models trained on the training subset of the INbreast dataset (L1515-1568)")
TABLE = oulu_mass.thesis_table("10", TITLE, {
    "U-Net FT-B": (0.105, 0.008, 0.0, 0.015),
    "ResNet22FPN FT-B": (0.542, 0.771, 0.892, 0.167),
    "ResNet22U-Net FT-B": (0.527, 0.736, 0.835, 0.180),
    "ResNet34FPN FT-B": (0.582, 0.782, 0.918, 0.143),
    "ResNet34U-Net FT-B": (0.565, 0.699, 0.790, 0.157),
    "U-Net FT-A": (0.106, 0.008, 0.0, 0.015),
    "ResNet22FPN FT-A": (0.581, 0.796, 0.929, 0.169),
    "ResNet22U-Net FT-A": (0.608, 0.770, 0.885, 0.199),
    "ResNet34FPN FT-A": (0.570, 0.804, 0.959, 0.081),
    "ResNet34U-Net FT-A": (0.526, 0.691, 0.774, 0.158),
})


def main(argv=None) -> int:
    return oulu_mass.main("14_oulu_mass_table10", TABLE, "10", argv)


if __name__ == "__main__":
    sys.exit(main())
