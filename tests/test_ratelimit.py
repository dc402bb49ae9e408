"""The reservation rate limiter, on a clock the test moves."""

from __future__ import annotations

import asyncio

import pytest

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


def test_a_destination_waiting_for_its_own_turn_books_no_shared_slot():
    """A chat in a flood wait (or its own spacing) must not push the overall rate back for
    every other chat: before, its reservation booked the shared key a day ahead."""

    async def run() -> list[tuple[str, float]]:
        clock = Clock()
        limiter = RateLimiter(clock.time, clock.sleep)
        limiter.pause("chat:1", 86400)
        sent: list[tuple[str, float]] = []

        async def send(chat: str) -> None:
            await limiter.wait([(chat, 1.0)], [("all", 0.1)])
            sent.append((chat, clock.now))

        waiting = asyncio.create_task(send("chat:1"))
        await asyncio.sleep(0)
        others = [asyncio.create_task(send(f"chat:{n}")) for n in (2, 3)]
        for _ in range(10):
            await asyncio.sleep(0)
        await clock.jump(0.1)
        await asyncio.gather(*others)
        assert limiter.paused_for(["chat:1"]) > 86000
        waiting.cancel()
        return sent

    assert asyncio.run(run()) == [("chat:2", 0.0), ("chat:3", 0.1)]


def test_try_reserve_books_only_when_every_key_is_free_now():
    clock = Clock()
    limiter = RateLimiter(clock.time, clock.sleep)
    assert limiter.try_reserve([("all", 0.1), ("refusals", 3.0)])
    assert not limiter.try_reserve([("all", 0.1), ("refusals", 3.0)])
    clock.now = 0.1
    assert limiter.try_reserve([("all", 0.1)]), "the shared key alone is free again"
    assert not limiter.try_reserve([("all", 0.1), ("refusals", 3.0)])
    assert limiter.free_in([("refusals", 3.0)]) == 2.9


def test_a_slow_send_keeps_the_spacing_from_when_it_ended():
    clock = Clock()
    limiter = RateLimiter(clock.time, clock.sleep)
    chat = [("chat:1", 1.0)]
    assert limiter.reserve(chat) == 0.0
    clock.now = 0.7  # the request took 0.7 s to be answered
    limiter.finished(chat)
    assert limiter.reserve(chat) == pytest.approx(1.7), (
        "1 s after the first message arrived, not after it left"
    )
    clock.now = 1.7
    limiter.finished(chat)  # a fast answer: the booking already holds the spacing
    assert limiter.free_in(chat) == pytest.approx(1.0)
