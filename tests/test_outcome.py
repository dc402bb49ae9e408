"""The pure decision of what a send's result does to its outbox row."""

from __future__ import annotations

import pytest

from bot.deliver.outcome import (
    Blocked,
    Failed,
    Held,
    HoldService,
    MarkFailed,
    MarkSent,
    MigrateChat,
    Moved,
    Retry,
    RetryAt,
    Sent,
    Unsubscribe,
    backoff,
    goes_on,
    outcome,
)
from bot.storage import Delivery
from bot.types import DeliveryStatus

NOW = 1_000_000.0


def _row(destination: str = "slack:#alerts", attempts: int = 0) -> Delivery:
    return Delivery(1, 7, destination, None, DeliveryStatus.PENDING, attempts, NOW)


def test_sent_marks_the_row_sent_and_the_destination_goes_on():
    intent = outcome(Sent("C1/1.0"), _row(), NOW)
    assert intent == MarkSent("C1/1.0")
    assert goes_on(intent)


def test_a_retry_without_a_wait_backs_off_by_attempts():
    assert outcome(Retry("down"), _row(attempts=0), NOW) == RetryAt("down", NOW + 5, 5)
    assert outcome(Retry("down"), _row(attempts=2), NOW) == RetryAt("down", NOW + 20, 20)
    assert outcome(Retry("down"), _row(attempts=40), NOW).wait == 900
    assert outcome(Retry("down"), _row(attempts=0), NOW, jitter=1.2).wait == pytest.approx(6)
    assert backoff(1) == 5 and backoff(3, 0.8) == pytest.approx(16)


def test_a_services_wait_is_obeyed_up_to_the_cap():
    intent = outcome(Retry("429", after=30), _row(), NOW, max_wait=3600)
    assert intent == RetryAt("429", NOW + 30, 30)
    assert not intent.capped
    capped = outcome(Retry("429", after=86400), _row(), NOW, max_wait=3600)
    assert capped == RetryAt("429", NOW + 3600, 3600, asked=86400)
    assert capped.capped
    assert not goes_on(capped)


def test_a_token_refused_holds_the_whole_service():
    intent = outcome(Held("Slack invalid_auth"), _row("slack:#x"), NOW)
    assert intent == HoldService("slack", "Slack invalid_auth")
    assert not goes_on(intent)
    assert outcome(Held("401"), _row("telegram:5"), NOW) == HoldService("telegram", "401")


def test_a_message_refused_fails_and_the_destination_goes_on():
    intent = outcome(Failed("channel_not_found"), _row(), NOW)
    assert intent == MarkFailed("channel_not_found")
    assert goes_on(intent)


def test_a_blocked_chat_is_unsubscribed_and_a_moved_one_followed():
    assert outcome(Blocked("blocked"), _row("telegram:42"), NOW) == Unsubscribe(42, "blocked")
    moved = outcome(Moved("telegram:-1009"), _row("telegram:-100"), NOW)
    assert moved == MigrateChat(-100, -1009)
    assert not goes_on(moved)
