"""lrh-seg (seed 001) Table 10: mammography validation set (tumour vs non-tumour), eight networks, Table 8's options.

Run: .venv/bin/python experiments/08_lrh_seg_table10.py --scale smoke --out runs   (full: --scale full --data-root DIR)
--data-root: one folder per subject, `<subject>/image.png` + `<subject>/masks/tumor.png` (kth-seg's case layout);
the recipe replicates each subject x10 and holds out 30 % of the subjects. Without it, synthetic phantoms stand in
for the private Lady Reading Hospital data. Extra options as in 07_lrh_seg_table9.py.
"""
import sys

from mammoseg.recipes import lrh_seg

# Published values (pixel accuracy, mean IoU, mean per-class accuracy, %), thesis L2296-2335.
TABLE = lrh_seg.thesis_table("10", {
    "FCN32": (80.37, 40.06, 49.20),
    "FCN16": (78.90, 41.75, 53.13),
    "FCN8": (78.17, 45.12, 57.03),
    "U-Net": (80.49, 43.47, 53.78),
    "Dilation10 - Front": (93.03, 47.65, 60.74),
    "Dilation10 - Context": (93.46, 50.26, 64.39),
    "Dilation10 - Global": (93.69, 57.91, 67.97),
    "DeepLab v3 + ResNet": (92.17, 51.34, 62.01),
})


def main(argv=None) -> int:
    return lrh_seg.main("08_lrh_seg_table10", TABLE, argv)


if __name__ == "__main__":
    sys.exit(main())
