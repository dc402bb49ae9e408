"""The malloc arena cap `radar run` sets before its threads start, and handing freed memory
back to the system."""

from __future__ import annotations

import platform
from pathlib import Path

import pytest

from bot.memory import limit_malloc_arenas, release_free_memory


def test_an_operators_malloc_arena_max_is_left_alone():
    assert limit_malloc_arenas({"MALLOC_ARENA_MAX": "8"}) is False


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_the_cap_is_applied_on_glibc():
    assert limit_malloc_arenas({}) is True


def _rss() -> int:
    with Path("/proc/self/status").open(encoding="ascii") as lines:
        return next(int(line.split()[1]) for line in lines if line.startswith("VmRSS:")) * 1024


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_memory_a_burst_freed_goes_back_to_the_system():
    burst = [bytes(1000 + n % 7) for n in range(60_000)]  # malloc'd, not pymalloc's: ~60 MB
    keep = burst[::50]  # a few survivors scattered through the heap, as after a cycle
    del burst
    before = _rss()
    assert release_free_memory() is True
    assert before - _rss() > 20 * 1024 * 1024
    assert len(keep) == 1200
