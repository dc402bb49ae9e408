"""Pure decisions about polling and items: no network, no database, only data in and out.

`after_fetch` turns a fetch result into the feed's next state (validators, schedule, backoff,
errors); `first_due` spreads start-up polls; `classify_items` says which items are new and
which may alert.
"""

from __future__ import annotations

import email.utils
import hashlib
import random
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from bot.models import FeedSpec, FeedState, FetchResult, Item
from bot.types import FeedHealth
from bot.types import ItemVerdict as Verdict

MAX_BACKOFF = 6 * 3600.0
MAX_RETRY_AFTER = 24 * 3600.0
BROKEN_AFTER = 2 * 86400.0
JITTER = 0.1


@dataclass(frozen=True, slots=True)
class PollPlan:
    """What to do after a fetch: the new state, and whether the body must be parsed."""

    state: FeedState
    parse: bool
    body_hash: str | None = None
    note: str | None = None


def _jittered(seconds: float, rng: random.Random) -> float:
    return seconds * (1 + rng.uniform(-JITTER, JITTER))


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - now)


def cache_lifetime(headers: Mapping[str, str], now: float) -> float | None:
    """Freshness the server grants (`Cache-Control: max-age`, else `Expires`), in seconds."""
    control = headers.get("cache-control", "")
    if m := re.search(r"(?:^|[,\s])max-age\s*=\s*\"?(\d+)", control, re.I):
        return float(m.group(1))
    if (expires := headers.get("expires")) is not None:
        try:
            when = email.utils.parsedate_to_datetime(expires)
        except (TypeError, ValueError, IndexError):
            return None
        if when is not None:
            return max(0.0, when.timestamp() - now)
    return None


def stretched_interval(interval: float, lifetime: float | None) -> float:
    """The interval, stretched by server freshness up to 6× (and at most 6 hours more)."""
    if lifetime is None or lifetime <= interval:
        return interval
    cap = max(interval, min(interval * 6, interval + 6 * 3600))
    return min(lifetime, cap)


def backoff(interval: float, failures: int) -> float:
    return float(min(interval * 2 ** min(failures, 16), max(MAX_BACKOFF, interval)))


def after_fetch(
    spec: FeedSpec, state: FeedState, result: FetchResult, now: float, rng: random.Random
) -> PollPlan:
    """The feed's next state after a fetch, and whether its body needs parsing."""
    base = replace(state, last_poll=now, last_status=result.status)
    if result.permanent_redirect and result.permanent_redirect != spec.url:
        base = replace(base, moved_to=result.permanent_redirect)
    if result.status == 410:
        return PollPlan(
            replace(
                base,
                gone=True,
                next_due=None,
                last_error="410 Gone: the feed was removed; polling stopped",
            ),
            parse=False,
            note="gone",
        )
    if result.error is not None or (result.status is not None and result.status >= 400):
        failures = state.failures + 1
        wait = _jittered(backoff(spec.interval, failures), rng)
        if (
            result.status in (429, 503)
            and (retry := parse_retry_after(result.headers.get("retry-after"), now)) is not None
        ):
            wait = max(min(retry, MAX_RETRY_AFTER), 1.0)
        return PollPlan(
            replace(
                base,
                failures=failures,
                failing_since=state.failing_since or now,
                last_error=result.error or f"HTTP {result.status}",
                next_due=now + wait,
            ),
            parse=False,
        )
    lifetime = cache_lifetime(result.headers, now)
    next_due = now + _jittered(stretched_interval(spec.interval, lifetime), rng)
    healthy = replace(base, failures=0, failing_since=None, last_error=None, next_due=next_due)
    if result.not_modified:
        return PollPlan(healthy, parse=False, note="not modified")
    body = result.body or b""
    digest = hashlib.sha256(body).hexdigest()
    changed = digest != state.body_hash
    healthy = replace(
        healthy,
        etag=result.headers.get("etag"),
        last_modified=result.headers.get("last-modified"),
        last_change=now if changed else state.last_change,
    )
    return PollPlan(
        healthy, parse=changed, body_hash=digest, note=None if changed else "unchanged body"
    )


