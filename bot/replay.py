"""Replaying a labelled JSONL file (the dev set's format) through the whole pipeline.

Each line becomes an item of a feed named after its outlet, ingested in publication order with
the clock set to its publication time, into a fresh database. The result says, per event, which
alerts and stories it got: what the story-merging evaluation (`bench/merge_eval.py`) and the
replay test report.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

from bot.config import Settings
from bot.models import FeedSpec, FeedState, FetchResult, Item
from bot.pipeline import Pipeline
from bot.rules import RuleSet
from bot.storage import Store
from bot.types import AlertKind


@dataclass(frozen=True, slots=True)
class Labelled:
    event: str
    topic: str
    outlet: str
    url: str
    published: float
    title: str
    summary: str
    language: str = ""


HOLDOUT_SEED = 2026
HOLDOUT_FRACTION = 1 / 3


def held_out_events(rows: Iterable[Labelled], seed: int = HOLDOUT_SEED) -> frozenset[str]:
    """A random third of each topic's events (negatives included), set aside while tuning:
    figures on them predict how the rules and merging do on news nobody tuned for."""
    by_topic: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        by_topic[row.topic].add(row.event)
    rng = random.Random(seed)
    held: set[str] = set()
    for topic in sorted(by_topic):
        events = sorted(by_topic[topic])
        held.update(rng.sample(events, round(len(events) * HOLDOUT_FRACTION)))
    return frozenset(held)


def select_part(rows: list[Labelled], part: str, seed: int = HOLDOUT_SEED) -> list[Labelled]:
    """`all` rows, only the `tune` part, or only the `held-out` third."""
    if part == "all":
        return rows
    held = held_out_events(rows, seed)
    keep = part == "held-out"
    return [r for r in rows if (r.event in held) == keep]


@dataclass(frozen=True, slots=True)
class TopicFigures:
    """How one topic's rule does on a labelled set: items matched, events caught, and events
    it alerted on that are negatives or another topic's (posted to the wrong channel)."""

    topic: str
    precision: float
    recall: float
    events: int
    caught: int
    negative_events: int
    false_events: int
    crossed_events: int
    misses: tuple[Labelled, ...] = ()
    false_alarms: tuple[Labelled, ...] = ()

    @property
    def event_recall(self) -> float:
        return self.caught / self.events if self.events else 1.0


def evaluate_rules(rows: Sequence[Labelled], ruleset: RuleSet) -> list[TopicFigures]:
    """Per topic of a labelled set, its rule's figures (topic `chip_export` is rule
    `chip-export`)."""
    topics = sorted({r.topic for r in rows if r.topic != "negative"})
    matched = [
        set(ruleset.match(Item(feed_url="", guid=r.url, title=r.title, summary=r.summary)).rule_ids)
        for r in rows
    ]
    negatives = {r.event for r in rows if r.topic == "negative"}
    figures = []
    for topic in topics:
        rule = topic.replace("_", "-")
        hits = [(row, rule in m) for row, m in zip(rows, matched, strict=True)]
        tp = sum(1 for r, m in hits if m and r.topic == topic)
        fp = sum(1 for r, m in hits if m and r.topic != topic)
        fn = sum(1 for r, m in hits if not m and r.topic == topic)
        figures.append(
            TopicFigures(
                topic,
                tp / (tp + fp) if tp + fp else 1.0,
                tp / (tp + fn) if tp + fn else 1.0,
                len({r.event for r, _ in hits if r.topic == topic}),
                len({r.event for r, m in hits if m and r.topic == topic}),
                len(negatives),
                len({r.event for r, m in hits if m and r.topic == "negative"}),
                len({r.event for r, m in hits if m and r.topic not in (topic, "negative")}),
                tuple(r for r, m in hits if not m and r.topic == topic),
                tuple(r for r, m in hits if m and r.topic != topic),
            )
        )
    return figures


