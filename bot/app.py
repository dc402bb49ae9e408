"""Wiring: settings, feeds, rules, storage, senders; one cycle (`radar run --once`)."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TextIO

from bot.config import Settings
from bot.deliver.console import ConsoleSender
from bot.deliver.outbox import DeliveryStats, OutboxWorker, Sender
from bot.errors import Problem
from bot.feeds import load_feeds
from bot.fetch import Fetcher
from bot.format import plural
from bot.models import FeedSpec, FeedState
from bot.pipeline import Pipeline, PollReport, Prepared
from bot.rules import RuleSet, load_rules
from bot.storage import Store

log = logging.getLogger(__name__)

# Polls finishing within this many seconds of a cycle's start are merged together, in a stable
# order; slower ones are merged (and their alerts delivered) as each finishes.
SETTLE = 5.0


@dataclass(slots=True)
class Config:
    """Feeds and rules, validated."""

    feeds: list[FeedSpec]
    ruleset: RuleSet
    warnings: list[Problem] = field(default_factory=list)


def load_config(settings: Settings) -> Config:
    """Load and validate feeds and rules; raises ConfigError naming file and line."""
    feeds = load_feeds(settings.feeds_file)
    loaded = load_rules(settings.rules_dir, exclude=(settings.feeds_file,))
    return Config(feeds.feeds, loaded.ruleset, [*feeds.problems, *loaded.warnings])


def build_senders(
    settings: Settings, *, stream: TextIO | None = None, json_lines: bool = False
) -> dict[str, Sender]:
    senders: dict[str, Sender] = {}
    if settings.console:
        senders["console"] = ConsoleSender(stream, json_lines=json_lines)
    if settings.slack_token:
        from bot.deliver.slack import SlackSender

        senders["slack"] = SlackSender(settings.slack_token, settings.slack_api_url)
    if settings.telegram_token:
        from bot.deliver.telegram import TelegramApi, TelegramSender

        senders["telegram"] = TelegramSender(
            TelegramApi(settings.telegram_token, settings.telegram_api_url)
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
        config: Config,
        store: Store,
        senders: dict[str, Sender],
        *,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.config = config
        self.store = store
        self.clock = clock
        self.pipeline = Pipeline(store, config.ruleset, settings, clock=clock, rng=rng)
        self.outbox = OutboxWorker(store, config.ruleset, senders, clock=clock)
        self.commands = None
        telegram = senders.get("telegram")
        if telegram is not None:
            from bot.deliver.telegram import TelegramCommands, TelegramSender

            assert isinstance(telegram, TelegramSender)
            self.commands = TelegramCommands(
                telegram.api, settings, store, config.ruleset, clock=clock
            )

    async def _prepared(
        self, order: int, spec: FeedSpec, fetcher: Fetcher, state: FeedState | None
    ) -> Prepared:
        stored, result = await self.pipeline.fetch(spec, fetcher, state)
        return await asyncio.to_thread(self.pipeline.prepare, spec, stored, result, order)

    async def poll_all(
        self,
        fetcher: Fetcher,
        committed: Callable[[list[PollReport]], Awaitable[None]] | None = None,
    ) -> list[PollReport]:
        """Poll every due feed at once. The polls that finish within `SETTLE` seconds are
        committed together, in a stable order (so the same input gives the same stories and
        alerts), then each slower one as it finishes; `committed` runs after each commit."""
        states = await asyncio.to_thread(self.store.feeds.states)
        now = self.clock()
        tasks: list[asyncio.Task[Prepared]] = []
        for order, spec in enumerate(self.config.feeds):
            state = states.get(spec.url)
            if state is not None and state.gone:
                continue
            if state is not None and state.failures and state.next_due and state.next_due > now:
                continue  # backing off, or the server asked us to wait
            tasks.append(asyncio.create_task(self._prepared(order, spec, fetcher, state)))
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
        delivered = DeliveryStats(
            sum(s.sent for s in stats), sum(s.retried for s in stats), sum(s.failed for s in stats)
        )
        return CycleReport(polls, delivered, commands)

    async def aclose(self) -> None:
        for sender in self.outbox.senders.values():
            close = getattr(sender, "aclose", None)
            if close is not None:
                await close()
