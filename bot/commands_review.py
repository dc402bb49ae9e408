"""Commands for reviewing rule changes: `radar archive`, `radar backtest`, `radar ci rules` and
`radar feedback`, printing for people (the CLI parses arguments only)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from bot.archive import ArchiveError, export_archive, import_archive, read_archive
from bot.config import Settings
from bot.errors import RadarError
from bot.feeds import parse_duration
from bot.format import plural
from bot.storage import Store

OK, FAILED, USAGE = 0, 1, 2


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")


class UsageError(RadarError):
    """A command was given something it cannot use (a bad duration, an unknown git ref)."""


def since_cutoff(since: str | None, now: float) -> float | None:
    """`--since 30d` as the earliest first-seen time, or None for everything."""
    if not since:
        return None
    try:
        return now - parse_duration(since)
    except ValueError as exc:
        raise UsageError(f"--since {since}: {exc}") from exc


def archive_export(settings: Settings, path: Path, since: str | None) -> int:
    try:
        cutoff = since_cutoff(since, time.time())
    except UsageError as exc:
        _err(f"radar: archive export: {exc}")
        return USAGE
    store = Store(settings.db_url)
    try:
        count = export_archive(store, path, cutoff)
    except ArchiveError as exc:
        _err(f"radar: archive export: {exc}")
        return FAILED
    finally:
        store.close()
    _out(f"exported {plural(count, 'item')} to {path}")
    return OK


def archive_import(settings: Settings, path: Path) -> int:
    store = Store(settings.db_url)
    try:
        imported = import_archive(store, read_archive(path))
    except ArchiveError as exc:
        _err(
            f"radar: archive import: {exc} (the lines before it were imported; importing again skips them)"
        )
        return USAGE
    finally:
        store.close()
    _out(
        f"imported {plural(imported.added, 'item')} from {path}; "
        f"{imported.skipped} already stored (same GUID or link) skipped"
    )
    return OK
