"""Error types: every message names the offending file (when there is one) and the problem."""
from __future__ import annotations

from pathlib import Path


class MammosegError(Exception):
    """Base class of every error mammoseg raises on purpose."""


class DataError(MammosegError):
    """Bad input data: a file that is missing, unreadable, of the wrong shape or with invalid values."""

    def __init__(self, path: str | Path | None, problem: str):
        self.path = None if path is None else Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path is not None else problem)


class ConfigError(MammosegError, ValueError):
    """An invalid option or combination of options."""
