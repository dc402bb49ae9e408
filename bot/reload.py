"""Hot reload for `radar run`: changed rule, actor, concept, languages and feeds files are
noticed (their content is compared every `RADAR_RELOAD_INTERVAL` seconds, and at once on
SIGHUP), validated, and swapped in whole; an invalid change is refused with one log line
naming file and line, and the rules already running go on."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable

from bot.config import Settings
from bot.errors import ConfigError
from bot.rules.version import rules_version, short
from bot.watchlist import Watchlist, fingerprint, load_watchlist

log = logging.getLogger(__name__)


def refusal(exc: ConfigError) -> str:
    """A refused change's problem on one line: the first error (file:line: what), and how
    many more there are."""
    problems = [p for p in exc.problems if p.severity == "error"] or exc.problems
    if not problems:
        return " ".join(str(exc).split())
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return " ".join(str(problems[0]).split()) + more


class Reloader:
    """Watches the rules and feeds; `apply` receives each valid new configuration."""

    def __init__(
        self,
        settings: Settings,
        config: Watchlist,
        apply: Callable[[Watchlist], Awaitable[None]],
    ) -> None:
        self.settings = settings
        self.version = config.version
        self.apply = apply
        self._seen = self._applied = fingerprint(settings)  # looked at; running
        self._hangup = asyncio.Event()

    def hangup(self) -> None:
        """SIGHUP: check now."""
        self._hangup.set()

    def listen(self, loop: asyncio.AbstractEventLoop) -> None:
        """Check on SIGHUP (where signals can be handled)."""
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGHUP, self.hangup)

    async def run(self, stop: asyncio.Event) -> None:
        interval = self.settings.reload_interval or None
        while not stop.is_set():
            woken = asyncio.create_task(self._hangup.wait())
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait(
                {woken, stopping}, timeout=interval, return_when=asyncio.FIRST_COMPLETED
            )
            for task in (woken, stopping):
                task.cancel()
            if stop.is_set():
                return
            forced = self._hangup.is_set()
            self._hangup.clear()
            try:
                await self.check(forced=forced)
            except Exception:
                log.exception("checking the rules for changes failed")

    async def check(self, *, forced: bool = False) -> bool:
        """Reload when the files changed (or, `forced`, when the version did: a commit of
        what was running); True when new rules were applied."""
        seen = await asyncio.to_thread(fingerprint, self.settings)
        if seen == self._seen and not forced:
            return False
        self._seen = seen
        if seen == self._applied:
            version = await asyncio.to_thread(rules_version, self.settings.rules_dir)
            if version == self.version:
                if forced:
                    log.info("SIGHUP: rules %s unchanged", short(self.version))
                return False
        try:
            config = await asyncio.to_thread(load_watchlist, self.settings)
        except ConfigError as exc:
            log.error(
                "rules change refused, still running rules %s: %s",
                short(self.version),
                refusal(exc),
            )
            return False
        for warning in config.warnings:
            log.warning("%s", warning)
        previous, self.version, self._applied = self.version, config.version, seen
        await self.apply(config)
        log.info(
            "rules reloaded: %s (was %s), %d rules, %d feeds",
            short(config.version),
            short(previous),
            len(config.ruleset.rules),
            len(config.feeds),
        )
        return True
