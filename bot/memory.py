"""A smaller resident set for the long-running and the one-shot process.

glibc gives every thread that meets another in `malloc` an arena of its own (up to eight per
core) and seldom hands freed arena memory back: Radar's worker threads (fetching, parsing,
SQLite) would each keep tens of megabytes of a cold cycle's bodies and trees. Most of Python's
allocation is serialised by the GIL anyway, so two arenas cost no speed (cold cycle of the 200
real feeds: peak RSS 186 → 162 MB, wall time unchanged; `bench/farm.py`). Nor does it hand
back what a busy cycle freed unless asked: `radar run` asks whenever its last poll in flight
ends, so that it does not stay at the size of its busiest cycle (the cold one)."""

from __future__ import annotations

import ctypes
import logging
import os
from collections.abc import Mapping
from functools import cache
from typing import Any

log = logging.getLogger(__name__)

ARENAS = 2
_M_ARENA_MAX = -8  # glibc's mallopt parameter


def limit_malloc_arenas(env: Mapping[str, str] = os.environ) -> bool:
    """Cap glibc's malloc arenas, before any thread starts; True when it was done. Left to
    the operator when MALLOC_ARENA_MAX is set (glibc read it at start), and a no-op where
    the C library is not glibc."""
    if "MALLOC_ARENA_MAX" in env:
        return False
    mallopt = _libc("mallopt")
    if mallopt is None:
        return False
    done = bool(mallopt(_M_ARENA_MAX, ARENAS))
    if not done:
        log.debug("mallopt(M_ARENA_MAX) refused")
    return done


def release_free_memory() -> bool:
    """Give the memory malloc holds free back to the system (glibc's `malloc_trim`, a fraction
    of a millisecond); True when some was. A no-op where the C library is not glibc."""
    trim = _libc("malloc_trim")
    return bool(trim(0)) if trim is not None else False


@cache
def _libc(name: str) -> Any:
    try:
        return getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError):
        return None
