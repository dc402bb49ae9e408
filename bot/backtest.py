"""`radar backtest`: what a rule change would do, replayed over the item archive.

The archive (the local database's, or an exported file) is replayed twice, through the
working tree's rules and through the rules at a base git ref, each side into a fresh
temporary database through the pipeline's own `prepare_items` and `commit`, items in the
stable order (the time they count as published, then the feed, then arrival), so stories are
merged exactly as `radar run` would merge them. Then, per rule, the stories that would now
alert and those that would no longer alert: a story of one side counts as unchanged when one
of its items is, on the other side, in a story that matched the rule too, so a follow-up, or
a story that alerts one item later, is not listed as a change.
"""

from __future__ import annotations

import random
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from bot.archive import ArchivedItem
from bot.config import Settings
from bot.decide import ItemDecision
from bot.models import FeedSpec
from bot.pipeline import Pipeline
from bot.rules import RuleSet
from bot.storage import Store
from bot.types import ItemVerdict

REPLAY_CHUNK = 200  # items matched and committed at a time
VOCABULARY = ("actors.yaml", "concepts.yaml", "languages.yaml")

ItemKey = tuple[str, str]  # (feed URL, GUID): an item on both sides


def item_key(entry: ArchivedItem) -> ItemKey:
    return entry.item.feed_url, entry.item.guid


@dataclass(frozen=True, slots=True)
class Side:
    """One set of rules to replay: the base's or the working tree's."""

    label: str
    folder: Path
    ruleset: RuleSet
    version: str


@dataclass(frozen=True, slots=True)
class StoryAlert:
    """A story's alert for one rule: its headline, outlet, date and the words that decided."""

    key: ItemKey
    title: str
    outlet: str
    published: float
    link: str | None
    words: tuple[str, ...]
    why_not: str | None = None  # for a story that no longer alerts: why the rule is silent now
    judged: str | None = None  # users' verdicts on the alert, as `radar feedback` counts them


@dataclass(slots=True)
class Replayed:
    """What one side made of the archive: each story's items and rules, and per rule the
    stories that matched it, each told by its first item that matched the rule."""

    story_of: dict[ItemKey, int] = field(default_factory=dict)
    members: dict[int, list[ItemKey]] = field(default_factory=dict)
    rules: dict[int, frozenset[str]] = field(default_factory=dict)  # story -> rules matched
    alerts: dict[str, list[tuple[int, StoryAlert]]] = field(default_factory=dict)


@dataclass(slots=True)
class RuleChange:
    rule_id: str
    title: str
    status: str  # new, removed, edited, unchanged (its file; the vocabulary may have changed)
    before: int = 0  # stories alerting with the base's rules
    after: int = 0
    now: list[StoryAlert] = field(default_factory=list)  # would now alert
    no_longer: list[StoryAlert] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.now or self.no_longer)


@dataclass(slots=True)
class Backtest:
    base: Side
    head: Side
    items: int
    span: tuple[float, float] | None
    since: str | None
    rules: list[RuleChange]
    vocabulary: list[str] = field(default_factory=list)  # vocabulary files that differ


def _order(entries: Iterable[ArchivedItem]) -> list[ArchivedItem]:
    """Alerting items in the stable order: when they count as published, the feed (by first
    appearance in the archive), then arrival."""
    alerting = [e for e in entries if e.verdict is ItemVerdict.NEW]
    feeds: dict[str, int] = {}
    for entry in alerting:
        feeds.setdefault(entry.item.feed_url, len(feeds))
    indexed = sorted(
        enumerate(alerting), key=lambda p: (p[1].effective, feeds[p[1].item.feed_url], p[0])
    )
    return [entry for _, entry in indexed]


def replay(
    entries: Sequence[ArchivedItem], side: Side, settings: Settings, db_url: str
) -> Replayed:
    """Ingest the entries (in order) through the pipeline into the empty database `db_url`."""
    quiet = replace(settings, db_url=db_url, slack_token=None, telegram_token=None)
    store = Store(db_url)
    try:
        pipeline = Pipeline(
            store, side.ruleset, quiet, rng=random.Random(0), rules_version=side.version
        )
        feeds: dict[str, int] = {}
        for start in range(0, len(entries), REPLAY_CHUNK):
            batch = []
            for entry in entries[start : start + REPLAY_CHUNK]:
                item = entry.item
                order = feeds.setdefault(item.feed_url, len(feeds))
                spec = FeedSpec(url=item.feed_url, name=item.outlet or None, baseline=False)
                decision = ItemDecision(item, ItemVerdict.NEW, entry.effective)
                batch.append(pipeline.prepare_items(spec, [decision], entry.first_seen, order))
            pipeline.commit(batch)
        return _read(store)
    finally:
        store.close()


