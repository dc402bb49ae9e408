"""Services on hold: a service that cannot send at all (its token), and why, so that
`radar status` can say it from another process. Kept as `hold:<service>` in `meta`."""

from __future__ import annotations

import json

import sqlalchemy as sa

from bot.storage.engine import Repository, upsert
from bot.storage.records import Hold
from bot.storage.schema import meta

PREFIX = "hold:"


class Holds(Repository):
    def hold(self, service: str, reason: str, now: float) -> None:
        """Record that `service` cannot send, and why (since when it was first seen stays)."""
        key = PREFIX + service
        with self._db.write() as conn:
            old = conn.scalar(sa.select(meta.c.value).where(meta.c.key == key))
            since = float(json.loads(old)["since"]) if old else now
            upsert(conn, meta, {"key": key, "value": _value(reason, since)}, ["key"])

    def release(self, service: str) -> None:
        with self._db.write() as conn:
            conn.execute(meta.delete().where(meta.c.key == PREFIX + service))

    def all(self) -> list[Hold]:
        """Every service on hold, by name."""
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(meta.c.key, meta.c.value)
                .where(meta.c.key.startswith(PREFIX, autoescape=True))
                .order_by(meta.c.key)
            )
            held = []
            for key, value in rows:
                data = json.loads(value)
                held.append(
                    Hold(key.removeprefix(PREFIX), str(data["reason"]), float(data["since"]))
                )
            return held


def _value(reason: str, now: float) -> str:
    return json.dumps({"reason": reason, "since": now})
