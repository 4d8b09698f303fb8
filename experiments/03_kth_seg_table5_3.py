"""kth-seg (seed 000) Table 5.3: mammography test set (full images), non-adversarial models of Table 5.2.
Reuse 5.2's models with --from-run.

Run: .venv/bin/python experiments/03_kth_seg_table5_3.py --scale smoke --out runs   (full: --scale full --data-root DIR)
Extra options: --from-run RUN_DIR (reuse trained stages of an earlier kth-seg run), --vgg16-weights FILE.npz,
--resnet18-weights FILE.npz (ImageNet encoders; without them those rows start from random weights).
"""
import sys

from mammoseg.recipes import kth_seg

# Published values (pixel accuracy, mean IoU, mean per-class accuracy, %), thesis L1523-1639.
TABLE = kth_seg.thesis_table("5.3", {
    "FCN8": (95.55, 48.75, 63.16),
    "U-Net": (92.71, 43.13, 55.03),
    "Dilation10 - Front": (97.76, 52.34, 64.65),
    "Dilation10 - Global": (96.90, 43.93, 55.26),
    "Deeplab": (94.85, 31.18, 44.43),
    "GCN": (85.60, 20.78, 48.72),
})


def main(argv=None) -> int:
    return kth_seg.main("03_kth_seg_table5_3", TABLE, argv)


if __name__ == "__main__":
    sys.exit(main())
