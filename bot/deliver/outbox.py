"""The outbox worker: claims due rows, sends them, records what happened.

Rows of one destination go out one at a time, oldest first (so follow-ups come after the alert
they reply to, and order survives an outage); destinations are served concurrently, each
sender keeping its service's rate limits. A row is leased while in flight: if this process
dies between send and record, the lease expires and the row is sent again (at most one repeat).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from bot.clock import SYSTEM_CLOCK, Clock
from bot.config import DEFAULT_BURST_LIMIT, DEFAULT_MAX_RETRY_AFTER
from bot.deliver.outcome import (
    Held,
    HoldService,
    Intent,
    MarkFailed,
    MarkSent,
    MigrateChat,
    Retry,
    RetryAt,
    SendResult,
    Unsubscribe,
    goes_on,
    outcome,
)
from bot.deliver.route import CONSOLE, kind_of
from bot.digest import Digest, DigestEntry
from bot.errors import NotFound
from bot.format import AlertView, RuleView
from bot.rules import RuleSet
from bot.storage import BurstMember, Delivery, Store, Transaction
from bot.types import DeliveryStatus

log = logging.getLogger(__name__)

LEASE_TTL = 90.0
HEARTBEAT = 10.0
VIEW_CACHE = 1000
MAX_DIGEST = 5000  # rows one summary stands for at most
HOLD_RECHECK = 600.0  # a service on hold is tried again after this long (`radar run`)
RESTART_WINDOW = 1.0  # seconds over which the services count messages


class Sender(Protocol):
    async def wait_turn(self, destination: str) -> None:
        """Wait until the service's rate limits allow a message to this destination."""

    def spacing(self, destination: str) -> float:
        """Least time between two messages to one destination, whichever instance sends."""

    def share(self, instances: int) -> None:
        """How many instances send at once: overall limits are split between them."""

    async def send(self, destination: str, view: AlertView, parent_ref: str | None) -> SendResult:
        """Send one message; never raise for the service's own errors."""

    async def check(self) -> Held | None:
        """Ask the service once whether it will take messages at all (its token); None when
        it will, or when it cannot be asked now."""


@runtime_checkable
class DigestSender(Protocol):
    """A sender whose service is rate-limited, so that a burst goes to it as one summary
    (the console has no such limit: it prints every alert)."""

    async def send_digest(self, destination: str, digest: Digest) -> SendResult:
        """Send one summary of a burst; never raise for the service's own errors."""


class DeliveryObserver(Protocol):
    def delivery(self, destination: str, result: SendResult, seconds: float) -> None:
        """One send ended with `result` after `seconds` (metrics)."""


def process_owner() -> str:
    """A lease owner id naming this host and process, so a restart can recover its rows."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def owner_is_dead(owner: str) -> bool:
    """True when a lease owner is a process of this host that no longer runs."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@dataclass(slots=True)
class DeliveryStats:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    by_destination: dict[str, int] = field(default_factory=dict)


