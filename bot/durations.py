"""Durations as feeds files and settings write them: `30s`, `5m`, `2h`, `3d`, `1w`."""

from __future__ import annotations

import re
from typing import Any

from bot.errors import InvalidValue

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
DURATION_PATTERN = r"^\d+(\.\d+)?[smhdw]?$"


def parse_duration(value: Any) -> float:
    """`30s`, `5m`, `2h`, `3d`, `1w` or a number of seconds, as seconds."""
    if isinstance(value, bool):
        raise InvalidValue(f"expected a duration such as 30s, 5m, 2h or 3d, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        m = _DURATION.match(str(value))
        if not m:
            raise InvalidValue(f"expected a duration such as 30s, 5m, 2h or 3d, got {value!r}")
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    if seconds <= 0:
        raise InvalidValue(f"a duration must be positive, got {value!r}")
    return seconds


def format_duration(seconds: float) -> str:
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