@dataclass(slots=True)
class ReplayResult:
    """Outcome per event: its top-level alerts (each tagged with the event that opened the
    story it belongs to), the events with a matched item, and items that joined a story another
    event opened."""

    events: dict[str, str] = field(default_factory=dict)  # event -> topic
    alerts: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    matched: set[str] = field(default_factory=set)
    wrong_merges: list[tuple[str, str, str]] = field(
        default_factory=list
    )  # (item event, story event, title)
    items_matched: int = 0

    def report(self) -> dict[str, object]:
        positive = [e for e, t in self.events.items() if t != "negative"]
        own = [e for e in positive if e in self.alerts[e]]
        swallowed = [e for e in positive if e in self.matched and e not in own]
        duplicates = sum(max(0, self.alerts[e].count(e) - 1) for e in positive)
        return {
            "events": len(positive),
            "with_own_alert": len(own),
            "swallowed": swallowed,
            "never_matched": [e for e in positive if e not in self.matched],
            "duplicate_alerts": duplicates,
            "duplicates_per_event": round(duplicates / max(len(positive), 1), 3),
            "wrongly_merged_items": len(self.wrong_merges),
            "negative_events_alerting": [
                e for e, t in self.events.items() if t == "negative" and self.alerts[e]
            ],
        }


def headlines_only(rows: Iterable[Labelled]) -> list[Labelled]:
    """The same items as a headline-only feed would give them: no summaries."""
    return [replace(row, summary="") for row in rows]


def read_labelled(path: Path) -> list[Labelled]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        data = json.loads(line)
        published = datetime.fromisoformat(data["published"].replace("Z", "+00:00")).timestamp()
        rows.append(
            Labelled(
                data["event_id"],
                data["topic"],
                data["outlet"],
                data["url"],
                published,
                data["title"],
                data.get("summary", ""),
                data.get("language", ""),
            )
        )
    return sorted(rows, key=lambda r: r.published)


def _document(row: Labelled) -> bytes:
    when = format_datetime(datetime.fromtimestamp(row.published).astimezone())
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{escape(row.outlet)}</title>"
        f"<item><title>{escape(row.title)}</title><link>{escape(row.url)}</link><guid>{escape(row.url)}</guid>"
        f"<pubDate>{when}</pubDate><description>{escape(row.summary)}</description></item>"
        "</channel></rss>"
    ).encode()


def replay(
    rows: Iterable[Labelled], ruleset: RuleSet, db_url: str, settings: Settings | None = None
) -> ReplayResult:
    """Ingest every row through the pipeline, at its own time; classify the outcome."""
    rows = list(rows)
    settings = settings or Settings(db_url=db_url)
    store = Store(db_url)
    clock_now = [0.0]
    pipeline = Pipeline(store, ruleset, settings, clock=lambda: clock_now[0], rng=random.Random(1))
    states: dict[str, FeedState] = {}
    by_url: dict[str, Labelled] = {}
    for row in rows:
        spec = FeedSpec(
            url=f"replay:{row.outlet}", name=row.outlet, max_age=10 * 365 * 86400.0, baseline=False
        )
        clock_now[0] = row.published + 60
        result = FetchResult(spec.url, 200, _document(row), {}, spec.url)
        report = pipeline.ingest(spec, states.get(spec.url, FeedState(spec.url)), result)
        if report.state is not None:
            states[spec.url] = report.state
        by_url[row.url] = row
    outcome = ReplayResult()
    outcome.events = {r.event: r.topic for r in rows}
    links: dict[int, str] = {}
    stories: dict[int, int] = {}  # item id -> its story
    for stored in store.items.iterate():
        links[stored.id] = stored.item.link or ""
        if stored.story_id is not None:
            stories[stored.id] = stored.story_id
    recorded = list(store.alerts.iterate())
    first_item: dict[int, int] = {}
    for alert in recorded:
        first_item.setdefault(alert.story_id, alert.item_id)
    for alert in recorded:
        if alert.kind is not AlertKind.ALERT:
            continue
        row = by_url[links[alert.item_id]]
        opener = by_url[links[first_item[alert.story_id]]]
        outcome.alerts[row.event].append(
            opener.event if alert.item_id == first_item[alert.story_id] else row.event
        )
    for item_id, story_id in stories.items():
        row = by_url[links[item_id]]
        outcome.matched.add(row.event)
        outcome.items_matched += 1
        opener = by_url[links[first_item[story_id]]]
        if opener.event != row.event:
            outcome.wrong_merges.append((row.event, opener.event, row.title))
    store.close()
    return outcome
