"""Wiring: settings, feeds, rules, storage, senders; one cycle (`radar run --once`)."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from bot import archive, decide, subscriptions
from bot.clock import SYSTEM_CLOCK, Clock
from bot.config import Settings
from bot.deliver.console import ConsoleSender
from bot.deliver.outbox import DeliveryStats, OutboxWorker, Sender
from bot.deliver.ratelimit import RateLimiter
from bot.errors import StorageError
from bot.fetch import Fetcher
from bot.format import plural
from bot.models import FeedSpec, FeedState, FetchResult
from bot.parsepool import ParsePool, default_workers
from bot.pipeline import Pipeline, PollReport, Prepared
from bot.storage import Store
from bot.watchlist import Watchlist

if TYPE_CHECKING:
    from bot.feedback import SlackVerdicts

log = logging.getLogger(__name__)

# Polls finishing within this many seconds of a cycle's start are merged together, in a stable
# order; slower ones are merged (and their alerts delivered) as each finishes.
SETTLE = 5.0


def build_senders(
    settings: Settings,
    *,
    stream: TextIO | None = None,
    json_lines: bool = False,
    clock: Clock = SYSTEM_CLOCK,
) -> dict[str, Sender]:
    """The configured services' senders; their rate limits keep time on `clock`."""
    senders: dict[str, Sender] = {}
    if settings.console:
        senders["console"] = ConsoleSender(stream, json_lines=json_lines)
    if settings.slack_token:
        from bot.deliver.slack import SlackSender

        senders["slack"] = SlackSender(
            settings.slack_token,
            settings.slack_api_url,
            limiter=RateLimiter(clock.monotonic, clock.sleep),
            max_retry_after=settings.max_retry_after,
        )
    if settings.telegram_token:
        from bot.deliver.telegram import TelegramApi, TelegramSender

        senders["telegram"] = TelegramSender(
            TelegramApi(
                settings.telegram_token,
                settings.telegram_api_url,
                limiter=RateLimiter(clock.monotonic, clock.sleep),
                max_retry_after=settings.max_retry_after,
            )
        )
    return senders


@dataclass(slots=True)
class CycleReport:
    polls: list[PollReport]
    delivered: DeliveryStats
    commands: int = 0

    @property
    def errors(self) -> list[PollReport]:
        return [p for p in self.polls if p.error]

    def summary(self) -> str:
        parts = [
            f"polled {plural(len(self.polls), 'feed')}",
            plural(sum(p.new for p in self.polls), "new item"),
            plural(sum(len(p.alerts) for p in self.polls), "alert"),
        ]
        if followups := sum(len(p.followups) for p in self.polls):
            parts.append(plural(followups, "follow-up"))
        if unrouted := sum(len(p.unrouted) for p in self.polls):
            parts.append(f"{plural(unrouted, 'alert')} with nowhere to go")
        parts.append(f"{plural(self.delivered.sent, 'message')} delivered")
        if self.delivered.retried:
            parts.append(f"{self.delivered.retried} to retry")
        if self.delivered.failed:
            parts.append(f"{self.delivered.failed} failed")
        if self.errors:
            parts.append(plural(len(self.errors), "feed error"))
        if self.commands:
            parts.append(plural(self.commands, "Telegram update"))
        return ", ".join(parts)


