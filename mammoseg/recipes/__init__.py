"""Thesis recipes: one module per thesis, each a dataclass config + `run(config, run_dir)` per results table.

The numbered scripts in `experiments/` only build a config and name the table they reproduce.
"""
