"""kth-seg (seed 000) Table 5.6: mammography test set (full images) after adversarial fine-tuning.
Reuse 5.5's models with --from-run.

Run: .venv/bin/python experiments/06_kth_seg_table5_6.py --scale smoke --out runs   (full: --scale full --data-root DIR)
Extra options: --from-run RUN_DIR (reuse trained stages of an earlier kth-seg run), --vgg16-weights FILE.npz,
--resnet18-weights FILE.npz (ImageNet encoders; without them those rows start from random weights).
"""
import sys

from mammoseg.recipes import kth_seg

# Published values (pixel accuracy, mean IoU, mean per-class accuracy, %), thesis L1523-1639.
TABLE = kth_seg.thesis_table("5.6", {
    "FCN8": (96.13, 49.05, 61.79),
    "U-Net": (94.69, 44.81, 55.14),
    "Dilation10 - Front": (97.76, 52.36, 64.68),
    "Deeplab": (94.86, 31.18, 44.43),
    "GCN": (85.59, 21.12, 49.35),
})


def main(argv=None) -> int:
    return kth_seg.main("06_kth_seg_table5_6", TABLE, argv)


if __name__ == "__main__":
    sys.exit(main())
