"""Typed values that cross modules and are stored as strings (the values are the stored text,
so databases written by earlier versions stay valid)."""

from __future__ import annotations

from enum import StrEnum


class ItemVerdict(StrEnum):
    """What becomes of a polled item: seen already, recorded without alerting, or new."""

    SEEN = "seen"
    RECORD = "record"  # new, but stored without alerting (baseline or too old)
    NEW = "new"


class AlertKind(StrEnum):
    ALERT = "alert"  # opens a story, or a rule the story had not matched
    FOLLOWUP = "followup"  # another outlet's item joining a story, posted in its thread


class Judgement(StrEnum):
    """A user's verdict on an alert."""

    RELEVANT = "relevant"
    NOT_RELEVANT = "not_relevant"


class FeedHealth(StrEnum):
    """How a feed is doing, as `radar status` shows it."""

    NEW = "new"  # never polled
    OK = "ok"
    FAILING = "failing"  # its last poll failed; it is backing off
    BROKEN = "broken"  # failing for days
    GONE = "gone"  # 410: no longer polled


class Severity(StrEnum):
    """How urgent a rule's alerts are, least first."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class DeliveryStatus(StrEnum):
    """An outbox row's state: waiting (or retrying), delivered, failed (until resent with
    `radar deliveries retry`), or dropped by the operator (`radar deliveries drop`)."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    DROPPED = "dropped"
