"""`radar feeds list|test|import|export`: the operator's view of the feeds file."""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from bot import decide
from bot.command_io import FAILED, OK, err, existing_store, out
from bot.config import Settings
from bot.durations import format_duration
from bot.errors import ConfigError, FeedParseError
from bot.feeds import add_feeds_text, feed_url_problem, load_feeds, normalise_feed_url
from bot.fetch import Fetcher, read_local
from bot.format import plural, when
from bot.logs import redact
from bot.models import FeedSpec, FetchResult
from bot.opml import read_opml, write_opml
from bot.parse import parse_feed
from bot.rules.load import load_rules
from bot.snapshot import FeedRow, ago, feed_health, feed_rows
from bot.storage.engine import database_file
from bot.urls import resolve_local

NEW_FILE = "# Feeds Radar polls (see the README). Durations: 30s, 5m, 2h, 3d.\n"


def _rows(settings: Settings, feeds: list[FeedSpec], now: float) -> tuple[list[FeedRow], str]:
    """Each feed with its stored state, and a note when there is no database yet."""
    path = database_file(settings.db_url)
    if path is not None and not path.exists():
        rows = [FeedRow(spec, None, feed_health(None, now)) for spec in feeds]
        return rows, f"no database at {path} yet: every feed shows as new"
    store = existing_store(settings)
    try:
        return feed_rows(store, feeds, now, last_items=True), ""
    finally:
        store.close()


def feeds_list(settings: Settings, *, as_json: bool = False) -> int:
    feeds = load_feeds(settings.feeds_file).feeds
    now = time.time()
    rows, note = _rows(settings, feeds, now)
    if as_json:
        entries = [
            {
                "name": redact(row.name),
                "url": redact(row.spec.url),
                "interval": format_duration(row.spec.interval),
                "tags": list(row.spec.tags),
                "health": row.health.value,
                "last_poll": row.state.last_poll if row.state else None,
                "last_error": redact(row.state.last_error)
                if row.state and row.state.last_error
                else None,
                "last_item": {
                    "title": row.last_item.item.title,
                    "link": row.last_item.item.link,
                    "first_seen": row.last_item.first_seen,
                }
                if row.last_item
                else None,
            }
            for row in rows
        ]
        out(json.dumps({"feeds_file": str(settings.feeds_file), "feeds": entries}, indent=2))
        return OK
    if note:
        err(f"radar: {note}")
    out(f"{plural(len(rows), 'feed')} in {settings.feeds_file}")
    for row in rows:
        tags = f" [{', '.join(row.spec.tags)}]" if row.spec.tags else ""
        out(
            f"{row.health.value:<8} {redact(row.name)} (every {format_duration(row.spec.interval)}){tags}"
        )
        out(f"         {redact(row.spec.url)}")
        if row.last_item is not None:
            item = row.last_item
            out(f"         last new item {ago(now, item.first_seen)}: {item.item.title}")
        elif row.state is not None and row.state.last_poll:
            out("         no item stored yet")
        if row.state is not None and row.state.last_error:
            out(f"         last error: {redact(row.state.last_error)}")
    return OK


def _find(settings: Settings, target: str) -> FeedSpec:
    """The feed `target` names in the feeds file (by name or URL), else a new one."""
    try:
        feeds = load_feeds(settings.feeds_file).feeds
    except ConfigError:
        feeds = []
    url = normalise_feed_url(target)
    for spec in feeds:
        if target in (spec.name, spec.url) or url == spec.url:
            return spec
    return FeedSpec(url=url)


async def _fetch(settings: Settings, spec: FeedSpec) -> FetchResult:
    if spec.is_local:
        path = resolve_local(spec.url, settings.feeds_file)
        return read_local(spec.url, path, settings.fetch.max_bytes)
    async with Fetcher(settings.fetch) as fetcher:
        return await fetcher.fetch(spec.url)


