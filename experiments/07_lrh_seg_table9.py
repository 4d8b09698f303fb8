"""lrh-seg (seed 001) Table 9: Cityscapes validation set, eight networks, trained with Table 8's options.

Run: .venv/bin/python experiments/07_lrh_seg_table9.py --scale smoke --out runs   (full: --scale full --data-root DIR)
Extra options: --from-run RUN_DIR (reuse stages an earlier run of this table trained with the same settings),
--vgg16-weights FILE.npz, --resnet18-weights FILE.npz (ImageNet encoders; without them FCN32, Dilation10 front and
DeepLab start from random weights). Recipe: mammoseg/recipes/lrh_seg.py; gaps: docs/reproduction/lrh-seg.md.
"""
import sys

from mammoseg.recipes import lrh_seg

# Published values (pixel accuracy, mean IoU, mean per-class accuracy, %), thesis L2230-2277 ("CN32" = FCN32).
TABLE = lrh_seg.thesis_table("9", {
    "FCN32": (91.84, 57.35, 66.59),
    "FCN16": (92.88, 59.25, 67.86),
    "FCN8": (92.57, 59.01, 67.96),
    "U-Net": (91.81, 58.87, 68.86),
    "Dilation10 - Front": (92.98, 62.94, 72.78),
    "Dilation10 - Context": (95.37, 63.29, 75.16),
    "Dilation10 - Global": (96.09, 67.87, 79.05),
    "DeepLab v3 + ResNet": (93.97, 63.75, 74.53),
})


def main(argv=None) -> int:
    return lrh_seg.main("07_lrh_seg_table9", TABLE, argv)


if __name__ == "__main__":
    sys.exit(main())
