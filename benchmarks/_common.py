"""Helpers every benchmark script shares: machine provenance, the protocol's options and timers, and atomic appends
to its docs/ record."""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import time
from pathlib import Path

MIN_REPEATS = 5  # the shared benchmark protocol asks for at least five timed repetitions


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> str:
    return f"{os.cpu_count()} CPUs, {cpu_model()}"


def append_record(path: Path, header: str, lines: list[str]) -> None:
    """Append a block of lines to a Markdown record (created with `header`), atomically."""
    from mammoseg.io.atomic import atomic_write_text  # imported late: scripts pick the Keras backend first

    path = Path(path)
    text = path.read_text(encoding="utf-8") if path.is_file() else header
    atomic_write_text(path, text.rstrip("\n") + "\n\n" + "\n".join(lines) + "\n")


def machine_lines() -> list[str]:
    """Date, commit, nproc, CPU model, load and versions: the provenance lines a data-pipeline record starts with."""
    import numpy as np
    import scipy
    import tensorflow as tf

    from mammoseg.runinfo import git_commit

    when = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return [f"- date {when}; commit {git_commit()}",
            f"- machine: nproc {os.cpu_count()}, {cpu_model()}; load average {os.getloadavg()[0]:.2f} at the end "
            f"(the cores are shared with other jobs)",
            f"- versions: Python {platform.python_version()}, TensorFlow {tf.__version__}, numpy {np.__version__}, "
            f"scipy {scipy.__version__}"]


def add_protocol_options(parser: argparse.ArgumentParser, record: Path, repeats: int = 7) -> None:
    """--repeats (interleaved timed rounds) and --no-record, worded alike in every script."""
    parser.add_argument("--repeats", type=int, default=repeats, help=f"interleaved timed rounds (>= {MIN_REPEATS})")
    parser.add_argument("--no-record", action="store_true", help=f"do not append to docs/{Path(record).name}")


def parse_protocol_args(parser: argparse.ArgumentParser, argv=None) -> argparse.Namespace:
    args = parser.parse_args(argv)
    if args.repeats < MIN_REPEATS:
        parser.error(f"the protocol asks for at least {MIN_REPEATS} repetitions")
    return args


def publish(lines: list[str], record, enabled: bool, results: list[str]) -> int:
    """Print the record, append it with `record(lines)` unless --no-record, and print the RESULT lines last (the
    protocol's harness reads the final lines); the script's exit status."""
    print("\n".join(lines))
    if enabled:
        record(lines)
    print("\n".join(results))
    return 0


def timed(fn) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def runs(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)
