"""A clock for tests that skips the waits instead of sitting them out.

It is real time plus an offset, and sleeping on it adds the sleep to the offset at once. So
it never runs backwards, everything on real time (a subprocess, the fake APIs before anything
slept) agrees with it, and two waits in a row count as both: a rate limit kept on this clock
is kept as the fake APIs see it, in milliseconds instead of seconds. Concurrent sleeps add
up instead of overlapping, which only ever spaces messages wider than a real clock would."""

from __future__ import annotations

import asyncio
import threading
import time

from bot.clock import Clock


class SkipClock:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset = 0.0

    def time(self) -> float:
        return time.time() + self._offset

    def monotonic(self) -> float:
        return time.monotonic() + self._offset

    def advance(self, seconds: float) -> None:
        """Move the clock on by `seconds` (an hour later, a day later)."""
        with self._lock:
            self._offset += max(0.0, seconds)

    async def sleep(self, seconds: float) -> None:
        self.advance(seconds)
        await asyncio.sleep(0)

    @property
    def clock(self) -> Clock:
        return Clock(self.time, self.monotonic, self.sleep)
