"""What a send can end in (`SendResult`) and what that does to its outbox row (`Intent`).

`outcome` is pure: a result, the row and the time in, one intent out. The outbox worker
applies the intent in one storage transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import DEFAULT_MAX_RETRY_AFTER
from bot.deliver.route import kind_of, target_of
from bot.storage import Delivery

MAX_RETRY_DELAY = 900.0  # backoff's ceiling when the service names no wait


@dataclass(frozen=True, slots=True)
class Sent:
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class Retry:
    """Transient: the network, a 5xx, a rate limit, an answer that could not be read."""

    error: str
    after: float | None = None  # seconds the service asked us to wait; None: back off


@dataclass(frozen=True, slots=True)
class Failed:
    """Permanent for this message: retrying it cannot help (unknown channel, refused text)."""

    error: str


@dataclass(frozen=True, slots=True)
class Held:
    """The service cannot send anything at all (a wrong, revoked or missing token): the row
    stays pending and the service pauses until the cause is fixed."""

    reason: str


@dataclass(frozen=True, slots=True)
class Blocked:
    """The chat blocked the bot or removed it: unsubscribe it, drop what was pending."""

    error: str


@dataclass(frozen=True, slots=True)
class Moved:
    """The chat has a new id (a group became a supergroup): resend there."""

    destination: str


SendResult = Sent | Retry | Failed | Held | Blocked | Moved


@dataclass(frozen=True, slots=True)
class MarkSent:
    ref: str | None


@dataclass(frozen=True, slots=True)
class RetryAt:
    """Pending again, due at `at`; `asked` is the wait the service asked for when the cap
    (`capped`) shortened it."""

    error: str
    at: float
    wait: float
    asked: float | None = None

    @property
    def capped(self) -> bool:
        return self.asked is not None


@dataclass(frozen=True, slots=True)
class MarkFailed:
    error: str


@dataclass(frozen=True, slots=True)
class HoldService:
    """Keep the row pending, due now, and pause every destination of `service`."""

    service: str
    reason: str


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    """Mark the row failed, forget the chat's subscriptions, fail its other pending rows."""

    chat_id: int
    error: str


@dataclass(frozen=True, slots=True)
class MigrateChat:
    """The row stays pending, due now; the chat's subscriptions and rows follow the new id."""

    old_chat: int
    new_chat: int


Intent = MarkSent | RetryAt | MarkFailed | HoldService | Unsubscribe | MigrateChat


def backoff(attempts: int, jitter: float = 1.0) -> float:
    """Exponential backoff: 5 s, 10 s, 20 s … up to 15 minutes, times `jitter`."""
    return float(min(5.0 * 2 ** max(attempts - 1, 0), MAX_RETRY_DELAY) * jitter)


def outcome(
    result: SendResult,
    delivery: Delivery,
    now: float,
    *,
    jitter: float = 1.0,
    max_wait: float = DEFAULT_MAX_RETRY_AFTER,
) -> Intent:
    """What `result` of sending `delivery` (as read before this attempt) at `now` does to
    its row; `jitter` scales the backoff; a service's own wait is capped at `max_wait`."""
    match result:
        case Sent(ref):
            return MarkSent(ref)
        case Retry(error, after):
            if after is None:
                wait = backoff(delivery.attempts + 1, jitter)
                return RetryAt(error, now + wait, wait)
            if after > max_wait:
                return RetryAt(error, now + max_wait, max_wait, asked=after)
            return RetryAt(error, now + max(after, 0.0), max(after, 0.0))
        case Held(reason):
            return HoldService(kind_of(delivery.destination), reason)
        case Blocked(error):
            return Unsubscribe(int(target_of(delivery.destination)), error)
        case Moved(destination):
            return MigrateChat(int(target_of(delivery.destination)), int(target_of(destination)))
        case Failed(error):
            return MarkFailed(error)


def goes_on(intent: Intent) -> bool:
    """Whether the destination may send its next row after this one."""
    return isinstance(intent, MarkSent | MarkFailed)
