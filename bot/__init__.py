"""Radar: alerts on new travel restrictions, chip export controls and AI summits."""

import time

__version__ = "0.1.0"
# When this process imported Radar: code on disk newer than this may not be what runs.
STARTED_NS = time.time_ns()
