"""Radar: alerts on new travel restrictions, chip export controls and AI summits."""

__version__ = "0.1.0"
