"""What storage returns: small frozen records, read from rows here and nowhere else."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from bot.models import FeedState, Item
from bot.types import AlertKind, DeliveryStatus, ItemVerdict, Judgement

Matches = dict[str, list[dict[str, str]]]  # rule id -> the hits that made it fire
FEED_FIELDS = tuple(f.name for f in fields(FeedState))


@dataclass(frozen=True, slots=True)
class StoredItem:
    id: int
    item: Item
    effective: float
    first_seen: float
    story_id: int | None
    features: dict[str, Any] | None
    merge: dict[str, Any] | None = None
    verdict: ItemVerdict = ItemVerdict.NEW


@dataclass(frozen=True, slots=True)
class StoryRecord:
    id: int
    title: str
    first_item_id: int
    created: float
    first_published: float
    last_published: float
    rules: tuple[str, ...]
    item_count: int


@dataclass(frozen=True, slots=True)
class AlertRecord:
    id: int
    story_id: int
    item_id: int
    kind: AlertKind
    rules: tuple[str, ...]
    matches: Matches
    created: float
    rules_version: str | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """An outbox row: one alert for one destination."""

    id: int
    alert_id: int
    destination: str
    parent_id: int | None
    status: DeliveryStatus
    attempts: int
    next_attempt: float
    ref: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class VerdictRecord:
    """A user's verdict on an alert, with what the alert was about and which rules made it."""

    id: int
    alert_id: int
    destination: str
    voter: str
    verdict: Judgement
    rules: tuple[str, ...]
    rules_version: str | None
    feed_url: str
    guid: str
    title: str
    link: str | None
    created: float


def verdict(row: Any) -> VerdictRecord:
    return VerdictRecord(
        row.id,
        row.alert_id,
        row.destination,
        row.voter,
        Judgement(row.verdict),
        tuple(row.rules or ()),
        row.rules_version,
        row.feed_url,
        row.guid,
        row.title,
        row.link,
        row.created,
    )


def feed_state(row: Any) -> FeedState:
    return FeedState(**{name: getattr(row, name) for name in FEED_FIELDS})


def stored_item(row: Any) -> StoredItem:
    item = Item(
        feed_url=row.feed_url,
        guid=row.guid,
        title=row.title,
        link=row.link,
        canonical_link=row.canonical_link,
        summary=row.summary,
        content=row.content,
        author=row.author,
        categories=tuple(row.categories or ()),
        published=row.published,
        outlet=row.outlet,
        language=row.language,
    )
    return StoredItem(
        row.id,
        item,
        row.effective,
        row.first_seen,
        row.story_id,
        row.features,
        row.merge,
        ItemVerdict(row.verdict),
    )


def story(row: Any) -> StoryRecord:
    return StoryRecord(
        row.id,
        row.title,
        row.first_item_id,
        row.created,
        row.first_published,
        row.last_published,
        tuple(row.rules or ()),
        row.item_count,
    )


def alert(row: Any) -> AlertRecord:
    return AlertRecord(
        row.id,
        row.story_id,
        row.item_id,
        AlertKind(row.kind),
        tuple(row.rules or ()),
        dict(row.matches or {}),
        row.created,
        row.rules_version,
    )


def delivery_line(row: Any) -> DeliveryLine:
    return DeliveryLine(
        row.id,
        row.destination,
        DeliveryStatus(row.status),
        row.attempts,
        row.error,
        row.headline,
        row.created,
        row.next_attempt,
    )


def delivery(row: Any) -> Delivery:
    return Delivery(
        row.id,
        row.alert_id,
        row.destination,
        row.parent_id,
        DeliveryStatus(row.status),
        row.attempts,
        row.next_attempt,
        row.ref,
        row.error,
    )


@dataclass(frozen=True, slots=True)
class Hold:
    """A service that cannot send at all, why, and since when."""

    service: str
    reason: str
    since: float


@dataclass(frozen=True, slots=True)
class DeliveryLine:
    """An outbox row as `radar deliveries` lists it: with its alert's headline."""

    id: int
    destination: str
    status: DeliveryStatus
    attempts: int
    error: str | None
    headline: str
    created: float
    next_attempt: float


@dataclass(frozen=True, slots=True)
class BurstMember:
    """A pending row of a burst, with what a summary lists of its alert."""

    delivery: Delivery
    title: str
    link: str | None
    outlet: str
    rules: tuple[str, ...]


def burst_member(row: Any) -> BurstMember:
    return BurstMember(delivery(row), row.title, row.link, row.outlet, tuple(row.rules or ()))
