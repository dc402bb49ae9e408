"""The reservation rate limiter, on a clock the test moves."""

from __future__ import annotations

import asyncio

from bot.deliver.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleepers: list[asyncio.Event] = []

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        woken = asyncio.Event()
        self.sleepers.append(woken)
        await woken.wait()

    async def jump(self, to: float) -> None:
        """Move time on and wake every sleeper at once (as after a busy event loop)."""
        self.now = to
        sleepers, self.sleepers = self.sleepers, []
        for woken in sleepers:
            woken.set()
        for _ in range(10):
            await asyncio.sleep(0)


def test_slots_are_spaced_per_key_and_overall():
    clock = Clock()
    limiter = RateLimiter(clock.time, clock.sleep)
    assert limiter.reserve([("all", 0.1), ("chat:1", 1.0)]) == 0.0
    assert limiter.reserve([("all", 0.1), ("chat:2", 1.0)]) == 0.1
    assert limiter.reserve([("all", 0.1), ("chat:1", 1.0)]) == 1.0
    limiter.pause("chat:2", 30)
    assert limiter.reserve([("all", 0.1), ("chat:2", 1.0)]) == 30.0


def test_waiters_woken_late_together_do_not_burst():
    async def run() -> list[float]:
        clock = Clock()
        limiter = RateLimiter(clock.time, clock.sleep)
        limiter.reserve([("all", 0.5)])  # a message just went out
        sent: list[float] = []

        async def send() -> None:
            await limiter.wait([("all", 0.5)])
            sent.append(clock.now)

        tasks = [asyncio.create_task(send()) for _ in range(2)]
        await asyncio.sleep(0)
        await clock.jump(3.0)  # both slots (0.5 and 1.0) are long past
        await clock.jump(3.5)
        await asyncio.gather(*tasks)
        return sent

    assert asyncio.run(run()) == [3.0, 3.5]