def _read(store: Store) -> Replayed:
    result = Replayed()
    stored = {s.id: s for s in store.items.iterate()}
    for s in stored.values():
        if s.story_id is not None:
            key = (s.item.feed_url, s.item.guid)
            result.story_of[key] = s.story_id
            result.members.setdefault(s.story_id, []).append(key)
    result.rules = {
        sid: frozenset(r.rules) for sid, r in store.stories.many(list(result.members)).items()
    }
    told: set[tuple[int, str]] = set()
    for alert in store.alerts.iterate():  # oldest first: each story's first item per rule
        item = stored[alert.item_id]
        for rule_id in alert.rules:
            if (alert.story_id, rule_id) in told:
                continue
            told.add((alert.story_id, rule_id))
            words = tuple(dict.fromkeys(h["text"] for h in alert.matches.get(rule_id, [])))
            story = StoryAlert(
                (item.item.feed_url, item.item.guid),
                item.item.title,
                item.item.outlet,
                item.effective,
                item.item.link,
                words,
            )
            result.alerts.setdefault(rule_id, []).append((alert.story_id, story))
    return result


def _differences(mine: Replayed, other: Replayed, rule_id: str) -> list[StoryAlert]:
    """My stories matching a rule none of whose items, on the other side, is in a story
    matching it."""
    return [
        story
        for story_id, story in mine.alerts.get(rule_id, [])
        if not any(
            rule_id in other.rules.get(other.story_of.get(key, -1), frozenset())
            for key in mine.members.get(story_id, [story.key])
        )
    ]


def _status(rule_id: str, base: Side, head: Side) -> str:
    old, new = base.ruleset.by_id(rule_id), head.ruleset.by_id(rule_id)
    if old is None:
        return "new"
    if new is None:
        return "removed"
    same = (
        old.path.is_file() and new.path.is_file() and old.path.read_bytes() == new.path.read_bytes()
    )
    return "unchanged" if same else "edited"


def _why_not(
    side: Side, rule_id: str, entries: Mapping[ItemKey, ArchivedItem], key: ItemKey
) -> str:
    if side.ruleset.by_id(rule_id) is None:
        return "the rule is gone"
    for verdict in side.ruleset.explain(entries[key].item):
        if verdict.rule.id == rule_id:
            return verdict.reason or "it matches, and joins a story told before"
    return "the rule is gone"


def compare(
    entries: Sequence[ArchivedItem],
    base: Side,
    head: Side,
    settings: Settings,
    *,
    since: str | None = None,
    judged: Mapping[ItemKey, str] | None = None,
) -> Backtest:
    """Replay `entries` through both sides and report the differences per rule."""
    ordered = _order(entries)
    with tempfile.TemporaryDirectory(prefix="radar-backtest-") as tmp:
        before = replay(ordered, base, settings, f"sqlite:///{Path(tmp) / 'base.db'}")
        after = replay(ordered, head, settings, f"sqlite:///{Path(tmp) / 'head.db'}")
    by_key = {item_key(e): e for e in ordered}
    judged = judged or {}
    rule_ids = list(
        dict.fromkeys([*(r.id for r in head.ruleset.rules), *(r.id for r in base.ruleset.rules)])
    )
    changes = []
    for rule_id in rule_ids:
        rule = head.ruleset.by_id(rule_id) or base.ruleset.by_id(rule_id)
        assert rule is not None
        now = [replace(a, judged=judged.get(a.key)) for a in _differences(after, before, rule_id)]
        no_longer = [
            replace(a, why_not=_why_not(head, rule_id, by_key, a.key), judged=judged.get(a.key))
            for a in _differences(before, after, rule_id)
        ]
        changes.append(
            RuleChange(
                rule_id,
                rule.title,
                _status(rule_id, base, head),
                len(before.alerts.get(rule_id, [])),
                len(after.alerts.get(rule_id, [])),
                now,
                no_longer,
            )
        )
    vocabulary = [
        name for name in VOCABULARY if _bytes(base.folder / name) != _bytes(head.folder / name)
    ]
    seen = [e.first_seen for e in ordered]
    span = (min(seen), max(seen)) if seen else None
    return Backtest(base, head, len(ordered), span, since, changes, vocabulary)


def _bytes(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() else None
