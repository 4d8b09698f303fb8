"""kth-seg (seed 000) Table 5.1: Cityscapes validation set, nine networks, non-adversarial training.
Trains all nine rows.

Run: .venv/bin/python experiments/01_kth_seg_table5_1.py --scale smoke --out runs   (full: --scale full --data-root DIR)
Extra options: --from-run RUN_DIR (reuse trained stages of an earlier kth-seg run), --vgg16-weights FILE.npz,
--resnet18-weights FILE.npz (ImageNet encoders; without them those rows start from random weights).
"""
import sys

from mammoseg.recipes import kth_seg

# Published values (pixel accuracy, mean IoU, mean per-class accuracy, %), thesis L1523-1639.
TABLE = kth_seg.thesis_table("5.1", {
    "FCN32": (92.54, 58.05, 67.29),
    "FCN16": (93.57, 59.94, 68.55),
    "FCN8": (93.28, 59.72, 68.67),
    "U-Net": (92.51, 60.11, 69.56),
    "Dilation10 - Front": (93.62, 63.35, 72.78),
    "Dilation10 - Context": (95.87, 63.88, 75.16),
    "Dilation10 - Global": (96.53, 68.17, 79.05),
    "Deeplab": (94.04, 63.95, 74.62),
    "GCN": (94.15, 61.46, 72.74),
})


def main(argv=None) -> int:
    return kth_seg.main("01_kth_seg_table5_1", TABLE, argv)


if __name__ == "__main__":
    sys.exit(main())
