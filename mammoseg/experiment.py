"""Shared scaffolding for the numbered experiment scripts (`experiments/NN_<thesis>_<table>.py`).

An experiment is a recipe: a dataclass config + `run(config, run_dir) -> list of result rows`. The script only
builds the config and names the thesis table; this module gives every script the same command line
(`--data-root`, `--scale smoke|full`, `--out`, `--seed`), the same run directory (config.json with git commit and
versions, table.md with the thesis' numbers beside ours, results.csv) and the same honesty rules (a row we could
not run says why instead of showing a number).
"""
from __future__ import annotations

import argparse
import csv
import math
import sys
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Callable, Sequence

SCALES = ("smoke", "full")


def check_scale(scale: str) -> None:
    """The one check every recipe makes of `--scale` (configs can also be built from Python, not only the CLI)."""
    from .errors import ConfigError

    if scale not in SCALES:
        raise ConfigError(f"scale must be one of {', '.join(SCALES)}, not {scale!r}")


@dataclass
class ThesisTable:
    """A results table of a thesis: which seed/table, its columns and its published rows."""
    thesis: str  # e.g. "kth-seg"
    table: str  # e.g. "Table 5.3"
    title: str
    columns: Sequence[str]  # metric keys, in the thesis' column order
    headers: Sequence[str]  # column headings as the thesis prints them
    rows: dict  # model/row name -> tuple of published values (same order as columns), in the thesis' units
    percent: bool = True  # thesis values are percentages: ours (fractions) are multiplied by 100


@dataclass
class ResultRow:
    name: str
    metrics: dict = field(default_factory=dict)  # column key -> value as a fraction (or raw value if not percent)
    note: str = ""  # e.g. "smoke scale", "skipped: needs ImageNet weights"


def format_value(value, percent: bool) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{100 * value:.2f}" if percent else f"{value:.4g}"


def _thesis_cell(value, percent: bool) -> str:
    """Published values as printed: percentages with 2 decimals, other numbers with up to 4 significant digits."""
    if isinstance(value, (int, float)):
        return f"{value:.2f}" if percent else f"{value:.4g}"
    return str(value)


def comparison_table(table: ThesisTable, rows: list[ResultRow], context: str = "") -> str:
    """Markdown: our value and the thesis' value side by side for every column."""
    head = ["row"] + [f"{h} (ours)" for h in table.headers] + [f"{h} (thesis)" for h in table.headers] + ["note"]
    lines = [f"### {table.thesis} {table.table}: {table.title}", ""]
    if context:
        lines += [context, ""]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    names = list(dict.fromkeys([r.name for r in rows] + list(table.rows)))
    by_name = {r.name: r for r in rows}
    for name in names:
        ours = by_name.get(name)
        thesis = table.rows.get(name)
        cells = [format_value(ours.metrics.get(c) if ours else None, table.percent) for c in table.columns]
        cells += [_thesis_cell(v, table.percent) for v in thesis] if thesis else ["–"] * len(table.columns)
        note = ours.note if ours else "not run"
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {note} |")
    return "\n".join(lines) + "\n"


def write_results(run_dir: Path, table: ThesisTable, rows: list[ResultRow], context: str = "") -> str:
    from .io.atomic import atomic_path, atomic_write_text

    text = comparison_table(table, rows, context)
    atomic_write_text(run_dir / "table.md", text)
    with atomic_path(run_dir / "results.csv") as tmp, open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["row", *table.columns, "note"])
        for r in rows:
            writer.writerow([r.name, *[r.metrics.get(c, "") for c in table.columns], r.note])
    return text


def make_run_dir(out_root: str | Path, name: str, config) -> Path:
    from .runinfo import environment, git_commit, timestamp
    from .train.loop import write_json

    run_dir = Path(out_root) / name / timestamp()
    run_dir.mkdir(parents=True, exist_ok=False)
    payload = asdict(config) if is_dataclass(config) else dict(config)
    write_json(run_dir / "config.json", {"experiment": name, "config": payload, "git_commit": git_commit(),
                                         "env": environment()})
    return run_dir


COMMON_OPTIONS = ("data_root", "scale", "out", "seed")


def experiment_parser(description: str, extra_options: argparse.ArgumentParser | None = None
                      ) -> argparse.ArgumentParser:
    """The common options, plus a recipe's own (a parser made with add_help=False) so `--help` lists them all."""
    p = argparse.ArgumentParser(description=description, parents=[extra_options] if extra_options else [])
    p.add_argument("--data-root", default=None, help="real data in the documented layout; default: synthetic")
    p.add_argument("--scale", choices=SCALES, default="smoke", help="smoke: minutes on a CPU; full: thesis sizes")
    p.add_argument("--out", default="runs", help="parent folder of the run directory")
    p.add_argument("--seed", type=int, default=0)
    return p


def from_run_option(help_text: str) -> argparse.ArgumentParser:
    """`--from-run RUN_DIR`, which most recipes offer (reuse what an earlier run of the same recipe trained)."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--from-run", default=None, metavar="RUN_DIR", help=help_text)
    return p


def experiment_main(name: str, table: ThesisTable, build_config: Callable, run: Callable, argv=None,
                    extra_options: argparse.ArgumentParser | None = None) -> int:
    """Parse the common options (and the recipe's `extra_options`), build the config, run it, write table.md +
    results.csv, print the table.

    `build_config` gets `scale`, `data_root`, `seed` and one keyword per extra option (its argparse dest).
    """
    from .errors import MammosegError

    args = experiment_parser(f"{table.thesis} {table.table}: {table.title}", extra_options).parse_args(argv)
    extras = {k: v for k, v in vars(args).items() if k not in COMMON_OPTIONS}
    try:
        config = build_config(scale=args.scale, data_root=args.data_root, seed=args.seed, **extras)
        run_dir = make_run_dir(args.out, name, config)
        rows, context = run(config, run_dir)
        text = write_results(run_dir, table, rows, context)
    except MammosegError as exc:
        print(f"{name}: error: {exc}", file=sys.stderr)
        return 2
    print(text)
    print(f"run directory: {run_dir}")
    return 0
