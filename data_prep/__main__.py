"""`python -m data_prep ...` is the same as the `mammoseg-prep` console script."""
import sys

from .cli import main

sys.exit(main())