async def feeds_test(settings: Settings, target: str, *, matching: bool = False) -> int:
    """Fetch and parse one feed now and show which rules each item matches; store nothing."""
    spec = _find(settings, target)
    if (problem := feed_url_problem(spec.url)) is not None:
        raise ConfigError(f"{redact(spec.url)}: {problem}")
    ruleset = load_rules(settings.rules_dir, exclude=(settings.feeds_file,)).ruleset
    result = await _fetch(settings, spec)
    shown = redact(spec.url)
    if result.error is not None or result.status is None or result.status >= 400:
        err(f"radar: {shown}: {result.error or f'HTTP {result.status}'}")
        return FAILED
    try:
        parsed = parse_feed(
            result.body or b"",
            feed_url=spec.url,
            base_url=result.final_url if result.final_url and not spec.is_local else None,
            content_type=result.headers.get("content-type"),
            feed_name=spec.name,
            with_content=any("content" in r.fields for r in ruleset.rules),
        )
    except FeedParseError as exc:
        err(f"radar: {shown}: {exc}")
        return FAILED
    now = time.time()
    status = f"HTTP {result.status}" if not spec.is_local else "local file"
    out(
        f"{parsed.title or spec.label} — {shown}: {status}, {plural(len(parsed.items), 'item')}, "
        f"{len(result.body or b'')} bytes in {result.elapsed:.2f}s"
    )
    if result.permanent_redirect:
        out(f"moved permanently to {redact(result.permanent_redirect)}")
    if parsed.warning:
        out(f"warning: {parsed.warning}")
    matched = 0
    for item in parsed.items:
        matches = ruleset.match(item)
        if matches.rules:
            matched += 1
        elif matching:
            continue
        effective = decide.effective_time(item.published, now)
        old = effective < now - spec.max_age
        mark = ", ".join(matches.rule_ids) if matches.rules else "-"
        out()
        out(f"[{mark}] {item.title}")
        details = [item.outlet, when(item.published)]
        if old:
            details.append(f"older than max_age {format_duration(spec.max_age)}: would not alert")
        out(f"    {' · '.join(d for d in details if d)}")
        if item.link:
            out(f"    {item.link}")
        for rule in matches.rules:
            words = ", ".join(repr(w) for w in rule.words())
            out(f"    {rule.rule_id}: {words}")
    out()
    out(
        f"{matched} of {plural(len(parsed.items), 'item')} match a rule of {settings.rules_dir} "
        "(nothing was stored)"
    )
    return OK


def _write_atomically(path: Path, text: str) -> None:
    """Replace `path` with `text` after checking the new file loads as a feeds file."""
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    temporary = Path(name)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
        load_feeds(temporary)
        if path.exists():
            temporary.chmod(path.stat().st_mode & 0o7777)
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def feeds_import(settings: Settings, opml: Path, *, dry_run: bool = False) -> int:
    """Append the OPML file's feeds that the feeds file lacks; comments and layout stay."""
    outlines = read_opml(opml)
    path = settings.feeds_file
    text = path.read_text(encoding="utf-8") if path.exists() else NEW_FILE
    known = {s.url for s in load_feeds(path).feeds} if path.exists() else set()
    entries: list[dict[str, Any]] = []
    skipped = 0
    for outline in outlines:
        url = normalise_feed_url(outline.url)
        if url in known:
            skipped += 1
            continue
        problem = "not a web feed" if FeedSpec(url).is_local else feed_url_problem(url)
        if problem is not None:
            err(f"radar: {opml}: skipping {redact(url)!r}: {problem}")
            continue
        known.add(url)
        entry: dict[str, Any] = {"url": url}
        if outline.title:
            entry["name"] = outline.title
        if outline.tags:
            entry["tags"] = list(outline.tags)
        entries.append(entry)
    for entry in entries:
        out(
            f"{'would add' if dry_run else 'added'}: {entry.get('name', entry['url'])} ({redact(entry['url'])})"
        )
    if entries and not dry_run:
        _write_atomically(path, add_feeds_text(text, path, entries))
    out(
        f"{plural(len(entries), 'feed')} {'to add to' if dry_run else 'added to'} {path}"
        + (f"; {skipped} already there" if skipped else "")
    )
    return OK


def feeds_export(settings: Settings, output: Path | None) -> int:
    feeds = load_feeds(settings.feeds_file).feeds
    web = [s for s in feeds if not s.is_local]
    if len(web) < len(feeds):
        err(f"radar: {plural(len(feeds) - len(web), 'local file feed')} left out of the OPML")
    text = write_opml(web)
    if output is None:
        out(text.rstrip("\n"))
    else:
        output.write_text(text, encoding="utf-8")
        err(f"radar: {plural(len(web), 'feed')} written to {output}")
    return OK
