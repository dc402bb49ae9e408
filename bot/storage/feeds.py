"""Feeds: what Radar remembers between polls, and the lease that lets one instance poll."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from bot.models import FeedState
from bot.storage import records
from bot.storage.engine import Repository, insert_missing, upsert, upsert_many
from bot.storage.records import FEED_FIELDS
from bot.storage.schema import feeds

_STATE = tuple(feeds.c[name] for name in FEED_FIELDS)


class Feeds(Repository):
    def states(self) -> dict[str, FeedState]:
        with self._db.read() as conn:
            return {row.url: records.feed_state(row) for row in conn.execute(sa.select(*_STATE))}

    def state(self, url: str) -> FeedState | None:
        with self._db.read() as conn:
            row = conn.execute(sa.select(*_STATE).where(feeds.c.url == url)).first()
            return records.feed_state(row) if row else None

    def save(self, state: FeedState) -> None:
        values = {name: getattr(state, name) for name in FEED_FIELDS}
        with self._db.write() as conn:
            upsert(conn, feeds, values, ["url"])

    def save_many(self, states: Sequence[FeedState]) -> None:
        """Save many feeds' states in one statement (a cycle's 304s and errors)."""
        rows = [{name: getattr(state, name) for name in FEED_FIELDS} for state in states]
        with self._db.write() as conn:
            upsert_many(conn, feeds, rows, ["url"])

    def lease(self, url: str, owner: str, now: float, ttl: float) -> bool:
        """Take the right to poll a feed for `ttl` seconds (one instance at a time)."""
        with self._db.write() as conn:
            insert_missing(
                conn,
                feeds,
                [{"url": url, "failures": 0, "gone": False, "baselined": False}],
                ["url"],
            )
            taken = conn.execute(
                feeds.update()
                .where(
                    feeds.c.url == url,
                    sa.or_(
                        feeds.c.lease_until.is_(None),
                        feeds.c.lease_until < now,
                        feeds.c.lease_owner == owner,
                    ),
                )
                .values(lease_owner=owner, lease_until=now + ttl)
            )
            return taken.rowcount == 1

    def release(self, url: str, owner: str) -> None:
        with self._db.write() as conn:
            conn.execute(
                feeds.update()
                .where(feeds.c.url == url, feeds.c.lease_owner == owner)
                .values(lease_owner=None, lease_until=None)
            )
