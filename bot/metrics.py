"""Prometheus metrics of `radar run`, served at `/metrics` (imported only when the HTTP
endpoint is on, so prometheus-client is needed only then).

Counters and histograms are fed by what already reports each step: the service passes every
`PollReport`, the outbox worker every send's outcome. Gauges that describe stored state
(outbox depth and age, feeds by health) are read from the database at each scrape, so every
instance sharing a database reports the same values for them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

from bot import __version__
from bot.deliver.outcome import Blocked, Failed, Held, Moved, Retry, SendResult, Sent
from bot.deliver.route import kind_of
from bot.errors import StorageError
from bot.models import FeedSpec
from bot.pipeline import PollReport
from bot.snapshot import Health, feed_rows
from bot.storage import Store

if TYPE_CHECKING:
    from bot.watchlist import Watchlist

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
POLL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 60.0)
SEND_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
SEND_OUTCOMES = ("sent", "retry", "failed", "held", "blocked", "moved")
POLL_RESULTS = {"ok": "ok", "not modified": "not_modified", "unchanged body": "unchanged"}

log = logging.getLogger(__name__)


def poll_result(report: PollReport) -> str:
    """A poll's outcome as a label: ok, not_modified (304), unchanged, error or gone."""
    if report.status == "gone":
        return "gone"
    if report.error:
        return "error"
    return POLL_RESULTS.get(report.status, "ok")


def send_outcome(result: SendResult) -> str:
    if isinstance(result, Sent):
        return "sent"
    if isinstance(result, Retry):
        return "retry"
    if isinstance(result, Moved):
        return "moved"
    if isinstance(result, Blocked):
        return "blocked"
    if isinstance(result, Held):
        return "held"
    assert isinstance(result, Failed)
    return "failed"


class Metrics:
    """The registry behind `/metrics`, one per running service."""

    def __init__(
        self,
        store: Store,
        feeds: Sequence[FeedSpec],
        *,
        rules: int,
        rules_version: str,
        kinds: Sequence[str] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]  # no `_created` series
        self.registry = CollectorRegistry()
        r = self.registry
        self.polls = Counter(
            "radar_polls", "Feed polls by result (not_modified: HTTP 304)", ["result"], registry=r
        )
        self.poll_bytes = Counter(
            "radar_poll_bytes", "Bytes received from feeds, as sent on the wire", registry=r
        )
        self.items = Counter(
            "radar_items",
            "Items stored, by verdict (new: may alert; recorded: baseline or too old)",
            ["verdict"],
            registry=r,
        )
        self.alerts = Counter("radar_alerts", "Alerts made (stories opened or widened)", registry=r)
        self.followups = Counter(
            "radar_followups", "Follow-ups made (another outlet joining a story)", registry=r
        )
        self.deliveries = Counter(
            "radar_deliveries",
            "Sends by destination kind and outcome (sent, retry, failed, held, blocked, moved)",
            ["kind", "outcome"],
            registry=r,
        )
        self.poll_seconds = Histogram(
            "radar_poll_duration_seconds",
            "Time one fetch took, redirects included",
            buckets=POLL_BUCKETS,
            registry=r,
        )
        self.delivery_seconds = Histogram(
            "radar_delivery_duration_seconds",
            "Time one send took, by destination kind (rate-limit waits excluded)",
            ["kind"],
            buckets=SEND_BUCKETS,
            registry=r,
        )
        for result in ("ok", "not_modified", "unchanged", "error", "gone"):
            self.polls.labels(result)
        for verdict in ("new", "recorded"):
            self.items.labels(verdict)
        for kind in kinds:  # every series this instance can report exists from the start
            self.delivery_seconds.labels(kind)
            for outcome in SEND_OUTCOMES:
                self.deliveries.labels(kind, outcome)
        self._stored = _Stored(store, list(feeds), rules, rules_version, list(kinds), clock)
        r.register(self._stored)

    def reloaded(self, config: Watchlist) -> None:
        """Report the feeds and rules of a reload from the next scrape on."""
        self._stored.feeds = list(config.feeds)
        self._stored.rules = len(config.ruleset.rules)
        self._stored.rules_version = config.version

    def poll(self, report: PollReport) -> None:
        """Count one poll (what `Pipeline.poll` reported)."""
        self.polls.labels(poll_result(report)).inc()
        self.poll_bytes.inc(report.wire_bytes)
        self.poll_seconds.observe(report.seconds)
        self.items.labels("new").inc(report.new)
        self.items.labels("recorded").inc(report.recorded)
        self.alerts.inc(len(report.alerts))
        self.followups.inc(len(report.followups))

    def poll_failed(self) -> None:
        """A poll that raised instead of reporting (the database failed during it)."""
        self.polls.labels("error").inc()

    def delivery(self, destination: str, result: SendResult, seconds: float) -> None:
        """Count one send (the outbox worker's observer)."""
        kind = kind_of(destination)
        self.deliveries.labels(kind, send_outcome(result)).inc()
        self.delivery_seconds.labels(kind).observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class _Stored(Collector):
    """Gauges read from the database at each scrape."""

    def __init__(
        self,
        store: Store,
        feeds: list[FeedSpec],
        rules: int,
        rules_version: str,
        kinds: list[str],
        clock: Callable[[], float],
    ) -> None:
        self.store = store
        self.feeds = feeds
        self.rules = rules
        self.rules_version = rules_version
        self.kinds = kinds  # destination kinds this instance delivers to: reported even at 0
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        info = InfoMetricFamily("radar_build", "Radar's version")
        info.add_metric([], {"version": __version__})
        yield info
        rules = InfoMetricFamily("radar_rules", "The rules loaded: a hash of the rule files")
        rules.add_metric([], {"version": self.rules_version, "rules": str(self.rules)})
        yield rules
        up = GaugeMetricFamily("radar_database_up", "1 when the database answered this scrape")
        try:
            now = self.clock()
            rows = feed_rows(self.store, self.feeds, now)
            pending = self.store.outbox.pending_by_kind()
        except StorageError as exc:
            log.warning("metrics: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        by_health = GaugeMetricFamily(
            "radar_feeds", "Feeds by health (broken: failing for two days)", labels=["health"]
        )
        for health in Health:
            by_health.add_metric([health.value], sum(1 for row in rows if row.health is health))
        yield by_health
        last_ok = max(
            (
                row.state.last_poll
                for row in rows
                if row.state is not None and row.state.last_poll and not row.state.failures
            ),
            default=None,
        )
        if last_ok is not None:
            last = GaugeMetricFamily(
                "radar_last_successful_poll_timestamp_seconds",
                "When a feed was last polled successfully (by any instance)",
            )
            last.add_metric([], last_ok)
            yield last
        depth = GaugeMetricFamily(
            "radar_outbox_pending", "Deliveries waiting, by destination kind", labels=["kind"]
        )
        age = GaugeMetricFamily(
            "radar_outbox_oldest_pending_age_seconds",
            "Age of the oldest delivery waiting, by destination kind",
            labels=["kind"],
        )
        for kind in sorted({*self.kinds, *pending}):
            count, oldest = pending.get(kind, (0, now))
            depth.add_metric([kind], count)
            age.add_metric([kind], max(0.0, now - oldest))
        yield depth
        yield age
