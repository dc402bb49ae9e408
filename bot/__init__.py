"""Radar: alerts on new travel restrictions, chip export controls and AI summits."""

import time

__version__ = "0.1.0"
STARTED_NS = (
    time.time_ns()
)  # when this process imported Radar (bot.watchcache: code changed since?)
