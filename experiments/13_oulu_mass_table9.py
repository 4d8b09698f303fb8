"""oulu-mass (seed 002) Table 9: Results on OUDSM, models trained on the entire training subset of OUDSM.

Published values: Dice (mean over images with Dice > 0), Accuracy, Specificity, F1, copied from the thesis.
Same models as Table 5: `--from-run` a Table 5 run directory to score its fold models instead of retraining.
Usage: .venv/bin/python experiments/13_oulu_mass_table9.py --scale smoke|full [--data-root DIR] [--out runs]
       [--from-run RUN_DIR] [--resnet22-weights F1 .. F5] [--resnet34-weights F] [--rows ROW ..]
"""
import sys

from mammoseg.recipes import oulu_mass

TITLE = ("Results on OUDSM, models trained on the entire training subset of OUDSM (L1439-1514)")
TABLE = oulu_mass.thesis_table("9", TITLE, {
    "U-Net BCE-J": (0.669, 0.129, 0.0, 0.228),
    "ResNet22FPN BCE-J": (0.640, 0.201, 0.089, 0.236),
    "ResNet22U-Net BCE-J": (0.670, 0.154, 0.029, 0.234),
    "ResNet34FPN BCE-J": (0.701, 0.265, 0.148, 0.273),
    "ResNet34U-Net BCE-J": (0.738, 0.192, 0.062, 0.256),
    "U-Net FT-B": (0.556, 0.281, 0.203, 0.220),
    "ResNet22FPN FT-B": (0.697, 0.797, 0.865, 0.414),
    "ResNet22U-Net FT-B": (0.734, 0.788, 0.844, 0.432),
    "ResNet34FPN FT-B": (0.751, 0.821, 0.881, 0.494),
    "ResNet34U-Net FT-B": (0.763, 0.810, 0.862, 0.490),
    "ResNet22FPN FT-A": (0.702, 0.819, 0.916, 0.369),
    "ResNet22U-Net FT-A": (0.722, 0.811, 0.895, 0.401),
    "ResNet34FPN FT-A": (0.675, 0.833, 0.922, 0.427),
    "ResNet34U-Net FT-A": (0.724, 0.832, 0.903, 0.474),
})


def main(argv=None) -> int:
    return oulu_mass.main("13_oulu_mass_table9", TABLE, "9", argv)


if __name__ == "__main__":
    sys.exit(main())