class Radar:
    """One configured instance: what `radar run` and `radar run --once` drive."""

    def __init__(
        self,
        settings: Settings,
        config: Watchlist,
        store: Store,
        senders: dict[str, Sender],
        *,
        clock: Clock = SYSTEM_CLOCK,
        rng: random.Random | None = None,
    ) -> None:
        """`clock` should be the one the senders were built with."""
        self.settings = settings
        self.config = config
        self.store = store
        self.clock = clock
        self.pipeline = Pipeline(
            store, config.ruleset, settings, clock=clock.time, rng=rng, rules_version=config.version
        )
        workers = settings.parse_workers
        self.parsers = ParsePool(default_workers() if workers is None else workers)
        self.pipeline.parse = self.parsers.parse
        self.outbox = OutboxWorker(
            store,
            config.ruleset,
            senders,
            clock=clock,
            max_retry_after=settings.max_retry_after,
            burst_limit=settings.burst_limit,
        )
        self.commands = None
        self.slack_verdicts: SlackVerdicts | None = None
        if settings.slack_token:
            from bot.feedback import SlackVerdicts

            self.slack_verdicts = SlackVerdicts(settings, store)
        telegram = senders.get("telegram")
        if telegram is not None:
            from bot.deliver.telegram import TelegramSender
            from bot.deliver.telegram_commands import TelegramCommands

            assert isinstance(telegram, TelegramSender)
            self.commands = TelegramCommands(
                telegram.api, settings, store, config.ruleset, clock=clock
            )

    async def _prepared(
        self,
        order: int,
        spec: FeedSpec,
        fetcher: Fetcher,
        state: FeedState | None,
        slots: asyncio.Semaphore,
        cycle: float,
    ) -> Prepared:
        """Fetch and prepare one feed, storing at once what cannot alert; `slots` bounds how
        many feeds are in hand at a time (and so the memory their bodies take). Whatever goes
        wrong with a feed is that feed's error (recorded and backed off); only the database
        failing stops the cycle."""
        async with slots:
            return await self._prepare_one(order, spec, fetcher, state, cycle)

    async def _prepare_one(
        self,
        order: int,
        spec: FeedSpec,
        fetcher: Fetcher,
        state: FeedState | None,
        cycle: float,
    ) -> Prepared:
        stored = state or FeedState(url=spec.url)
        try:
            stored, result = await self.pipeline.fetch(spec, fetcher, state)
            prepared = await asyncio.to_thread(
                self.pipeline.prepare, spec, stored, result, order, cycle
            )
            return await asyncio.to_thread(self.pipeline.store_quiet, prepared)
        except StorageError:
            raise
        except Exception as exc:
            log.exception("feed %s failed", spec.name or spec.url)
            failed = FetchResult(spec.url, error=f"unexpected error: {exc!r}")
            return await asyncio.to_thread(self.pipeline.prepare, spec, stored, failed, order)

    async def poll_all(
        self,
        fetcher: Fetcher,
        committed: Callable[[list[PollReport]], Awaitable[None]] | None = None,
    ) -> list[PollReport]:
        """Poll every due feed at once. The polls that finish within `SETTLE` seconds are
        committed together, in a stable order (so the same input gives the same stories and
        alerts), then each slower one as it finishes; `committed` runs after each commit."""
        states = await asyncio.to_thread(self.store.feeds.states)
        now = self.clock.time()
        tasks: list[asyncio.Task[Prepared]] = []
        slots = asyncio.Semaphore(self.settings.fetch.concurrency)
        for order, spec in enumerate(self.config.feeds):
            state = states.get(spec.url)
            if decide.poll_now(state, now, every_feed=True):
                task = self._prepared(order, spec, fetcher, state, slots, now)
                tasks.append(asyncio.create_task(task))
        reports: list[PollReport] = []
        if not tasks:
            return reports
        done, pending = await asyncio.wait(tasks, timeout=SETTLE)
        waves = [sorted((t.result() for t in done), key=lambda p: p.order)]
        while True:
            for wave in waves:
                if wave:
                    reports += await asyncio.to_thread(self.pipeline.commit, wave)
                    if committed is not None:
                        await committed(reports)
            if not pending:
                return reports
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            waves = [[t.result()] for t in sorted(done, key=lambda t: t.result().order)]

    async def run_once(self) -> CycleReport:
        """Apply pending Telegram commands, poll every feed once, deliver everything due:
        what the first polls brought goes out while slower ones are still running."""
        await asyncio.to_thread(self.outbox.recover)
        await self.outbox.check_senders()
        await self.outbox.pace_after_restart()
        stats: list[DeliveryStats] = []

        async def deliver(_: list[PollReport]) -> None:
            stats.append(await self.outbox.deliver_due())

        async with self.outbox.beating():
            commands = 0
            if self.commands is not None:
                commands = await self.commands.apply_pending()
            async with Fetcher(self.settings.fetch) as fetcher:
                polls = await self.poll_all(fetcher, deliver)
            for report in polls:
                if report.error:
                    log.warning(
                        "feed %s: %s",
                        report.label,
                        report.error,
                        extra={"feed": report.label, "feed_url": report.url},
                    )
            stats.append(await self.outbox.deliver_due())
        await self.prune()
        if self.slack_verdicts is not None:
            try:
                await asyncio.to_thread(self.slack_verdicts.collect, self.clock.time())
            except StorageError as exc:
                log.error("reading Slack reactions: %s", exc)
        delivered = DeliveryStats(
            sum(s.sent for s in stats), sum(s.retried for s in stats), sum(s.failed for s in stats)
        )
        return CycleReport(polls, delivered, commands)

    def apply(self, config: Watchlist) -> None:
        """New rules and feeds (a reload): the next polls match with them, deliveries and
        Telegram commands read them; polls under way finish with the rules they began with."""
        self.config = config
        self.pipeline.use(config.ruleset, config.version)
        self.outbox.ruleset = config.ruleset
        if self.commands is not None:
            self.commands.topics = [
                subscriptions.Topic(r.id, r.title, r.description) for r in config.ruleset.topics
            ]

    async def prune(self) -> None:
        """Apply the archive's retention period; a database fault is logged, not raised."""
        try:
            await asyncio.to_thread(archive.prune, self.store, self.settings, self.clock.time())
        except StorageError as exc:
            log.error("pruning the archive: %s", exc)

    async def aclose(self) -> None:
        await asyncio.to_thread(self.parsers.close)
        for sender in self.outbox.senders.values():
            close = getattr(sender, "aclose", None)
            if close is not None:
                await close()
