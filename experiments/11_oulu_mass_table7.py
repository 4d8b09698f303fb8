"""oulu-mass (seed 002) Table 7: Results on the INbreast dataset, models trained on OUDSM with only images with masses.

Published values: Dice (mean over images with Dice > 0), Accuracy, Specificity, F1, copied from the thesis.
Table 8's weight-1 rows are this table's ResNet-22 BCE-J models: `12_oulu_mass_table8.py --from-run RUN` reuses them.
Usage: .venv/bin/python experiments/11_oulu_mass_table7.py --scale smoke|full [--data-root DIR] [--out runs]
       [--from-run RUN_DIR] [--resnet22-weights F1 .. F5] [--resnet34-weights F] [--rows ROW ..]
"""
import sys

from mammoseg.recipes import oulu_mass

TITLE = ("Results on the INbreast dataset, models trained on OUDSM with only images with masses (L1245-1324)")
TABLE = oulu_mass.thesis_table("7", TITLE, {
    "U-Net BCE-J": (0.456, 0.138, 0.0, 0.243),
    "ResNet22FPN BCE-J": (0.795, 0.351, 0.163, 0.41),
    "ResNet22U-Net BCE-J": (0.814, 0.282, 0.073, 0.386),
    "ResNet34FPN BCE-J": (0.788, 0.387, 0.21, 0.424),
    "ResNet34U-Net BCE-J": (0.791, 0.377, 0.193, 0.423),
    "U-Net FT-B": (0.351, 0.105, 0.0, 0.19),
    "ResNet22FPN FT-B": (0.765, 0.715, 0.680, 0.575),
    "ResNet22U-Net FT-B": (0.772, 0.641, 0.575, 0.524),
    "ResNet34FPN FT-B": (0.782, 0.762, 0.725, 0.635),
    "ResNet34U-Net FT-B": (0.816, 0.746, 0.703, 0.626),
    "ResNet22FPN FT-A": (0.783, 0.810, 0.815, 0.667),
    "ResNet22U-Net FT-A": (0.781, 0.723, 0.690, 0.581),
    "ResNet34FPN FT-A": (0.794, 0.826, 0.828, 0.694),
    "ResNet34U-Net FT-A": (0.805, 0.767, 0.733, 0.635),
})


def main(argv=None) -> int:
    return oulu_mass.main("11_oulu_mass_table7", TABLE, "7", argv)


if __name__ == "__main__":
    sys.exit(main())
