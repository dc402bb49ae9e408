"""Exceptions that Radar raises to its callers: one tree under `RadarError`.

    RadarError
    ├── ConfigError     feeds, rules, vocabulary or the environment are invalid (exit status 2)
    ├── InvalidValue    one value cannot be used: a phrase, a duration (its caller adds where)
    ├── FeedError       a feed's own failure: the fetch or the document (recorded, backed off)
    │   ├── FetchError      what came over the network (too large, bad encoding, a redirect)
    │   └── FeedParseError  the document is not a feed
    ├── StorageError    the database failed (exit status 1)
    ├── NotFound        an id that names nothing (an alert, a story, an item)
    ├── UsageError      a command's argument cannot be used: a duration, a git ref (exit status 2)
    │   └── RefError        a git ref: unknown, no repository, no rules folder there
    └── ArchiveError    an archive file cannot be read or written (its file and line)

Every message names what and where.
"""

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


class InvalidValue(RadarError, ValueError):
    """A value that cannot be used, and why; the caller says where it came from."""


class FeedError(RadarError):
    """A feed's own failure: it becomes the feed's error, recorded and backed off, and never
    stops the other feeds."""


class FetchError(FeedError):
    """What came over the network could not be used (too large, an unknown encoding, a refused
    redirect)."""


class FeedParseError(FeedError):
    """The document is not a feed at all (an HTML page, garbage, an empty body)."""


class NotFound(RadarError, LookupError):
    """An id that names nothing."""


class UsageError(RadarError):
    """A command was given something it cannot use (a bad duration, an unknown git ref)."""


class RefError(UsageError):
    """A git ref cannot be used: not a repository, an unknown ref, no rules folder there."""


class ArchiveError(RadarError):
    """An archive file cannot be read or written; the message names the file and line."""


class StorageError(RadarError):
    """The database failed: unreachable, full, read-only, locked too long, or of a newer Radar.

    The message names the database (without its password) and what went wrong.
    """
