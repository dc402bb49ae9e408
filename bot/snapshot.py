"""What an operator sees: each feed's health and the deliveries' state, read in one place for
`radar status`, `radar feeds list`, the status page and the metrics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from bot import decide
from bot.models import FeedSpec, FeedState
from bot.storage import Delivery, Hold, Store, StoredItem, StoryRecord
from bot.types import AlertKind, DeliveryStatus

LISTED_DELIVERIES = 20  # retrying and failed deliveries listed


class Health(StrEnum):
    NEW = "new"  # never polled
    OK = "ok"
    FAILING = "failing"  # the last poll failed
    BROKEN = "broken"  # failing for days
    GONE = "gone"  # 410 Gone: polling stopped


FAILING_HEALTH = frozenset({Health.FAILING, Health.BROKEN, Health.GONE})


def feed_health(state: FeedState | None, now: float) -> Health:
    if state is None or state.last_poll is None:
        return Health.NEW
    if state.gone:
        return Health.GONE
    if decide.is_broken(state, now):
        return Health.BROKEN
    if state.failures:
        return Health.FAILING
    return Health.OK


@dataclass(frozen=True, slots=True)
class FeedRow:
    spec: FeedSpec
    state: FeedState | None
    health: Health
    last_item: StoredItem | None = None

    @property
    def name(self) -> str:
        """The feed's name in the feeds file, else the title it gives itself, else its URL."""
        return self.spec.name or (self.state.title if self.state else None) or self.spec.url


@dataclass(frozen=True, slots=True)
class StoryView:
    story: StoryRecord
    outlets: tuple[str, ...]
    link: str | None


@dataclass(slots=True)
class Snapshot:
    """Feeds, deliveries and subscribers as stored at one moment."""

    now: float
    feeds: list[FeedRow]
    outbox: dict[tuple[str, DeliveryStatus], int]
    pending: dict[str, tuple[int, float]]  # kind -> (rows, created time of the oldest)
    failed: list[Delivery]
    retrying: list[Delivery]
    held: list[Hold] = field(default_factory=list)  # services that cannot send at all
    subscribers: dict[str, list[int]] = field(default_factory=dict)
    chats: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    stories: list[StoryView] = field(default_factory=list)

    @property
    def failing_feeds(self) -> list[FeedRow]:
        return [row for row in self.feeds if row.health in FAILING_HEALTH]

    @property
    def failed_deliveries(self) -> int:
        return sum(n for (_, status), n in self.outbox.items() if status is DeliveryStatus.FAILED)


def feed_rows(
    store: Store, specs: Sequence[FeedSpec], now: float, *, last_items: bool = False
) -> list[FeedRow]:
    states = store.feeds.states()
    latest = store.items.latest_per_feed() if last_items else {}
    return [
        FeedRow(
            spec, states.get(spec.url), feed_health(states.get(spec.url), now), latest.get(spec.url)
        )
        for spec in specs
    ]


def take(
    store: Store,
    specs: Sequence[FeedSpec],
    now: float,
    *,
    stories: int = 0,
    last_items: bool = False,
) -> Snapshot:
    """Read everything shown; `stories` recent stories with their outlets too."""
    snapshot = Snapshot(
        now=now,
        feeds=feed_rows(store, specs, now, last_items=last_items),
        outbox=store.outbox.counts(),
        pending=store.outbox.pending_by_kind(),
        failed=store.outbox.failed(limit=LISTED_DELIVERIES),
        retrying=store.outbox.retrying(limit=LISTED_DELIVERIES),
        held=store.holds.all(),
        subscribers=store.subscriptions.by_topic(),
        chats=store.subscriptions.chat_count(),
        counts={
            "items": store.items.count(),
            "stories": store.stories.count(),
            "alerts": store.alerts.count(AlertKind.ALERT),
            "follow-ups": store.alerts.count(AlertKind.FOLLOWUP),
        },
    )
    for story in store.stories.recent(stories) if stories else []:
        members = store.stories.members(story.id)
        first = next((m for m in members if m.id == story.first_item_id), None)
        snapshot.stories.append(
            StoryView(
                story,
                tuple(dict.fromkeys(m.item.outlet for m in members if m.item.outlet)),
                first.item.link if first else None,
            )
        )
    return snapshot


def span(seconds: float) -> str:
    """`45s`, `12m`, `3h`, `2d`."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"


def ago(now: float, then: float | None) -> str:
    """`3m ago`, `in 5m`, or `never`."""
    if then is None:
        return "never"
    delta = now - then
    if delta < 0:
        return f"in {span(-delta)}"
    return f"{span(delta)} ago"
