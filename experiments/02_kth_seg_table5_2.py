"""kth-seg (seed 000) Table 5.2: mammography validation crops, nine networks, non-adversarial training.
Trains all nine rows.

Run: .venv/bin/python experiments/02_kth_seg_table5_2.py --scale smoke --out runs   (full: --scale full --data-root DIR)
Extra options: --from-run RUN_DIR (reuse trained stages of an earlier kth-seg run), --vgg16-weights FILE.npz,
--resnet18-weights FILE.npz (ImageNet encoders; without them those rows start from random weights).
"""
import sys

from mammoseg.recipes import kth_seg

# Published values (pixel accuracy, mean IoU, mean per-class accuracy, %), thesis L1523-1639.
TABLE = kth_seg.thesis_table("5.2", {
    "FCN32": (81.06, 40.75, 49.89),
    "FCN16": (79.61, 42.46, 53.84),
    "FCN8": (78.89, 45.84, 57.75),
    "U-Net": (81.19, 44.17, 54.48),
    "Dilation10 - Front": (93.03, 57.91, 67.97),
    "Dilation10 - Context": (93.46, 47.65, 60.74),
    "Dilation10 - Global": (93.69, 50.26, 64.39),
    "Deeplab": (92.79, 51.56, 62.11),
    "GCN": (93.36, 40.07, 55.63),
})


def main(argv=None) -> int:
    return kth_seg.main("02_kth_seg_table5_2", TABLE, argv)


if __name__ == "__main__":
    sys.exit(main())
