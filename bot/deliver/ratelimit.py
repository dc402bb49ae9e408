"""Rate limits as reservations: each send books the earliest slot every limit allows.

A limit is a key and a minimum spacing between sends on that key (Telegram: 1/30 s overall,
1 s per chat, 3 s per group; Slack: 1 s per channel). Booking is synchronous, so concurrent
senders on one event loop never overshoot; `pause` pushes a key back when a service answers
429 with Retry-After.

A destination's own keys (its chat, its channel) and the keys every destination shares (the
overall rate) are told apart: a sender waits for its own keys without booking anything, and
books the shared keys only once its own are free. So a chat that must wait (its spacing, a
flood wait of a day) never holds a shared slot, and never holds back the other chats.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence

LATE = 0.02

Limits = Sequence[tuple[str, float]]


class RateLimiter:
    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._next: dict[str, float] = {}
        self._paused: dict[str, float] = {}

    def reserve(self, limits: Limits) -> float:
        """Book the earliest time all `(key, spacing)` limits allow; return it."""
        now = self._clock()
        at = max([now, *(self._next.get(key, now) for key, _ in limits)])
        for key, spacing in limits:
            self._next[key] = at + spacing
        return at

    def free_in(self, limits: Limits) -> float:
        """Seconds until every key of `limits` is free (0 when they are)."""
        now = self._clock()
        return max([0.0, *(self._next.get(key, now) - now for key, _ in limits)])

    async def wait(self, limits: Limits, shared: Limits = ()) -> None:
        """Wait for a slot on `limits` (the destination's own keys) and `shared` (keys all
        destinations go through). A waiter that wakes late (the event loop was busy) books a
        new slot instead of sending at once: late waiters sending together would be a burst."""
        while True:
            own = self.free_in(limits)
            if own > LATE:
                await self._sleep(own)
                continue
            at = self.reserve([*limits, *shared])
            delay = at - self._clock()
            if delay > 0:
                await self._sleep(delay)
            if self._clock() - at <= LATE:
                return

    def finished(self, limits: Limits) -> None:
        """A send on `limits` ended now: the next one keeps its spacing from now too, not
        only from when this one was booked (services count messages as they arrive, and a
        slow answer would otherwise let two arrive closer than the spacing)."""
        now = self._clock()
        for key, spacing in limits:
            self._next[key] = max(self._next.get(key, now), now + spacing)

    def try_reserve(self, limits: Limits) -> bool:
        """Book a slot on every key now if all of them are free now; never wait."""
        if self.free_in(limits) > LATE:
            return False
        self.reserve(limits)
        return True

    def pause(self, key: str, seconds: float) -> None:
        """Nothing more on `key` for `seconds` (the service asked us to wait)."""
        until = self._clock() + seconds
        self._next[key] = max(self._next.get(key, until), until)
        self._paused[key] = max(self._paused.get(key, until), until)

    def paused_for(self, keys: Sequence[str]) -> float:
        """Seconds left of the longest pause a service asked for on any of `keys` (0: none)."""
        now = self._clock()
        left = 0.0
        for key in keys:
            until = self._paused.get(key)
            if until is None:
                continue
            if until <= now:
                del self._paused[key]
            else:
                left = max(left, until - now)
        return left
