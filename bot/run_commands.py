"""`radar run`: the service or one cycle, a dry run, chosen feeds."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from bot.app import Radar, build_senders
from bot.command_io import OK, check_writable, err
from bot.config import Settings
from bot.errors import ConfigError
from bot.format import plural
from bot.logs import redact
from bot.memory import limit_malloc_arenas
from bot.storage import Store
from bot.watchlist import Watchlist, load_watchlist

log = logging.getLogger(__name__)


def run_config(
    settings: Settings, names: Sequence[str] | None = None, *, baseline: bool = True
) -> Watchlist:
    """Feeds and rules for `radar run`: only the feeds named (by name or URL), if any; with
    `baseline=False`, every feed alerts on what it holds at once."""
    config = load_watchlist(settings)
    if names:
        chosen = []
        for name in names:
            found = [s for s in config.feeds if name in (s.name, s.url)] or [
                s for s in config.feeds if s.name and s.name.casefold() == name.casefold()
            ]
            if not found:
                known = ", ".join(repr(s.label) for s in config.feeds)
                raise ConfigError(
                    f"--feed {name!r}: no feed of that name or URL in {settings.feeds_file} "
                    f"(feeds: {known})"
                )
            chosen += [s for s in found if s not in chosen]
        config = replace(config, feeds=chosen)
    if not baseline:
        config = replace(config, feeds=[replace(s, baseline=False) for s in config.feeds])
    return config


def run(
    settings: Settings,
    *,
    once: bool = False,
    dry_run: bool = False,
    feeds: Sequence[str] | None = None,
    json_lines: bool = False,
) -> int:
    """`radar run`: the service, or one cycle with `once`. A dry run polls into a throw-away
    database and delivers to the console only, so nothing is stored or sent."""
    with contextlib.ExitStack() as stack:
        if dry_run:
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="radar-dry-run-"))
            settings = replace(
                settings,
                db_url=f"sqlite:///{Path(folder) / 'dry-run.db'}",
                slack_token=None,
                telegram_token=None,
                http_port=None,
            )
            config = run_config(settings, feeds, baseline=False)
            err(
                f"radar: dry run of {plural(len(config.feeds), 'feed')}: alerts are printed "
                "here only; nothing is stored or sent"
            )
        else:
            check_writable(settings)
            config = run_config(settings, feeds)
        limit_malloc_arenas()
        if once:
            return asyncio.run(run_once(settings, config, json_lines=json_lines))
        from bot.service import serve

        return asyncio.run(serve(settings, config, json_lines=json_lines))


async def run_once(
    settings: Settings, config: Watchlist | None = None, *, json_lines: bool = False
) -> int:
    config = config or load_watchlist(settings)
    for warning in config.warnings:
        _tell(settings, str(warning), logging.WARNING)
    store = Store(settings.db_url)
    radar = Radar(settings, config, store, build_senders(settings, json_lines=json_lines))
    try:
        report = await radar.run_once()
    finally:
        await radar.aclose()
        store.close()
    for poll in report.errors:
        _tell(settings, redact(f"feed {poll.label}: {poll.error}"), logging.WARNING)
    _tell(settings, f"radar: {report.summary()}")
    return OK


def _tell(settings: Settings, text: str, level: int = logging.INFO) -> None:
    """A line about a run for its operator: on standard error, or as a log record when logs
    are JSON (so that everything a JSON-logging run writes there is JSON)."""
    if settings.log_format == "json":
        log.log(level, "%s", text)
    else:
        err(text)
