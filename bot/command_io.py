"""What every command shares: exit codes, lines for the terminal, and the database a command
reads or writes (kept light: `radar run` imports it before anything else)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, TextIO

from bot.config import Settings
from bot.errors import ConfigError
from bot.storage import Store
from bot.storage.engine import database_file
from bot.untrusted import for_terminal, json_for_terminal

OK, FAILED = 0, 1


def out(text: str = "") -> None:
    """A line for the terminal: stored text is feed text, and may hold escape sequences."""
    _write(sys.stdout, for_terminal(text))


def out_json(value: Any) -> None:
    _write(sys.stdout, json_for_terminal(value, indent=2))


def err(text: str) -> None:
    _write(sys.stderr, for_terminal(text))


def _write(stream: TextIO | None, line: str) -> None:
    if stream is not None:  # None: started with it closed (`radar status >&-`)
        stream.write(line + "\n")


def existing_store(settings: Settings) -> Store:
    """The database of `RADAR_DB`, for commands that only read it: a SQLite file that does not
    exist is a configuration error (reading would create an empty one and show nothing)."""
    path = database_file(settings.db_url)
    if path is not None and not path.exists():
        raise ConfigError(
            f"RADAR_DB: no database at {path}: nothing has run with it yet "
            "(set RADAR_DB or --db to the database radar run uses)"
        )
    return Store(settings.db_url)


def check_writable(settings: Settings) -> None:
    """Refuse to start with a SQLite database this user cannot write (a state directory owned
    by someone else, as when a host folder is mounted into the container), naming the fix."""
    path = database_file(settings.db_url)
    if path is None:
        return
    path = path.absolute()
    directory = next((p for p in (path.parent, *path.parent.parents) if _is_dir(p)), None)
    if directory is None or os.statvfs(directory).f_flag & os.ST_RDONLY:
        return  # a read-only file system is the database's fault to report (exit 1)
    denied = directory if not os.access(directory, os.W_OK | os.X_OK) else None
    if denied is None and path.exists() and not os.access(path, os.W_OK):
        denied = path
    if denied is not None:
        uid = os.getuid()
        raise ConfigError(
            f"RADAR_DB: {denied} is not writable by this user (uid {uid}), so the database "
            f"{path} cannot be written: give it to that user (chown -R {uid} {directory}) "
            "or mount a writable volume there"
        )


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:  # a parent this user may not enter
        return False
