"""Time as one injectable value: wall time (what is stored and compared with stored times), a
monotonic timer (spacing between messages) and sleep. Radar passes one `Clock` down to the
pipeline, the outbox, the rate limiters and the Telegram code, so a test can run them all on
one virtual clock."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from time import monotonic as _monotonic
from time import time as _wall_time


@dataclass(frozen=True, slots=True)
class Clock:
    time: Callable[[], float] = _wall_time
    monotonic: Callable[[], float] = _monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep


SYSTEM_CLOCK = Clock()
