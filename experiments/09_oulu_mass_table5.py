"""oulu-mass (seed 002) Table 5: Results on the INbreast dataset, models trained on OUDSM with all images.

Published values: Dice (mean over images with Dice > 0), Accuracy, Specificity, F1, copied from the thesis.
Table 9 scores the same OUDSM-trained models on OUDSM: `13_oulu_mass_table9.py --from-run RUN` reuses them.
Usage: .venv/bin/python experiments/09_oulu_mass_table5.py --scale smoke|full [--data-root DIR] [--out runs]
       [--from-run RUN_DIR] [--resnet22-weights F1 .. F5] [--resnet34-weights F] [--rows ROW ..]
"""
import sys

from mammoseg.recipes import oulu_mass

TITLE = ("Results on the INbreast dataset, models trained on OUDSM with all images (L1111-1186)")
TABLE = oulu_mass.thesis_table("5", TITLE, {
    "U-Net BCE-J": (0.743, 0.223, 0.007, 0.359),
    "ResNet22FPN BCE-J": (0.756, 0.379, 0.203, 0.418),
    "ResNet22U-Net BCE-J": (0.759, 0.308, 0.106, 0.395),
    "ResNet34FPN BCE-J": (0.773, 0.469, 0.315, 0.462),
    "ResNet34U-Net BCE-J": (0.776, 0.377, 0.193, 0.423),
    "U-Net FT-B": (0.633, 0.515, 0.410, 0.442),
    "ResNet22FPN FT-B": (0.779, 0.885, 0.956, 0.727),
    "ResNet22U-Net FT-B": (0.773, 0.872, 0.922, 0.731),
    "ResNet34FPN FT-B": (0.759, 0.872, 0.929, 0.725),
    "ResNet34U-Net FT-B": (0.805, 0.867, 0.926, 0.708),
    "ResNet22FPN FT-A": (0.802, 0.887, 0.980, 0.725),
    "ResNet22U-Net FT-A": (0.779, 0.867, 0.940, 0.690),
    "ResNet34FPN FT-A": (0.706, 0.867, 0.956, 0.675),
    "ResNet34U-Net FT-A": (0.779, 0.882, 0.956, 0.733),
})


def main(argv=None) -> int:
    return oulu_mass.main("09_oulu_mass_table5", TABLE, "5", argv)


if __name__ == "__main__":
    sys.exit(main())
