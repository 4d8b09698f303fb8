"""kth-seg (seed 000) Table 5.5: mammography validation crops after adversarial fine-tuning of five networks.
Reuse 5.2's models with --from-run.

Run: .venv/bin/python experiments/05_kth_seg_table5_5.py --scale smoke --out runs   (full: --scale full --data-root DIR)
Extra options: --from-run RUN_DIR (reuse trained stages of an earlier kth-seg run), --vgg16-weights FILE.npz,
--resnet18-weights FILE.npz (ImageNet encoders; without them those rows start from random weights).
"""
import sys

from mammoseg.recipes import kth_seg

# Published values (pixel accuracy, mean IoU, mean per-class accuracy, %), thesis L1523-1639.
TABLE = kth_seg.thesis_table("5.5", {
    "FCN8": (89.40, 54.67, 65.01),
    "U-Net": (84.69, 45.79, 55.94),
    "Dilation10 - Front": (92.88, 58.35, 68.22),
    "Deeplab": (93.09, 52.77, 62.82),
    "GCN": (92.73, 47.28, 56.29),
})


def main(argv=None) -> int:
    return kth_seg.main("05_kth_seg_table5_5", TABLE, argv)


if __name__ == "__main__":
    sys.exit(main())
