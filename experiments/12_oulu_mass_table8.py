"""oulu-mass (seed 002) Table 8: Results on the INbreast dataset, ResNet22 encoders with different pretrained
weights, trained on OUDSM images with masses, BCE-J.

Published values: Dice (mean over images with Dice > 0), Accuracy, Specificity, F1, copied from the thesis.
The weight-1 rows are Table 7's ResNet-22 BCE-J models (`--from-run` a Table 7 run reuses them). Without
`--resnet22-weights` files rows 1-5 have random-init encoders, i.e. they are the 'None' rows' models (trained once,
said in each row's note).
Usage: .venv/bin/python experiments/12_oulu_mass_table8.py --scale smoke|full [--data-root DIR] [--out runs]
       [--from-run RUN_DIR] [--resnet22-weights F1 .. F5] [--resnet34-weights F] [--rows ROW ..]
"""
import sys

from mammoseg.recipes import oulu_mass

TITLE = ("Results on the INbreast dataset, ResNet22 encoders with different pretrained weights, trained on "
         "OUDSM images with masses, BCE-J (L1348-1411)")
TABLE = oulu_mass.thesis_table("8", TITLE, {
    "FPN 1": (0.795, 0.351, 0.163, 0.410),
    "FPN 2": (0.778, 0.346, 0.163, 0.403),
    "FPN 3": (0.779, 0.372, 0.187, 0.421),
    "FPN 4": (0.791, 0.359, 0.171, 0.416),
    "FPN 5": (0.786, 0.359, 0.173, 0.413),
    "FPN None": (0.648, 0.326, 0.170, 0.357),
    "U-Net 1": (0.814, 0.282, 0.073, 0.386),
    "U-Net 2": (0.799, 0.290, 0.083, 0.389),
    "U-Net 3": (0.810, 0.295, 0.086, 0.393),
    "U-Net 4": (0.808, 0.292, 0.083, 0.392),
    "U-Net 5": (0.807, 0.290, 0.077, 0.394),
    "U-Net None": (0.712, 0.290, 0.110, 0.363),
})


def main(argv=None) -> int:
    return oulu_mass.main("12_oulu_mass_table8", TABLE, "8", argv)


if __name__ == "__main__":
    sys.exit(main())
