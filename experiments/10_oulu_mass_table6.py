"""oulu-mass (seed 002) Table 6: Results on the INbreast test subset, models trained on the INbreast training subset
with images without masses included.

Published values: Dice (mean over images with Dice > 0), Accuracy, Specificity, F1, copied from the thesis.
Table 10 scores the same INbreast-trained models on OUDSM: `14_oulu_mass_table10.py --from-run RUN` reuses them.
Usage: .venv/bin/python experiments/10_oulu_mass_table6.py --scale smoke|full [--data-root DIR] [--out runs]
       [--from-run RUN_DIR] [--resnet22-weights F1 .. F5] [--resnet34-weights F] [--rows ROW ..]
"""
import sys

from mammoseg.recipes import oulu_mass

TITLE = ("Results on the INbreast test subset, models trained on the INbreast training subset with images "
         "without masses included (L1189-1244)")
TABLE = oulu_mass.thesis_table("6", TITLE, {
    "U-Net FT-B": (0.193, 0.010, 0.0, 0.021),
    "ResNet22FPN FT-B": (0.661, 0.781, 0.903, 0.488),
    "ResNet22U-Net FT-B": (0.621, 0.812, 0.889, 0.609),
    "ResNet34FPN FT-B": (0.709, 0.792, 0.944, 0.474),
    "ResNet34U-Net FT-B": (0.682, 0.833, 0.915, 0.652),
    "U-Net FT-A": (0.211, 0.031, 0.0, 0.061),
    "ResNet22FPN FT-A": (0.626, 0.802, 0.931, 0.513),
    "ResNet22U-Net FT-A": (0.665, 0.781, 0.887, 0.533),
    "ResNet34FPN FT-A": (0.668, 0.719, 0.930, 0.182),
    "ResNet34U-Net FT-A": (0.661, 0.844, 0.875, 0.706),
})


def main(argv=None) -> int:
    return oulu_mass.main("10_oulu_mass_table6", TABLE, "6", argv)


if __name__ == "__main__":
    sys.exit(main())
