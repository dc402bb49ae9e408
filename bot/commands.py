"""What each `radar` command does, printing for people (the CLI parses arguments only)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

from bot.config import Settings
from bot.deliver.route import unreachable
from bot.errors import ConfigError, Problem
from bot.feeds import format_duration, load_feeds
from bot.format import plural, when
from bot.logs import redact
from bot.merge import Evidence
from bot.merge.params import PARAMS, unknown_facets
from bot.models import Item
from bot.rules import load_rules
from bot.rules.version import rules_version, short
from bot.rules.wildcards import common_word_problems
from bot.snapshot import ago, take
from bot.storage import AlertRecord, Store
from bot.storage.engine import database_file
from bot.types import DeliveryStatus
from bot.untrusted import for_terminal, json_for_terminal

OK, FAILED = 0, 1


def _out(text: str = "") -> None:
    """A line for the terminal: stored text is feed text, and may hold escape sequences."""
    sys.stdout.write(for_terminal(text) + "\n")


def _out_json(value: Any) -> None:
    sys.stdout.write(json_for_terminal(value, indent=2) + "\n")


def _err(text: str) -> None:
    sys.stderr.write(for_terminal(text) + "\n")


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


def rules_check(settings: Settings) -> int:
    problems: list[Problem] = []
    feeds = rules = None
    try:
        feeds = load_feeds(settings.feeds_file)
        problems.extend(feeds.problems)
    except ConfigError as exc:
        problems.extend(exc.problems)
    try:
        rules = load_rules(settings.rules_dir, exclude=(settings.feeds_file,))
        problems.extend(rules.warnings)
        problems.extend(common_word_problems(rules.wildcards, rules.ruleset.lexicon.wording))
        problems.extend(
            Problem(
                rule.path,
                None,
                f"alerts on {rule.id!r} would reach no destination: {why}",
                "warning",
            )
            for rule in rules.ruleset.rules
            if (why := unreachable(rule, settings)) is not None
        )
        problems.extend(
            Problem(settings.rules_dir / "concepts.yaml", None, message, "warning")
            for message in unknown_facets(PARAMS, rules.ruleset.lexicon.facet_catalogue())
        )
    except ConfigError as exc:
        problems.extend(exc.problems)
    for problem in problems:
        _out(str(problem))
    errors = [p for p in problems if p.severity == "error"]
    if errors or feeds is None or rules is None:
        _out(f"{plural(len(errors), 'error')} found")
        return FAILED
    ruleset = rules.ruleset
    parts = [
        plural(len(feeds.feeds), "feed"),
        plural(len(ruleset.rules), "rule"),
        plural(len(ruleset.actors), "actor"),
        plural(len(ruleset.lexicon.concepts), "concept"),
    ]
    if problems:
        parts.append(plural(len(problems), "warning"))
    _out("ok: " + ", ".join(parts))
    return OK


def rules_test(settings: Settings) -> int:
    ruleset = load_rules(settings.rules_dir, exclude=(settings.feeds_file,)).ruleset
    from bot.rules.examples import run_examples

    checked, failures = run_examples(ruleset)
    for failure in failures:
        _out(str(failure))
    if failures:
        _out(f"{len(failures)} of {plural(checked, 'example')} failed")
        return FAILED
    _out(f"ok: {checked} examples of {len(ruleset.rules)} rules behave as written")
    return OK


def rules_explain(settings: Settings, text: str | None, item_id: int | None) -> int:
    ruleset = load_rules(settings.rules_dir, exclude=(settings.feeds_file,)).ruleset
    if item_id is not None:
        store = Store(settings.db_url)
        try:
            stored = store.items.get(item_id)
        finally:
            store.close()
        if stored is None:
            _err(f"radar: no stored item with id {item_id}")
            return FAILED
        item = stored.item
        _out(f"item {item_id}: {item.title} ({item.outlet})")
    elif text:
        item = Item(feed_url="", guid="", title=text)
    else:
        _err("radar: give a TEXT to explain, or --item ID")
        return FAILED
    verdicts = ruleset.explain(item)
    matches = ruleset.match(item)
    for verdict in verdicts:
        rule = verdict.rule
        mark = "MATCH" if verdict.matched else "no   "
        _out(f"{mark} {rule.id} — {rule.title} ({rule.severity})")
        if verdict.matched:
            for hit in verdict.hits:
                _out(f"        {hit.kind} {hit.term!r} matched {hit.text!r} in {hit.field}")
        else:
            _out(f"        {verdict.reason}")
    if matches.actors:
        names = ", ".join(ruleset.actors[a].name for a in sorted(matches.actors))
        _out(f"actors found: {names}")
    return OK


def _shown(text: str | None) -> str | None:
    """Stored text as shown: without secrets or URL credentials (older rows may hold them)."""
    return redact(text) if text else text


def sources(settings: Settings, database: str) -> dict[str, str]:
    """Which database, feeds file and rules folder a command reads."""
    return {
        "database": database,
        "feeds": str(settings.feeds_file),
        "rules": str(settings.rules_dir),
        "rules_version": rules_version(settings.rules_dir) if settings.rules_dir.is_dir() else "",
    }


def status(settings: Settings, *, as_json: bool = False) -> int:
    """Exit 1 when a feed is failing, broken or gone, or a delivery failed."""
    feeds = load_feeds(settings.feeds_file).feeds
    store = existing_store(settings)
    now = time.time()
    try:
        snapshot = take(store, feeds, now)
        latest = store.alerts.latest()
    finally:
        store.close()
    source = sources(settings, store.name)
    failing = snapshot.failing_feeds
    failed_rows = snapshot.failed_deliveries
    held = snapshot.held
    verdict = FAILED if failing or failed_rows or held else OK
    rows: list[dict[str, Any]] = []
    for row in snapshot.feeds:
        state = row.state
        validators = [
            n
            for n, v in (
                ("etag", state and state.etag),
                ("last-modified", state and state.last_modified),
            )
            if v
        ]
        rows.append(
            {
                "url": redact(row.spec.url),
                "name": redact(row.name),
                "health": row.health.value,
                "interval": format_duration(row.spec.interval),
                "last_poll": state.last_poll if state else None,
                "last_change": state.last_change if state else None,
                "http_status": state.last_status if state else None,
                "validators": validators or (["body hash"] if state and state.body_hash else []),
                "next_due": state.next_due if state else None,
                "failures": state.failures if state else 0,
                "last_error": _shown(state.last_error) if state else None,
                "moved_to": _shown(state.moved_to) if state else None,
            }
        )
    outbox = snapshot.outbox
    if as_json:
        payload = {
            "sources": source,
            "ok": verdict == OK,
            "feeds": rows,
            "deliveries": {f"{kind}:{st}": n for (kind, st), n in sorted(outbox.items())},
            "failed": [
                {"destination": d.destination, "error": _shown(d.error), "alert": d.alert_id}
                for d in snapshot.failed
            ],
            "held": [
                {"service": h.service, "reason": _shown(h.reason), "since": h.since} for h in held
            ],
            "retrying": [
                {
                    "destination": d.destination,
                    "error": _shown(d.error),
                    "next_attempt": d.next_attempt,
                }
                for d in snapshot.retrying
            ],
            "subscribers": {
                "chats": snapshot.chats,
                "by_topic": {t: len(c) for t, c in snapshot.subscribers.items()},
            },
            "archive": snapshot.counts,
            "rules": _rules_status(settings, latest),
        }
        _out_json(payload)
        return verdict
    rules = _rules_status(settings, latest)
    _out(f"Database: {source['database']}")
    _out(f"Feeds file: {source['feeds']}")
    _out(
        f"Rules: {rules['folder']} at {short(rules['version'])}; latest alert made by {short(rules['latest_alert'])}"
    )
    _out()
    _out(f"Feeds ({len(rows)})")
    for shown in rows:
        http = f"HTTP {shown['http_status']}" if shown["http_status"] else "-"
        _out(f"  [{shown['health']}] {shown['name']}")
        _out(
            f"      last poll {ago(now, shown['last_poll'])} ({http}), last change {ago(now, shown['last_change'])}, "
            f"next due {ago(now, shown['next_due']) if shown['next_due'] else '-'}, every {shown['interval']}"
        )
        _out(
            f"      validators: {', '.join(shown['validators']) or 'none'}; consecutive failures: {shown['failures']}"
        )
        if shown["last_error"]:
            _out(f"      last error: {shown['last_error']}")
        if shown["moved_to"]:
            _out(f"      moved permanently to {shown['moved_to']} — update feeds.yaml")
    _out()
    _out("Deliveries")
    if not outbox:
        _out("  none yet")
    kinds = sorted({k for k, _ in outbox})
    for kind in kinds:
        parts = [f"{outbox[(kind, st)]} {st}" for st in DeliveryStatus if (kind, st) in outbox]
        oldest = snapshot.pending.get(kind)
        waiting = f" (oldest pending {ago(now, oldest[1])})" if oldest else ""
        _out(f"  {kind}: {', '.join(parts)}{waiting}")
    for hold in held:
        _out(f"  HELD {hold.service} since {when(hold.since)}: {_shown(hold.reason)}")
    for delivery in snapshot.retrying:
        _out(
            f"  retrying {delivery.destination} (alert {delivery.alert_id}) at {when(delivery.next_attempt)}: {_shown(delivery.error)}"
        )
    for delivery in snapshot.failed:
        _out(
            f"  FAILED {delivery.destination} (alert {delivery.alert_id}): {_shown(delivery.error)}"
        )
    _out()
    by_topic = (
        ", ".join(f"{topic}: {len(ids)}" for topic, ids in sorted(snapshot.subscribers.items()))
        or "no subscriptions"
    )
    _out(f"Subscribers: {plural(snapshot.chats, 'chat')} ({by_topic})")
    counts = snapshot.counts
    _out(
        f"Archive: {counts['items']} items, {counts['stories']} stories, {counts['alerts']} alerts, "
        f"{counts['follow-ups']} follow-ups"
    )
    _out()
    if verdict == OK:
        _out("status: ok")
    else:
        problems = []
        if failing:
            problems.append(f"{plural(len(failing), 'feed')} failing")
        if held:
            problems.append(f"{', '.join(h.service for h in held)} on hold")
        if failed_rows:
            problems.append(
                f"{failed_rows} {'delivery' if failed_rows == 1 else 'deliveries'} failed"
            )
        _out(f"status: FAILING ({', '.join(problems)})")
    return verdict


def _rules_status(settings: Settings, latest: AlertRecord | None) -> dict[str, str | None]:
    """The rules folder's version now, and the version that made the newest alert."""
    return {
        "folder": str(settings.rules_dir),
        "version": rules_version(settings.rules_dir) if settings.rules_dir.is_dir() else None,
        "latest_alert": latest.rules_version if latest else None,
    }


