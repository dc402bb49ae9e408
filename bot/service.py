"""`radar run`: the long-running service.

APScheduler runs one job per feed at the feed's interval (with jitter, coalescing missed runs,
never two runs of one feed at once); after each poll the job is moved to the time the poll
decided (backoff, Retry-After, server freshness). Beside it run the outbox worker and the
Telegram command listener, and (with `RADAR_HTTP_PORT`) the HTTP endpoint of `bot.web`.
SIGINT/SIGTERM stop it gracefully: polls in flight get a moment to finish, anything unfinished
is left in the database for the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot import decide
from bot.app import Radar, build_senders
from bot.config import Settings
from bot.errors import StorageError
from bot.fetch import Fetcher
from bot.memory import release_free_memory
from bot.models import FeedSpec
from bot.pipeline import PollReport
from bot.reload import Reloader
from bot.storage import Store
from bot.watchlist import Watchlist, load_watchlist

if TYPE_CHECKING:
    from bot.web import WebServer

log = logging.getLogger(__name__)

STOP_GRACE = 10.0
PRUNE_INTERVAL = 3600.0  # seconds between two prunings of the archive
TICK = 1.0  # the event loop marks itself alive this often
STALLED = 30.0  # a loop that has not ticked for this long is reported as not alive


class PollObserver(Protocol):
    def poll(self, report: PollReport) -> None:
        """One poll finished (metrics)."""

    def poll_failed(self) -> None:
        """One poll raised instead of reporting."""


def _at(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=UTC)


class Service:
    def __init__(
        self,
        radar: Radar,
        *,
        rng: random.Random | None = None,
        observer: PollObserver | None = None,
    ) -> None:
        self.radar = radar
        self.clock = radar.clock.time
        self.rng = rng or random.Random()
        self.observer = observer
        self.on_reload: list[Callable[[Watchlist], None]] = []  # the endpoint's views
        self.owner = radar.outbox.owner
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self._inflight: set[asyncio.Task[None]] = set()
        self._fetcher: Fetcher | None = None
        self._workers: list[asyncio.Task[None]] = []
        self._tick: float | None = None

    def liveness(self) -> str | None:
        """Why the service is not alive (for `/healthz`, from any thread), or None."""
        if self._tick is None:
            return "the scheduler has not started"
        if not self.scheduler.running:
            return "the scheduler has stopped"
        if (stalled := time.monotonic() - self._tick) > STALLED:
            return f"the event loop has not run for {stalled:.0f}s"
        for task in self._workers:
            if task.done():
                return f"the {task.get_name()} worker has stopped"
        return None

    async def _ticking(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._tick = time.monotonic()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=TICK)

    def _schedule(self, feeds: list[FeedSpec] | None = None) -> None:
        """Schedule these feeds (all of them by default) from their stored state."""
        states = self.radar.store.feeds.states()
        now = self.clock()
        for spec in self.radar.config.feeds if feeds is None else feeds:
            due = decide.first_due(spec, states.get(spec.url), now, self.rng)
            if due is None:
                log.warning("feed %s is gone (410); not polling it", spec.label)
                continue
            self._add_job(spec, due)

    def _add_job(self, spec: FeedSpec, due: float) -> None:
        self.scheduler.add_job(
            self._poll,
            IntervalTrigger(
                seconds=spec.interval, jitter=max(1, int(spec.interval * decide.JITTER))
            ),
            args=[spec],
            id=spec.url,
            name=spec.name or spec.url,
            next_run_time=_at(due),
            coalesce=True,
            max_instances=1,
            misfire_grace_time=int(spec.interval),
            replace_existing=True,
        )

    async def apply(self, config: Watchlist) -> None:
        """Swap in reloaded rules and feeds: new feeds are scheduled, removed ones dropped,
        changed ones rescheduled at their new interval, keeping their next poll."""
        before = {s.url: s for s in self.radar.config.feeds}
        after = {s.url: s for s in config.feeds}
        self.radar.apply(config)
        for listener in self.on_reload:
            listener(config)
        for url in before.keys() - after.keys():
            if self.scheduler.get_job(url) is not None:
                self.scheduler.remove_job(url)
            log.info("feed %s removed; no longer polled", url)
        added = [spec for url, spec in after.items() if url not in before]
        for spec in added:
            log.info("feed %s added; polling it", spec.url)
        await asyncio.to_thread(self._schedule, added)
        for url, spec in after.items():
            job = self.scheduler.get_job(url)
            if url in before and spec != before[url] and job is not None:
                due = job.next_run_time.timestamp() if job.next_run_time else self.clock()
                self._add_job(spec, due)

    async def _poll(self, spec: FeedSpec) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
        store = self.radar.store
        ttl = self.radar.settings.fetch.total_timeout + 60
        leased = False
        try:
            now = self.clock()
            leased = await asyncio.to_thread(store.feeds.lease, spec.url, self.owner, now, ttl)
            if not leased:
                log.debug("%s is being polled by another instance", spec.url)
                return
            state = await asyncio.to_thread(store.feeds.state, spec.url)
            if not decide.poll_now(state, now + 1):
                # Another instance polled it since this job was scheduled, or it is waiting.
                if state is not None and state.next_due is not None:
                    self._reschedule(spec, state.next_due)
                return
            assert self._fetcher is not None
            report = await self.radar.pipeline.poll(spec, self._fetcher, state)
            if self.observer is not None:
                self.observer.poll(report)
            feed = {"feed": spec.label, "feed_url": spec.url}
            log.debug(
                "feed %s: %s, %d bytes in %.2fs",
                spec.label,
                report.status,
                report.wire_bytes,
                report.seconds,
                extra=feed,
            )
            if report.error:
                log.warning("feed %s: %s", spec.label, report.error, extra=feed)
            elif report.new or report.alerts:
                log.info(
                    "feed %s: %d new, %d alerts, %d follow-ups",
                    spec.label,
                    report.new,
                    len(report.alerts),
                    len(report.followups),
                    extra=feed,
                )
            if report.state is not None:
                if report.state.gone:
                    log.warning("feed %s answered 410 Gone; polling stopped", spec.label)
                    self.scheduler.remove_job(spec.url)
                elif report.state.next_due is not None:
                    self._reschedule(spec, report.state.next_due)
        except StorageError as exc:  # the disk is full, the database is down: one line
            if self.observer is not None:
                self.observer.poll_failed()
            log.error("polling %s: %s", spec.label, exc)
        except Exception:
            if self.observer is not None:
                self.observer.poll_failed()
            log.exception("polling %s failed", spec.label)
        finally:
            if leased:
                await asyncio.to_thread(store.feeds.release, spec.url, self.owner)
            if task is not None:
                self._inflight.discard(task)
            if not self._inflight:
                release_free_memory()

    def _reschedule(self, spec: FeedSpec, when: float) -> None:
        job = self.scheduler.get_job(spec.url)
        if job is not None:
            job.modify(next_run_time=_at(max(when, self.clock())))

    async def _prune(self, stop: asyncio.Event) -> None:
        """Apply the archive's retention at start, then every `PRUNE_INTERVAL`."""
        while not stop.is_set():
            await self.radar.prune()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=PRUNE_INTERVAL)

    async def run(self, stop: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        recovered = await asyncio.to_thread(self.radar.outbox.recover)
        if recovered:
            log.info("recovered %d deliveries left in flight by a stopped process", recovered)
        await self.radar.outbox.check_senders()
        await self.radar.outbox.pace_after_restart()
        self._fetcher = Fetcher(self.radar.settings.fetch)
        await asyncio.to_thread(self._schedule)
        self.scheduler.start()
        reloader = Reloader(self.radar.settings, self.radar.config, self.apply)
        reloader.listen(loop)
        log.info(
            "radar running: %d feeds, %d rules, delivering to %s",
            len(self.radar.config.feeds),
            len(self.radar.config.ruleset.rules),
            ", ".join(self.radar.outbox.senders) or "nowhere",
        )
        self._tick = time.monotonic()
        workers = [
            asyncio.create_task(self.radar.outbox.run(stop), name="outbox"),
            asyncio.create_task(self._prune(stop), name="archive-retention"),
            asyncio.create_task(reloader.run(stop), name="rules-reload"),
        ]
        if self.radar.slack_verdicts is not None:
            workers.append(
                asyncio.create_task(self.radar.slack_verdicts.run(stop), name="slack-verdicts")
            )
        if self.radar.commands is not None:
            workers.append(
                asyncio.create_task(self.radar.commands.run(stop), name="telegram-commands")
            )
        self._workers = list(workers)
        workers.append(asyncio.create_task(self._ticking(stop), name="tick"))
        try:
            await stop.wait()
        finally:
            log.info("stopping: letting %d polls in flight finish", len(self._inflight))
            self.scheduler.shutdown(wait=False)
            if self._inflight:
                _, pending = await asyncio.wait(set(self._inflight), timeout=STOP_GRACE)
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
            stop.set()
            _, unfinished = await asyncio.wait(workers, timeout=STOP_GRACE)
            for task in unfinished:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            await asyncio.to_thread(self.radar.store.instances.release, self.owner)
            await self._fetcher.aclose()
            log.info("stopped")


def _endpoint(settings: Settings, service: Service) -> WebServer:
    """The HTTP endpoint for a service, listening (a port in use is a configuration error)."""
    from bot.metrics import Metrics
    from bot.web import Site, WebServer

    radar = service.radar
    version = radar.config.version  # of the rules loaded at start
    metrics = Metrics(
        radar.store,
        radar.config.feeds,
        rules=len(radar.config.ruleset.rules),
        rules_version=version,
        kinds=list(radar.outbox.senders),
    )
    service.observer = metrics
    radar.outbox.observer = metrics
    service.on_reload.append(metrics.reloaded)
    site = Site(
        store=radar.store,
        feeds=radar.config.feeds,
        metrics=metrics,
        liveness=service.liveness,
        database=radar.store.name,
        feeds_file=str(settings.feeds_file),
        rules_dir=str(settings.rules_dir),
        rules_version=version,
    )
    service.on_reload.append(site.reloaded)
    assert settings.http_port is not None
    return WebServer(site, settings.http_host, settings.http_port)


async def serve(
    settings: Settings, config: Watchlist | None = None, *, json_lines: bool = False
) -> int:
    """`radar run`: until SIGINT or SIGTERM."""
    config = config or load_watchlist(settings)
    for warning in config.warnings:
        log.warning("%s", warning)
    store = Store(settings.db_url)
    radar = Radar(settings, config, store, build_senders(settings, json_lines=json_lines))
    service = Service(radar)
    try:
        web = _endpoint(settings, service) if settings.http_port is not None else None
        if web is not None:
            web.start()
        try:
            await service.run()
        finally:
            if web is not None:
                await asyncio.to_thread(web.stop)
    finally:
        await radar.aclose()
        store.close()
    return 0
