"""Dataset kinds the `mammoseg-prep` commands accept; a module without heavy imports, so that building the
command-line parser (and `--help`) stays fast."""

EXPORT_KINDS = ("kth-seg", "oulu-mass", "cityscapes", "pig-ct")  # export-nnunet
TABLE_KINDS = ("kth-seg", "cityscapes", "oulu-mass", "pig-ct", "nnunet")  # inspect --root