def db_upgrade(settings: Settings) -> int:
    check_writable(settings)
    store = Store(settings.db_url)
    try:
        drift = store.schema_drift()
    finally:
        store.close()
    _out(f"database {store.name}: {store.schema}")
    for difference in drift:
        _err(f"radar: warning: the tables differ from this Radar's: {difference}")
    return OK


def stories(settings: Settings, *, limit: int) -> int:
    store = existing_store(settings)
    try:
        recent = store.stories.recent(limit)
        if not recent:
            _out("no stories yet")
        for story in recent:
            members = store.stories.members(story.id)
            outlets = list(dict.fromkeys(m.item.outlet for m in members))
            _out(f"#{story.id} {story.title}")
            _out(
                f"    {when(story.first_published)} · {plural(len(members), 'item')} · rules: {', '.join(story.rules)}"
            )
            _out(f"    outlets: {', '.join(outlets)}")
    finally:
        store.close()
    return OK


def story_show(settings: Settings, story_id: int) -> int:
    store = existing_store(settings)
    try:
        story = store.stories.get(story_id)
        if story is None:
            _err(f"radar: no story #{story_id}")
            return FAILED
        members = store.stories.members(story_id)
        made = store.alerts.for_items([m.id for m in members])
    finally:
        store.close()
    _out(f"#{story.id} {story.title}")
    _out(
        f"rules: {', '.join(story.rules)}; {len(members)} items; {when(story.first_published)} – {when(story.last_published)}"
    )
    for member in members:
        item = member.item
        _out(f"  [{member.id}] {item.title}")
        _out(f"      {item.outlet} · {when(member.effective)} · {item.link or '-'}")
        _out(f"      {_merge_reason(member.merge, member.id == story.first_item_id)}")
        for alert in made.get(member.id, []):
            _out(
                f"      {alert.kind} #{alert.id} for {', '.join(alert.rules) or '-'}; rules {short(alert.rules_version)}"
            )
    return OK


def _merge_reason(merge: dict[str, Any] | None, first: bool) -> str:
    if first or not merge or merge.get("story_id") is None:
        return "opened the story"
    return f"joined: score {merge.get('score')}; {Evidence.from_json(merge).explain()}"
