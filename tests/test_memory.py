"""The malloc arena cap `radar run` sets before its threads start."""

from __future__ import annotations

import platform

import pytest

from bot.memory import limit_malloc_arenas


def test_an_operators_malloc_arena_max_is_left_alone():
    assert limit_malloc_arenas({"MALLOC_ARENA_MAX": "8"}) is False


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_the_cap_is_applied_on_glibc():
    assert limit_malloc_arenas({}) is True
