"""What each `radar` command does, printing for people (the CLI parses arguments only)."""

from __future__ import annotations

import sys
import time
from typing import Any

from bot import decide
from bot.app import Radar, build_senders, load_watchlist
from bot.config import Settings
from bot.deliver.route import unreachable
from bot.errors import ConfigError, Problem
from bot.feeds import format_duration, load_feeds
from bot.format import plural, when
from bot.logs import redact
from bot.merge import Evidence
from bot.models import Item
from bot.rules import load_rules
from bot.rules.version import rules_version, short
from bot.rules.wildcards import common_word_problems
from bot.storage import AlertRecord, Store
from bot.types import DeliveryStatus
from bot.untrusted import for_terminal, json_for_terminal

OK, FAILED = 0, 1
STATUS_DELIVERIES = 20  # retrying and failed deliveries `radar status` lists


def _out(text: str = "") -> None:
    """A line for the terminal: stored text is feed text, and may hold escape sequences."""
    sys.stdout.write(for_terminal(text) + "\n")


def _out_json(value: Any) -> None:
    sys.stdout.write(json_for_terminal(value, indent=2) + "\n")


def _err(text: str) -> None:
    sys.stderr.write(for_terminal(text) + "\n")


async def run_once(settings: Settings, *, json_lines: bool = False) -> int:
    config = load_watchlist(settings)
    for warning in config.warnings:
        _err(str(warning))
    store = Store(settings.db_url)
    radar = Radar(settings, config, store, build_senders(settings, json_lines=json_lines))
    try:
        report = await radar.run_once()
    finally:
        await radar.aclose()
        store.close()
    for poll in report.errors:
        _err(redact(f"feed {poll.url}: {poll.error}"))
    _err(f"radar: {report.summary()}")
    return OK


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


def _ago(now: float, then: float | None) -> str:
    if then is None:
        return "never"
    delta = now - then
    if delta < 0:
        return f"in {_span(-delta)}"
    return f"{_span(delta)} ago"


def _span(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"


def status(settings: Settings, *, as_json: bool = False) -> int:
    feeds = load_feeds(settings.feeds_file).feeds
    store = Store(settings.db_url)
    try:
        states = store.feeds.states()
        outbox = store.outbox.counts()
        failed = store.outbox.failed(limit=STATUS_DELIVERIES)
        retrying = store.outbox.retrying(limit=STATUS_DELIVERIES)
        subscribers = store.subscriptions.by_topic()
        chats = store.subscriptions.chat_count()
        counts = {
            "items": store.items.count(),
            "stories": store.stories.count(),
            "alerts": store.alerts.count(),
        }
        latest = store.alerts.latest()
    finally:
        store.close()
    now = time.time()
    rows: list[dict[str, Any]] = []
    for spec in feeds:
        state = states.get(spec.url)
        health = decide.feed_health(state, now).value
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
                "url": redact(spec.url),
                "name": redact(spec.name or (state.title if state else None) or spec.url),
                "health": health,
                "interval": format_duration(spec.interval),
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
    if as_json:
        payload = {
            "feeds": rows,
            "deliveries": {f"{kind}:{st}": n for (kind, st), n in sorted(outbox.items())},
            "failed": [
                {"destination": d.destination, "error": _shown(d.error), "alert": d.alert_id}
                for d in failed
            ],
            "retrying": [
                {
                    "destination": d.destination,
                    "error": _shown(d.error),
                    "next_attempt": d.next_attempt,
                }
                for d in retrying
            ],
            "subscribers": {
                "chats": chats,
                "by_topic": {t: len(c) for t, c in subscribers.items()},
            },
            "archive": counts,
            "rules": _rules_status(settings, latest),
        }
        _out_json(payload)
        return OK
    _out(f"Feeds ({len(rows)})")
    for row in rows:
        http = f"HTTP {row['http_status']}" if row["http_status"] else "-"
        _out(f"  [{row['health']}] {row['name']}")
        _out(
            f"      last poll {_ago(now, row['last_poll'])} ({http}), last change {_ago(now, row['last_change'])}, "
            f"next due {_ago(now, row['next_due']) if row['next_due'] else '-'}, every {row['interval']}"
        )
        _out(
            f"      validators: {', '.join(row['validators']) or 'none'}; consecutive failures: {row['failures']}"
        )
        if row["last_error"]:
            _out(f"      last error: {row['last_error']}")
        if row["moved_to"]:
            _out(f"      moved permanently to {row['moved_to']} — update feeds.yaml")
    _out()
    _out("Deliveries")
    if not outbox:
        _out("  none yet")
    kinds = sorted({k for k, _ in outbox})
    for kind in kinds:
        parts = [f"{outbox[(kind, st)]} {st}" for st in DeliveryStatus if (kind, st) in outbox]
        _out(f"  {kind}: {', '.join(parts)}")
    for delivery in retrying:
        _out(
            f"  retrying {delivery.destination} (alert {delivery.alert_id}) at {when(delivery.next_attempt)}: {_shown(delivery.error)}"
        )
    for delivery in failed:
        _out(
            f"  FAILED {delivery.destination} (alert {delivery.alert_id}): {_shown(delivery.error)}"
        )
    _out()
    by_topic = (
        ", ".join(f"{topic}: {len(ids)}" for topic, ids in sorted(subscribers.items()))
        or "no subscriptions"
    )
    _out(f"Subscribers: {plural(chats, 'chat')} ({by_topic})")
    _out(
        f"Archive: {counts['items']} items, {counts['stories']} stories, {counts['alerts']} alerts"
    )
    rules = _rules_status(settings, latest)
    _out(
        f"Rules: {rules['folder']} at {short(rules['version'])}; latest alert made by {short(rules['latest_alert'])}"
    )
    return OK


def _rules_status(settings: Settings, latest: AlertRecord | None) -> dict[str, str | None]:
    """The rules folder's version now, and the version that made the newest alert."""
    return {
        "folder": str(settings.rules_dir),
        "version": rules_version(settings.rules_dir) if settings.rules_dir.is_dir() else None,
        "latest_alert": latest.rules_version if latest else None,
    }


def db_upgrade(settings: Settings) -> int:
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
    store = Store(settings.db_url)
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
    store = Store(settings.db_url)
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
