"""`radar deliveries`: the outbox rows still to send or failed, resending and dropping them."""

from __future__ import annotations

import contextlib
import time

from bot.command_io import OK, existing_store, out, out_json
from bot.commands_review import since_cutoff
from bot.config import Settings
from bot.format import when
from bot.logs import redact
from bot.storage import DeliveryLine
from bot.types import DeliveryStatus

LISTED = (DeliveryStatus.PENDING, DeliveryStatus.FAILED)


def _state(line: DeliveryLine, held: set[str]) -> str:
    """pending, retrying (its last send failed), held (its service is on hold) or failed."""
    if line.status is not DeliveryStatus.PENDING:
        return line.status.value
    if line.destination.split(":", 1)[0] in held:
        return "held"
    return "retrying" if line.error else "pending"


def deliveries_list(
    settings: Settings,
    *,
    destination: str | None = None,
    since: str | None = None,
    limit: int = 100,
    as_json: bool = False,
) -> int:
    """List pending, retrying, held and failed rows, oldest first."""
    cutoff = since_cutoff(since, time.time())
    store = existing_store(settings)
    try:
        holds = store.holds.all()
        lines = store.outbox.lines(LISTED, destination=destination, since=cutoff, limit=limit)
    finally:
        store.close()
    held = {h.service for h in holds}
    if as_json:
        out_json(
            {
                "held": [
                    {"service": h.service, "reason": redact(h.reason), "since": h.since}
                    for h in holds
                ],
                "deliveries": [
                    {
                        "id": line.id,
                        "destination": line.destination,
                        "status": _state(line, held),
                        "attempts": line.attempts,
                        "error": redact(line.error) if line.error else None,
                        "headline": line.headline,
                        "created": line.created,
                        "next_attempt": line.next_attempt,
                    }
                    for line in lines
                ],
            }
        )
        return OK
    for hold in holds:
        out(f"{hold.service} on hold since {when(hold.since)}: {redact(hold.reason)}")
    if not lines:
        out("no deliveries pending, retrying or failed")
        return OK
    out(f"{'id':>7}  {'destination':<24} {'status':<8} {'tries':>5}  headline / last error")
    for line in lines:
        out(
            f"{line.id:>7}  {line.destination:<24} {_state(line, held):<8} {line.attempts:>5}  "
            f"{line.headline}"
        )
        if line.error:
            out(f"{'':>7}  {'':<24} {'':<8} {'':>5}  ↳ {redact(line.error)}")
    if len(lines) == limit:
        out(f"(the first {limit}; --limit shows more)")
    return OK


def deliveries_retry(
    settings: Settings, *, destination: str | None = None, since: str | None = None
) -> int:
    """Failed rows become pending again; the next `radar run` sends them."""
    now = time.time()
    cutoff = since_cutoff(since, now)
    with contextlib.closing(existing_store(settings)) as store:
        count = store.outbox.resend(now, destination=destination, since=cutoff)
    out(f"{_deliveries(count, 'failed ')} will be sent by the next run")
    return OK


def deliveries_drop(
    settings: Settings,
    *,
    destination: str | None = None,
    since: str | None = None,
    pending: bool = False,
) -> int:
    """Failed rows (and pending ones too, with `pending`) are dropped: never sent."""
    now = time.time()
    cutoff = since_cutoff(since, now)
    statuses = [DeliveryStatus.FAILED, *([DeliveryStatus.PENDING] if pending else [])]
    with contextlib.closing(existing_store(settings)) as store:
        count = store.outbox.drop(statuses, now, destination=destination, since=cutoff)
    out(f"{_deliveries(count)} dropped")
    return OK


def _deliveries(count: int, adjective: str = "") -> str:
    return f"{count} {adjective}{'delivery' if count == 1 else 'deliveries'}"
