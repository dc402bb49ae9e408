"""What each `radar` command does, printing for people (the CLI parses arguments only)."""

from __future__ import annotations

import time
from typing import Any

from bot.command_io import FAILED, OK, check_writable, err, existing_store, out, out_json
from bot.config import Settings
from bot.deliver.route import unreachable
from bot.durations import format_duration
from bot.errors import ConfigError, Problem
from bot.feeds import load_feeds
from bot.format import plural, when
from bot.logs import redact
from bot.merge import Evidence
from bot.merge.params import PARAMS, unknown_facets
from bot.models import Item
from bot.rules.load import load_rules
from bot.rules.version import rules_version, short
from bot.rules.wildcards import common_word_problems
from bot.snapshot import ago, take
from bot.storage import AlertRecord, Store
from bot.types import DeliveryStatus


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
        out(str(problem))
    errors = [p for p in problems if p.severity == "error"]
    if errors or feeds is None or rules is None:
        out(f"{plural(len(errors), 'error')} found")
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
    out("ok: " + ", ".join(parts))
    return OK


def rules_test(settings: Settings) -> int:
    ruleset = load_rules(settings.rules_dir, exclude=(settings.feeds_file,)).ruleset
    from bot.rules.examples import run_examples

    checked, failures = run_examples(ruleset)
    for failure in failures:
        out(str(failure))
    if failures:
        out(f"{len(failures)} of {plural(checked, 'example')} failed")
        return FAILED
    out(f"ok: {checked} examples of {len(ruleset.rules)} rules behave as written")
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
            err(f"radar: no stored item with id {item_id}")
            return FAILED
        item = stored.item
        out(f"item {item_id}: {item.title} ({item.outlet})")
    elif text:
        item = Item(feed_url="", guid="", title=text)
    else:
        err("radar: give a TEXT to explain, or --item ID")
        return FAILED
    verdicts = ruleset.explain(item)
    matches = ruleset.match(item)
    for verdict in verdicts:
        rule = verdict.rule
        mark = "MATCH" if verdict.matched else "no   "
        out(f"{mark} {rule.id} — {rule.title} ({rule.severity})")
        if verdict.matched:
            for hit in verdict.hits:
                out(f"        {hit.kind} {hit.term!r} matched {hit.text!r} in {hit.field}")
        else:
            out(f"        {verdict.reason}")
    if matches.actors:
        names = ", ".join(ruleset.actors[a].name for a in sorted(matches.actors))
        out(f"actors found: {names}")
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
        out_json(payload)
        return verdict
    rules = _rules_status(settings, latest)
    out(f"Database: {source['database']}")
    out(f"Feeds file: {source['feeds']}")
    out(
        f"Rules: {rules['folder']} at {short(rules['version'])}; latest alert made by {short(rules['latest_alert'])}"
    )
    out()
    out(f"Feeds ({len(rows)})")
    for shown in rows:
        http = f"HTTP {shown['http_status']}" if shown["http_status"] else "-"
        out(f"  [{shown['health']}] {shown['name']}")
        out(
            f"      last poll {ago(now, shown['last_poll'])} ({http}), last change {ago(now, shown['last_change'])}, "
            f"next due {ago(now, shown['next_due']) if shown['next_due'] else '-'}, every {shown['interval']}"
        )
        out(
            f"      validators: {', '.join(shown['validators']) or 'none'}; consecutive failures: {shown['failures']}"
        )
        if shown["last_error"]:
            out(f"      last error: {shown['last_error']}")
        if shown["moved_to"]:
            out(f"      moved permanently to {shown['moved_to']} — update feeds.yaml")
    out()
    out("Deliveries")
    if not outbox:
        out("  none yet")
    kinds = sorted({k for k, _ in outbox})
    for kind in kinds:
        parts = [f"{outbox[(kind, st)]} {st}" for st in DeliveryStatus if (kind, st) in outbox]
        oldest = snapshot.pending.get(kind)
        waiting = f" (oldest pending {ago(now, oldest[1])})" if oldest else ""
        out(f"  {kind}: {', '.join(parts)}{waiting}")
    for hold in held:
        out(f"  HELD {hold.service} since {when(hold.since)}: {_shown(hold.reason)}")
    for delivery in snapshot.retrying:
        out(
            f"  retrying {delivery.destination} (alert {delivery.alert_id}) at {when(delivery.next_attempt)}: {_shown(delivery.error)}"
        )
    for delivery in snapshot.failed:
        out(
            f"  FAILED {delivery.destination} (alert {delivery.alert_id}): {_shown(delivery.error)}"
        )
    out()
    by_topic = (
        ", ".join(f"{topic}: {len(ids)}" for topic, ids in sorted(snapshot.subscribers.items()))
        or "no subscriptions"
    )
    out(f"Subscribers: {plural(snapshot.chats, 'chat')} ({by_topic})")
    counts = snapshot.counts
    out(
        f"Archive: {counts['items']} items, {counts['stories']} stories, {counts['alerts']} alerts, "
        f"{counts['follow-ups']} follow-ups"
    )
    out()
    if verdict == OK:
        out("status: ok")
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
        out(f"status: FAILING ({', '.join(problems)})")
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
    out(f"database {store.name}: {store.schema}")
    for difference in drift:
        err(f"radar: warning: the tables differ from this Radar's: {difference}")
    return OK


def stories(settings: Settings, *, limit: int) -> int:
    store = existing_store(settings)
    try:
        recent = store.stories.recent(limit)
        if not recent:
            out("no stories yet")
        for story in recent:
            members = store.stories.members(story.id)
            outlets = list(dict.fromkeys(m.item.outlet for m in members))
            out(f"#{story.id} {story.title}")
            out(
                f"    {when(story.first_published)} · {plural(len(members), 'item')} · rules: {', '.join(story.rules)}"
            )
            out(f"    outlets: {', '.join(outlets)}")
    finally:
        store.close()
    return OK


def story_show(settings: Settings, story_id: int) -> int:
    store = existing_store(settings)
    try:
        story = store.stories.get(story_id)
        if story is None:
            err(f"radar: no story #{story_id}")
            return FAILED
        members = store.stories.members(story_id)
        made = store.alerts.for_items([m.id for m in members])
    finally:
        store.close()
    out(f"#{story.id} {story.title}")
    out(
        f"rules: {', '.join(story.rules)}; {len(members)} items; {when(story.first_published)} – {when(story.last_published)}"
    )
    for member in members:
        item = member.item
        out(f"  [{member.id}] {item.title}")
        out(f"      {item.outlet} · {when(member.effective)} · {item.link or '-'}")
        out(f"      {_merge_reason(member.merge, member.id == story.first_item_id)}")
        for alert in made.get(member.id, []):
            out(
                f"      {alert.kind} #{alert.id} for {', '.join(alert.rules) or '-'}; rules {short(alert.rules_version)}"
            )
    return OK


def _merge_reason(merge: dict[str, Any] | None, first: bool) -> str:
    if first or not merge or merge.get("story_id") is None:
        return "opened the story"
    return f"joined: score {merge.get('score')}; {Evidence.from_json(merge).explain()}"
