"""Rate limits as reservations: each send books the earliest slot every limit allows.

A limit is a key and a minimum spacing between sends on that key (Telegram: 1/30 s overall,
1 s per chat, 3 s per group; Slack: 1 s per channel). Booking is synchronous, so concurrent
senders on one event loop never overshoot; `pause` pushes a key back when a service answers
429 with Retry-After.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence

LATE = 0.02


class RateLimiter:
    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._next: dict[str, float] = {}

    def reserve(self, limits: Sequence[tuple[str, float]]) -> float:
        """Book the earliest time all `(key, spacing)` limits allow; return it."""
        now = self._clock()
        at = max([now, *(self._next.get(key, now) for key, _ in limits)])
        for key, spacing in limits:
            self._next[key] = at + spacing
        return at

    async def wait(self, limits: Sequence[tuple[str, float]]) -> None:
        """Wait for a slot. A waiter that wakes late (the event loop was busy) books a new
        slot instead of sending at once: late waiters sending together would be a burst."""
        while True:
            at = self.reserve(limits)
            delay = at - self._clock()
            if delay > 0:
                await self._sleep(delay)
            if self._clock() - at <= LATE:
                return

    def pause(self, key: str, seconds: float) -> None:
        """Nothing more on `key` for `seconds` (the service asked us to wait)."""
        until = self._clock() + seconds
        self._next[key] = max(self._next.get(key, until), until)
