"""Alerts and the outbox: every alert is written with one row per destination before any
send; rows are leased while in flight and record how their send ended."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa

from bot.storage import records
from bot.storage.engine import Repository, chunks, inserted_id
from bot.storage.records import AlertRecord, BurstMember, Delivery, DeliveryLine, Matches
from bot.storage.schema import alerts, items, outbox
from bot.types import AlertKind, DeliveryStatus

PENDING, SENT, FAILED = DeliveryStatus.PENDING, DeliveryStatus.SENT, DeliveryStatus.FAILED
DROPPED = DeliveryStatus.DROPPED


class Alerts(Repository):
    def create(
        self,
        *,
        story_id: int,
        item_id: int,
        kind: AlertKind,
        rules: Sequence[str],
        matches: Matches,
        destinations: Sequence[tuple[str, int | None]],
        now: float,
        rules_version: str | None = None,
    ) -> int:
        """An alert and its outbox rows (destination, parent row to reply to); the version
        of the rules that made it."""
        with self._db.write() as conn:
            alert_id = inserted_id(
                conn.execute(
                    alerts.insert().values(
                        story_id=story_id,
                        item_id=item_id,
                        kind=kind.value,
                        rules=list(rules),
                        matches=matches,
                        created=now,
                        rules_version=rules_version or None,
                    )
                )
            )
            if destinations:
                conn.execute(
                    outbox.insert(),
                    [
                        {
                            "alert_id": alert_id,
                            "destination": destination,
                            "parent_id": parent,
                            "status": PENDING.value,
                            "attempts": 0,
                            "next_attempt": now,
                            "created": now,
                        }
                        for destination, parent in destinations
                    ],
                )
        return alert_id

    def get(self, alert_id: int) -> AlertRecord | None:
        with self._db.read() as conn:
            row = conn.execute(sa.select(alerts).where(alerts.c.id == alert_id)).first()
            return records.alert(row) if row else None

    def for_items(self, item_ids: Sequence[int]) -> dict[int, list[AlertRecord]]:
        found: dict[int, list[AlertRecord]] = {}
        with self._db.read() as conn:
            for chunk in chunks(item_ids):
                for row in conn.execute(sa.select(alerts).where(alerts.c.item_id.in_(chunk))):
                    found.setdefault(row.item_id, []).append(records.alert(row))
        return found

    def iterate(self, batch: int = 1000) -> Iterator[AlertRecord]:
        """Every alert, oldest first, read in batches."""
        last = 0
        while True:
            query = sa.select(alerts).where(alerts.c.id > last).order_by(alerts.c.id).limit(batch)
            with self._db.read() as conn:
                rows = list(conn.execute(query))
            if not rows:
                return
            yield from (records.alert(row) for row in rows)
            last = rows[-1].id

    def latest(self) -> AlertRecord | None:
        """The newest alert."""
        with self._db.read() as conn:
            row = conn.execute(sa.select(alerts).order_by(alerts.c.id.desc()).limit(1)).first()
            return records.alert(row) if row else None

    def story_roots(self, story_id: int) -> dict[str, int]:
        """For each destination, the outbox row that opened the story there (for threading)."""
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(outbox.c.destination, sa.func.min(outbox.c.id))
                .join(alerts, alerts.c.id == outbox.c.alert_id)
                .where(alerts.c.story_id == story_id, alerts.c.kind == AlertKind.ALERT.value)
                .group_by(outbox.c.destination)
            )
            return {destination: int(first) for destination, first in rows}

    def count(self, kind: AlertKind | None = None) -> int:
        """Alerts made, or those of one kind (alerts that open a story, follow-ups)."""
        query = sa.select(sa.func.count()).select_from(alerts)
        if kind is not None:
            query = query.where(alerts.c.kind == kind.value)
        with self._db.read() as conn:
            return int(conn.scalar(query) or 0)


def _free(now: float) -> sa.ColumnElement[bool]:
    return sa.or_(outbox.c.lease_until.is_(None), outbox.c.lease_until < now)


class Outbox(Repository):
    def due(self, now: float, *, limit: int = 500) -> list[Delivery]:
        """The oldest pending row of each destination, when it is due and not in flight."""
        heads = (
            sa.select(sa.func.min(outbox.c.id))
            .where(outbox.c.status == PENDING.value)
            .group_by(outbox.c.destination)
        )
        query = (
            sa.select(outbox)
            .where(
                outbox.c.id.in_(heads.scalar_subquery()),
                outbox.c.next_attempt <= now,
                _free(now),
            )
            .order_by(outbox.c.id)
            .limit(limit)
        )
        with self._db.read() as conn:
            return [records.delivery(r) for r in conn.execute(query)]

    def next_due(self, destination: str, now: float, *, by_story: bool = False) -> Delivery | None:
        """The oldest pending row of one destination, if it is due and not in flight; with
        `by_story`, the oldest of the oldest story (a story's follow-ups right after its alert,
        for a destination without threads)."""
        query = sa.select(outbox).where(
            outbox.c.destination == destination, outbox.c.status == PENDING.value
        )
        if by_story:
            query = query.join(alerts, alerts.c.id == outbox.c.alert_id).order_by(
                alerts.c.story_id, outbox.c.id
            )
        else:
            query = query.order_by(outbox.c.id)
        with self._db.read() as conn:
            row = conn.execute(query.limit(1)).first()
        if (
            row is None
            or row.next_attempt > now
            or (row.lease_until is not None and row.lease_until >= now)
        ):
            return None
        return records.delivery(row)

    def claim(self, delivery_id: int, owner: str, now: float, ttl: float) -> bool:
        """Lease a pending row for `ttl` seconds; False when another owner has it."""
        with self._db.write() as conn:
            done = conn.execute(
                outbox.update()
                .where(outbox.c.id == delivery_id, outbox.c.status == PENDING.value, _free(now))
                .values(lease_owner=owner, lease_until=now + ttl, attempts=outbox.c.attempts + 1)
            )
            return done.rowcount == 1

    def finish(
        self,
        delivery_id: int,
        *,
        status: DeliveryStatus,
        now: float,
        ref: str | None = None,
        error: str | None = None,
        retry_at: float | None = None,
    ) -> None:
        """Record a send: sent (with its ref), failed (for good) or pending (to retry)."""
        values: dict[str, Any] = {
            "status": status.value,
            "lease_owner": None,
            "lease_until": None,
            "error": error,
        }
        if status == SENT:
            values.update(ref=ref, sent=now)
        if retry_at is not None:
            values["next_attempt"] = retry_at
        with self._db.write() as conn:
            conn.execute(outbox.update().where(outbox.c.id == delivery_id).values(**values))

    def get(self, delivery_id: int) -> Delivery | None:
        with self._db.read() as conn:
            row = conn.execute(sa.select(outbox).where(outbox.c.id == delivery_id)).first()
            return records.delivery(row) if row else None

    def sent_to(self, alert_id: int, destination: str) -> Delivery | None:
        """The row that delivered an alert to a destination, if it was sent."""
        with self._db.read() as conn:
            row = conn.execute(
                sa.select(outbox).where(
                    outbox.c.alert_id == alert_id,
                    outbox.c.destination == destination,
                    outbox.c.status == SENT.value,
                )
            ).first()
            return records.delivery(row) if row else None

    def recent_alerts(self, kind: str, since: float, limit: int) -> list[Delivery]:
        """Top-level alerts sent to destinations of one kind (`slack`) since `since`,
        newest first."""
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(outbox)
                .join(alerts, alerts.c.id == outbox.c.alert_id)
                .where(
                    outbox.c.status == SENT.value,
                    outbox.c.destination.startswith(f"{kind}:", autoescape=True),
                    outbox.c.sent >= since,
                    alerts.c.kind == AlertKind.ALERT.value,
                )
                .order_by(outbox.c.id.desc())
                .limit(limit)
            )
            return [records.delivery(r) for r in rows]

    def last_sent(self, destination: str) -> float | None:
        """When the last message to a destination went out (by any instance)."""
        with self._db.read() as conn:
            return conn.scalar(
                sa.select(outbox.c.sent)
                .where(outbox.c.status == SENT.value, outbox.c.destination == destination)
                .order_by(outbox.c.id.desc())
                .limit(1)
            )

    def last_sent_by(self, service: str) -> float | None:
        """When the last message of a service (`telegram`, `slack`) went out, to any
        destination, by any instance."""
        with self._db.read() as conn:
            last = conn.scalar(
                sa.select(sa.func.max(outbox.c.sent)).where(
                    outbox.c.status == SENT.value, outbox.c.destination.startswith(f"{service}:")
                )
            )
        return None if last is None else float(last)

    def reroute(self, old: str, new: str) -> None:
        """A destination has a new address: its pending rows follow it."""
        with self._db.write() as conn:
            conn.execute(
                outbox.update()
                .where(outbox.c.destination == old, outbox.c.status == PENDING.value)
                .values(destination=new)
            )

    def drop_pending(self, destination: str, reason: str) -> int:
        """Mark a destination's pending rows failed (it will never take them)."""
        with self._db.write() as conn:
            done = conn.execute(
                outbox.update()
                .where(outbox.c.destination == destination, outbox.c.status == PENDING.value)
                .values(status=FAILED.value, error=reason, lease_owner=None, lease_until=None)
            )
            return done.rowcount

    def counts(self) -> dict[tuple[str, DeliveryStatus], int]:
        """Rows by (destination kind, status)."""
        counts: dict[tuple[str, DeliveryStatus], int] = {}
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(outbox.c.destination, outbox.c.status, sa.func.count()).group_by(
                    outbox.c.destination, outbox.c.status
                )
            )
            for destination, status, count in rows:
                key = (destination.split(":", 1)[0], DeliveryStatus(status))
                counts[key] = counts.get(key, 0) + count
        return counts

    def all(self) -> list[Delivery]:
        """Every row, oldest first."""
        with self._db.read() as conn:
            return [
                records.delivery(r) for r in conn.execute(sa.select(outbox).order_by(outbox.c.id))
            ]

    def with_status(self, status: DeliveryStatus) -> list[Delivery]:
        """Every row in one state, oldest first."""
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(outbox).where(outbox.c.status == status.value).order_by(outbox.c.id)
            )
            return [records.delivery(r) for r in rows]

    def failed(self, *, limit: int) -> list[Delivery]:
        """The latest rows that failed for good, newest first."""
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(outbox)
                .where(outbox.c.status == FAILED.value)
                .order_by(outbox.c.id.desc())
                .limit(limit)
            )
            return [records.delivery(r) for r in rows]

    def retrying(self, *, limit: int) -> list[Delivery]:
        """Pending rows whose last send failed and will be retried, oldest first."""
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(outbox)
                .where(outbox.c.status == PENDING.value, outbox.c.error.is_not(None))
                .order_by(outbox.c.id)
                .limit(limit)
            )
            return [records.delivery(r) for r in rows]

    def pending_by_kind(self) -> dict[str, tuple[int, float]]:
        """Pending rows by destination kind: how many, and when the oldest was created."""
        found: dict[str, tuple[int, float]] = {}
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(outbox.c.destination, sa.func.count(), sa.func.min(outbox.c.created))
                .where(outbox.c.status == PENDING.value)
                .group_by(outbox.c.destination)
            )
            for destination, count, oldest in rows:
                kind = destination.split(":", 1)[0]
                have, first = found.get(kind, (0, oldest))
                found[kind] = (have + count, min(first, oldest))
        return found

    def lines(
        self,
        statuses: Sequence[DeliveryStatus],
        *,
        destination: str | None = None,
        since: float | None = None,
        limit: int = 100,
    ) -> list[DeliveryLine]:
        """Rows in these states, oldest first, with their alerts' headlines."""
        query = (
            sa.select(
                outbox.c.id,
                outbox.c.destination,
                outbox.c.status,
                outbox.c.attempts,
                outbox.c.error,
                sa.func.coalesce(items.c.title, "(item removed)").label("headline"),
                outbox.c.created,
                outbox.c.next_attempt,
            )
            .select_from(
                outbox.join(alerts, alerts.c.id == outbox.c.alert_id).outerjoin(
                    items, items.c.id == alerts.c.item_id
                )
            )
            .where(_chosen(statuses, destination, since))
            .order_by(outbox.c.id)
            .limit(limit)
        )
        with self._db.read() as conn:
            return [records.delivery_line(r) for r in conn.execute(query)]

    def resend(
        self, now: float, *, destination: str | None = None, since: float | None = None
    ) -> int:
        """Failed rows become pending, due now (the next run sends them); how many."""
        with self._db.write() as conn:
            done = conn.execute(
                outbox.update()
                .where(_chosen([FAILED], destination, since))
                .values(status=PENDING.value, next_attempt=now, error=None)
            )
            return done.rowcount

    def drop(
        self,
        statuses: Sequence[DeliveryStatus],
        now: float,
        *,
        destination: str | None = None,
        since: float | None = None,
    ) -> int:
        """Rows in these states (not in flight) are dropped: never sent; how many."""
        with self._db.write() as conn:
            done = conn.execute(
                outbox.update()
                .where(_chosen(statuses, destination, since), _free(now))
                .values(status=DROPPED.value, error="dropped by the operator")
            )
            return done.rowcount

    def burst(self, head: Delivery, now: float, *, limit: int) -> list[BurstMember]:
        """The due, pending rows for `head`'s destination that the same poll made (alerts and
        follow-ups of the same feed, stored at the same time), `head` first, oldest first."""
        made = outbox.join(alerts, alerts.c.id == outbox.c.alert_id).join(
            items, items.c.id == alerts.c.item_id
        )
        with self._db.read() as conn:
            poll = conn.execute(
                sa.select(outbox.c.created, items.c.feed_url)
                .select_from(made)
                .where(outbox.c.id == head.id)
            ).first()
            if poll is None:
                return []
            rows = conn.execute(
                sa.select(outbox, items.c.title, items.c.link, items.c.outlet, alerts.c.rules)
                .select_from(made)
                .where(
                    outbox.c.destination == head.destination,
                    outbox.c.status == PENDING.value,
                    outbox.c.created == poll.created,
                    outbox.c.next_attempt <= now,
                    _free(now),
                    items.c.feed_url == poll.feed_url,
                )
                .order_by(outbox.c.id)
                .limit(limit)
            )
            return [records.burst_member(r) for r in rows]

    def claim_all(self, ids: Sequence[int], owner: str, now: float, ttl: float) -> set[int]:
        """Lease these pending rows for `ttl` seconds; the ids this owner now holds."""
        with self._db.write() as conn:
            held: set[int] = set()
            for chunk in chunks(ids):
                conn.execute(
                    outbox.update()
                    .where(outbox.c.id.in_(chunk), outbox.c.status == PENDING.value, _free(now))
                    .values(
                        lease_owner=owner, lease_until=now + ttl, attempts=outbox.c.attempts + 1
                    )
                )
                held.update(
                    conn.scalars(
                        sa.select(outbox.c.id).where(
                            outbox.c.id.in_(chunk), outbox.c.lease_owner == owner
                        )
                    )
                )
            return held


def _chosen(
    statuses: Sequence[DeliveryStatus], destination: str | None, since: float | None
) -> sa.ColumnElement[bool]:
    """Rows in these states, of one destination (`slack:#x`) or service (`slack`) or any,
    created since a time (or ever)."""
    condition: sa.ColumnElement[bool] = outbox.c.status.in_([s.value for s in statuses])
    if destination is not None:
        condition = sa.and_(
            condition,
            sa.or_(
                outbox.c.destination == destination,
                outbox.c.destination.startswith(f"{destination}:", autoescape=True),
            ),
        )
    if since is not None:
        condition = sa.and_(condition, outbox.c.created >= since)
    return condition
