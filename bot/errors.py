"""Exceptions that Radar raises to its callers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class RadarError(Exception):
    """Base class of Radar's own errors."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem in a configuration file, located by file and line."""

    path: Path
    line: int | None
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else f"{self.path}"
        prefix = "" if self.severity == "error" else f"{self.severity}: "
        return f"{where}: {prefix}{self.message}"


class ConfigError(RadarError):
    """Feeds, actors or rule files are invalid, or the environment is."""

    def __init__(self, problems: list[Problem] | str) -> None:
        """Problems in files (with their lines), or one message about the environment."""
        if isinstance(problems, str):
            self.problems: list[Problem] = []
            super().__init__(problems)
        else:
            self.problems = problems
            super().__init__("\n".join(str(p) for p in problems))


class StorageError(RadarError):
    """The database failed: unreachable, full, read-only, locked too long, or of a newer Radar.

    The message names the database (without its password) and what went wrong.
    """
