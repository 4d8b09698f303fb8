"""kth-seg (seed 000) Table 5.4: Cityscapes validation set after adversarial fine-tuning of five networks.
Reuse 5.1's models with --from-run.

Run: .venv/bin/python experiments/04_kth_seg_table5_4.py --scale smoke --out runs   (full: --scale full --data-root DIR)
Extra options: --from-run RUN_DIR (reuse trained stages of an earlier kth-seg run), --vgg16-weights FILE.npz,
--resnet18-weights FILE.npz (ImageNet encoders; without them those rows start from random weights).
"""
import sys

from mammoseg.recipes import kth_seg

# Published values (pixel accuracy, mean IoU, mean per-class accuracy, %), thesis L1523-1639.
TABLE = kth_seg.thesis_table("5.4", {
    "FCN8": (93.25, 61.44, 70.30),
    "U-Net": (92.42, 63.48, 73.49),
    "Dilation10 - Front": (93.34, 64.36, 75.12),
    "Deeplab": (94.09, 66.32, 76.64),
    "GCN": (93.95, 65.33, 75.73),
})


def main(argv=None) -> int:
    return kth_seg.main("04_kth_seg_table5_4", TABLE, argv)


if __name__ == "__main__":
    sys.exit(main())