def failed_parse(
    spec: FeedSpec, plan: PollPlan, error: str, now: float, rng: random.Random
) -> FeedState:
    """The state when a body arrived but was not a usable feed: a failure, with backoff."""
    state = plan.state
    failures = state.failures + 1
    return replace(
        state,
        failures=failures,
        failing_since=state.failing_since or now,
        last_error=error,
        body_hash=None,
        next_due=now + _jittered(backoff(spec.interval, failures), rng),
    )


def feed_health(state: FeedState | None, now: float) -> FeedHealth:
    """How a feed is doing, from what the database says of it."""
    if state is None or state.last_poll is None:
        return FeedHealth.NEW
    if state.gone:
        return FeedHealth.GONE
    if is_broken(state, now):
        return FeedHealth.BROKEN
    return FeedHealth.FAILING if state.failures else FeedHealth.OK


def is_broken(state: FeedState, now: float) -> bool:
    """A feed that has failed for days is shown as broken."""
    return state.failing_since is not None and now - state.failing_since >= BROKEN_AFTER


def poll_now(state: FeedState | None, now: float, *, every_feed: bool = False) -> bool:
    """Whether a feed is to be polled now, by what the database says of it: never a feed that
    is gone or backing off (failures, or a server's Retry-After); a healthy one when its time
    has come, or always with `every_feed` (`radar run --once` polls every feed once)."""
    if state is None:
        return True
    if state.gone:
        return False
    waiting = state.next_due is not None and state.next_due > now
    if state.failures and waiting:
        return False
    return every_feed or not waiting


def first_due(
    spec: FeedSpec, state: FeedState | None, now: float, rng: random.Random
) -> float | None:
    """When a feed is next due at start-up: its stored schedule, or a random point within its
    interval when it was never polled or is overdue, so a restart does not poll everything
    at once. None for a feed that is gone."""
    if state is not None and state.gone:
        return None
    if state is not None and state.next_due is not None and state.next_due > now:
        return min(state.next_due, now + max(spec.interval, MAX_BACKOFF))
    if state is None or state.last_poll is None:
        return now
    return now + rng.uniform(0, min(spec.interval, 60.0))


@dataclass(frozen=True, slots=True)
class ItemDecision:
    item: Item
    verdict: Verdict
    effective: float
    reason: str = ""


def effective_time(published: float | None, first_seen: float) -> float:
    """The time an item counts as published: its date, but never in the future, and its
    first-seen time when it has none."""
    if published is None:
        return first_seen
    return min(published, first_seen)


def classify_items(
    items: Iterable[Item],
    *,
    known_guids: set[str],
    known_links: set[str],
    baseline: bool,
    max_age: float,
    now: float,
    first_seen: float | None = None,
) -> list[ItemDecision]:
    """Which items are seen, new-but-silent, or new-and-may-alert. `first_seen` (default
    `now`) is when undated items count as published: a cycle's start, for all its polls."""
    decisions: list[ItemDecision] = []
    guids = set(known_guids)
    links = set(known_links)
    seen_at = now if first_seen is None else first_seen
    for item in items:
        effective = effective_time(item.published, seen_at)
        if item.guid in guids or (item.canonical_link and item.canonical_link in links):
            decisions.append(ItemDecision(item, Verdict.SEEN, effective))
            continue
        guids.add(item.guid)
        if item.canonical_link:
            links.add(item.canonical_link)
        if baseline:
            decisions.append(
                ItemDecision(item, Verdict.RECORD, effective, "first poll of the feed")
            )
        elif effective < now - max_age:
            decisions.append(ItemDecision(item, Verdict.RECORD, effective, "older than max_age"))
        else:
            decisions.append(ItemDecision(item, Verdict.NEW, effective))
    return decisions