class OutboxWorker:
    def __init__(
        self,
        store: Store,
        ruleset: RuleSet,
        senders: Mapping[str, Sender],
        *,
        owner: str | None = None,
        clock: Clock = SYSTEM_CLOCK,
        lease_ttl: float = LEASE_TTL,
        max_parallel: int = 256,
        rng: random.Random | None = None,
        max_retry_after: float = DEFAULT_MAX_RETRY_AFTER,
        burst_limit: int = DEFAULT_BURST_LIMIT,
    ) -> None:
        self.store = store
        self.ruleset = ruleset
        self.senders = dict(senders)
        self.owner = owner or process_owner()
        self.clock = clock
        self.lease_ttl = lease_ttl
        self.rng = rng or random.Random()
        self._active: set[str] = set()
        self._slots = asyncio.Semaphore(max_parallel)
        self.stats = DeliveryStats()
        self.instances = 1
        self._views: dict[int, AlertView] = {}
        self.observer: DeliveryObserver | None = None
        self.max_retry_after = max_retry_after
        self.burst_limit = burst_limit
        self.held: dict[str, tuple[str, float]] = {}  # service -> (why, until when)
        self._stored_holds: set[str] = set()  # services on hold in the database

    def recover(self) -> int:
        """Release rows left in flight by processes of this host that died, and join the
        instances (so others know this one's leases are alive)."""
        freed = self.store.instances.recover(owner_is_dead, self.clock.time())
        self.instances = self.store.instances.heartbeat(self.owner, self.clock.time())
        self._stored_holds = {hold.service for hold in self.store.holds.all()}
        return freed

    async def check_senders(self) -> None:
        """Ask each service once whether it takes messages; one that will not (a wrong token)
        is put on hold, with its rows kept, and the log says why."""
        for service, sender in self.senders.items():
            try:
                problem = await sender.check()
            except Exception as exc:  # a check must never stop delivery
                log.warning("cannot check %s: %r", service, exc)
                continue
            if problem is None:
                if service in self._stored_holds:
                    await asyncio.to_thread(self.store.holds.release, service)
                    self._stored_holds.discard(service)
                    log.info("%s accepts messages again: its held deliveries go out", service)
                continue
            await asyncio.to_thread(
                self.store.holds.hold, service, problem.reason, self.clock.time()
            )
            self._stored_holds.add(service)
            self._hold(service, problem.reason)

    async def pace_after_restart(self) -> None:
        """Before the first send, wait out the last second of the sends before this process
        (a killed one's, another instance's): the services count messages per second
        (Telegram about 30 overall), and what was sent just before is not in this process's
        limiter."""
        for service in self.senders:
            if service == CONSOLE:
                continue
            last = await asyncio.to_thread(self.store.outbox.last_sent_by, service)
            if last is not None and (wait := last + RESTART_WINDOW - self.clock.time()) > 0:
                await self.clock.sleep(min(wait, RESTART_WINDOW))

    def _hold(self, service: str, reason: str) -> None:
        if service not in self.held or self.held[service][0] != reason:
            log.error("%s deliveries are on hold (kept, sent once fixed): %s", service, reason)
        self.held[service] = (reason, self.clock.time() + HOLD_RECHECK)

    def _is_held(self, destination: str) -> bool:
        hold = self.held.get(kind_of(destination))
        return hold is not None and hold[1] > self.clock.time()

    async def deliver_due(self) -> DeliveryStats:
        """Send everything that is due now, destination by destination, then return."""
        before = (self.stats.sent, self.stats.retried, self.stats.failed)
        while True:
            due = await asyncio.to_thread(self.store.outbox.due, self.clock.time())
            heads = self._heads(due)
            if not heads:
                break
            await asyncio.gather(*(self._drain(d) for d in heads))
        return DeliveryStats(
            self.stats.sent - before[0],
            self.stats.retried - before[1],
            self.stats.failed - before[2],
        )

    async def heartbeat(self) -> None:
        """Count the running instances and split the overall rate limits between them."""
        count = await asyncio.to_thread(
            self.store.instances.heartbeat, self.owner, self.clock.time()
        )
        if count != self.instances:
            log.info("%d Radar instances are delivering", count)
        self.instances = count
        for sender in self.senders.values():
            sender.share(count)

    @contextlib.asynccontextmanager
    async def beating(self) -> AsyncIterator[None]:
        """Heartbeats every few seconds while the block runs, however long a delivery takes
        (an instance that stops beating is taken for dead and its leases are freed)."""

        async def beat() -> None:
            while True:
                try:
                    await self.heartbeat()
                except Exception:
                    log.exception("heartbeat failed")
                # Real time, not the injected clock: the beat is the process showing it is
                # alive, and a virtual clock's sleep would race it ahead.
                await asyncio.sleep(HEARTBEAT)

        task = asyncio.create_task(beat(), name="heartbeat")
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await asyncio.to_thread(self.store.instances.leave, self.owner)

    async def run(self, stop: asyncio.Event, idle: float = 1.0) -> None:
        """Deliver until `stop` is set, checking for new rows every `idle` seconds."""
        async with self.beating():
            await self._loop(stop, idle)

    async def _loop(self, stop: asyncio.Event, idle: float) -> None:
        """Every `idle` seconds, start draining each destination that has a row due and is
        not being drained already: a destination with a long queue (a group's 20 a minute)
        never holds up a new alert to another."""
        drains: set[asyncio.Task[None]] = set()
        try:
            while not stop.is_set():
                try:
                    due = await asyncio.to_thread(self.store.outbox.due, self.clock.time())
                    for head in self._heads(due):
                        self._active.add(head.destination)
                        task = asyncio.create_task(self._drain(head))
                        drains.add(task)
                        task.add_done_callback(self._drained)
                        task.add_done_callback(drains.discard)
                except Exception:
                    log.exception("delivery loop failed; retrying")
                try:
                    await asyncio.wait_for(stop.wait(), timeout=idle)
                except TimeoutError:
                    continue
        finally:
            for task in drains:
                task.cancel()
            await asyncio.gather(*drains, return_exceptions=True)

    def _heads(self, due: list[Delivery]) -> list[Delivery]:
        return [
            d
            for d in due
            if d.destination not in self._active
            and kind_of(d.destination) in self.senders
            and not self._is_held(d.destination)
        ]

    @staticmethod
    def _drained(task: asyncio.Task[None]) -> None:
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("delivery failed; the row will be retried: %r", exc)

    async def _drain(self, head: Delivery) -> None:
        destination = head.destination
        self._active.add(destination)
        try:
            current: Delivery | None = head
            while current is not None:
                if not await self._deliver(current):
                    break
                current = await asyncio.to_thread(
                    self.store.outbox.next_due,
                    destination,
                    self.clock.time(),
                    by_story=kind_of(destination) == CONSOLE,
                )
        finally:
            self._active.discard(destination)

    async def _deliver(self, delivery: Delivery) -> bool:
        """Send one row; True when the destination may go on to its next row.

        The destination's turn is awaited before a sending slot is taken: the slots go round
        the destinations that are ready, instead of being held by ones that must wait."""
        destination = delivery.destination
        sender = self.senders[kind_of(destination)]
        if self._is_held(destination):
            return False
        await sender.wait_turn(destination)
        # Another instance, or this process before a restart, may have written to this
        # destination a moment ago: keep the service's spacing from that message too.
        last = await asyncio.to_thread(self.store.outbox.last_sent, destination)
        gap = sender.spacing(destination)
        if last is not None and (wait := last + gap - self.clock.time()) > 0:
            await self.clock.sleep(min(wait, gap))
        async with self._slots:
            now = self.clock.time()
            if self._is_held(destination):
                return False
            rows, message = await asyncio.to_thread(self._claim, sender, delivery, now)
            if not rows:
                return False
            parent_ref = await asyncio.to_thread(self._parent_ref, delivery)
            started = self.clock.monotonic()
            try:
                if isinstance(message, Digest):
                    assert isinstance(sender, DigestSender)
                    result = await sender.send_digest(destination, message)
                else:
                    result = await sender.send(destination, message, parent_ref)
            except Exception as exc:  # a sender bug must not lose the row
                log.exception("sending to %s failed", delivery.destination)
                result = Retry(f"unexpected error: {exc!r}")
            seconds = self.clock.monotonic() - started
            go_on = await asyncio.to_thread(self._record, rows, result)
            if self.observer is not None:  # once recorded, so metrics and the database agree
                self.observer.delivery(destination, result, seconds)
            return go_on

    def _claim(
        self, sender: Sender, delivery: Delivery, now: float
    ) -> tuple[list[Delivery], AlertView | Digest]:
        """Lease the row, or every row of its burst (more than `burst_limit` alerts and
        follow-ups from one poll of one feed) to go as one summary; no rows when another owner
        has them."""
        if isinstance(sender, DigestSender) and self.burst_limit:
            members = self.store.outbox.burst(delivery, now, limit=MAX_DIGEST)
            if len(members) > self.burst_limit:
                ids = [m.delivery.id for m in members]
                held = self.store.outbox.claim_all(ids, self.owner, now, self.lease_ttl)
                kept = [m for m in members if m.delivery.id in held]
                if len(kept) > 1:
                    log.info(
                        "%d alerts from one poll of %s to %s go as one summary",
                        len(kept),
                        kept[0].outlet,
                        delivery.destination,
                    )
                    return [m.delivery for m in kept], self._digest(kept)
                if kept:
                    return [kept[0].delivery], self.view(kept[0].delivery)
                return [], self.view(delivery)
        if not self.store.outbox.claim(delivery.id, self.owner, now, self.lease_ttl):
            return [], self.view(delivery)
        return [delivery], self.view(delivery)

    def _digest(self, members: list[BurstMember]) -> Digest:
        rule_ids = dict.fromkeys(r for m in members for r in m.rules)
        titles = tuple(rule.title if (rule := self.ruleset.by_id(r)) else r for r in rule_ids)
        entries = tuple(DigestEntry(m.title, m.link) for m in members)
        return Digest(members[0].outlet, titles, entries)

    def _record(self, rows: list[Delivery], result: SendResult) -> bool:
        """Apply what the result means to the rows (one, or a burst's), in one transaction;
        log and count it."""
        now = self.clock.time()
        intent = outcome(
            result, rows[0], now, jitter=self.rng.uniform(0.8, 1.2), max_wait=self.max_retry_after
        )
        with self.store.transaction() as tx:
            self._apply(tx, rows, intent, now)
        self._tell(rows, intent)
        return goes_on(intent)

    def _apply(self, tx: Transaction, rows: list[Delivery], intent: Intent, now: float) -> None:
        service = kind_of(rows[0].destination)
        ids = [row.id for row in rows]
        match intent:
            case MarkSent(ref):
                for row in ids:
                    tx.outbox.finish(row, status=DeliveryStatus.SENT, now=now, ref=ref)
                if service in self._stored_holds:
                    tx.holds.release(service)
            case RetryAt(error, at):
                for row in ids:
                    tx.outbox.finish(
                        row, status=DeliveryStatus.PENDING, now=now, error=error, retry_at=at
                    )
            case HoldService(_, reason):
                for row in ids:
                    tx.outbox.finish(
                        row, status=DeliveryStatus.PENDING, now=now, error=reason, retry_at=now
                    )
                tx.holds.hold(service, reason, now)
            case MigrateChat(old_chat, new_chat):
                for row in ids:
                    tx.outbox.finish(
                        row, status=DeliveryStatus.PENDING, now=now, error=None, retry_at=now
                    )
                tx.migrate_chat(old_chat, new_chat, now)
            case Unsubscribe(chat_id, error):
                for row in ids:
                    tx.outbox.finish(row, status=DeliveryStatus.FAILED, now=now, error=error)
                tx.subscriptions.forget(chat_id)
                tx.outbox.drop_pending(rows[0].destination, error)
            case MarkFailed(error):
                for row in ids:
                    tx.outbox.finish(row, status=DeliveryStatus.FAILED, now=now, error=error)

    def _tell(self, rows: list[Delivery], intent: Intent) -> None:
        """Log and count an applied intent."""
        destination, count = rows[0].destination, len(rows)
        match intent:
            case MarkSent():
                self._stored_holds.discard(kind_of(destination))
                self.held.pop(kind_of(destination), None)
                self.stats.sent += count
                self.stats.by_destination[destination] = (
                    self.stats.by_destination.get(destination, 0) + count
                )
            case RetryAt(error, _, wait, asked):
                self.stats.retried += 1
                if asked is not None:
                    log.warning(
                        "%s asked to wait %.0fs; waiting %.0fs (RADAR_MAX_RETRY_AFTER)",
                        destination,
                        asked,
                        wait,
                    )
                log.warning("delivery to %s will be retried in %.0fs: %s", destination, wait, error)
            case HoldService(service, reason):
                self._stored_holds.add(service)
                self._hold(service, reason)
            case MigrateChat(_, new_chat):
                log.warning("%s moved to telegram:%s; following it", destination, new_chat)
            case Unsubscribe(_, error):
                self.stats.failed += count
                log.warning("%s: %s; unsubscribing it", destination, error)
            case MarkFailed(error):
                self.stats.failed += count
                log.error("delivery to %s failed permanently: %s", destination, error)

    def _parent_ref(self, delivery: Delivery) -> str | None:
        if delivery.parent_id is None:
            return None
        parent = self.store.outbox.get(delivery.parent_id)
        return parent.ref if parent is not None and parent.status is DeliveryStatus.SENT else None

    def view(self, delivery: Delivery) -> AlertView:
        """The alert as messages show it; read once per alert, however many destinations."""
        view = self._views.get(delivery.alert_id)
        if view is None:
            if len(self._views) >= VIEW_CACHE:
                self._views.clear()
            view = self._views[delivery.alert_id] = build_view(
                self.store, self.ruleset, delivery.alert_id
            )
        return view


def build_view(store: Store, ruleset: RuleSet, alert_id: int) -> AlertView:
    """Read an alert with its item and story, in the shape messages are made from."""
    alert = store.alerts.get(alert_id)
    if alert is None:
        raise NotFound(f"alert {alert_id} does not exist")
    stored = store.items.get(alert.item_id)
    story = store.stories.get(alert.story_id)
    rules = []
    for rule_id in alert.rules:
        rule = ruleset.by_id(rule_id)
        words = tuple(dict.fromkeys(h["text"] for h in alert.matches.get(rule_id, [])))
        rules.append(
            RuleView(
                rule_id, rule.title if rule else rule_id, rule.severity if rule else "medium", words
            )
        )
    item = stored.item if stored else None
    return AlertView(
        alert_id=alert.id,
        kind=alert.kind,
        story_id=alert.story_id,
        title=item.title if item else "(item removed)",
        link=item.link if item else None,
        outlet=item.outlet if item else "",
        published=(stored.effective if stored else None),
        rules=tuple(rules),
        story_title=story.title if story else "",
        rules_version=alert.rules_version or "",
    )
