"""Items: everything polled, kept as the archive that backtests replay."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa

from bot.models import Item
from bot.storage import records
from bot.storage.engine import Repository, chunks, inserted_id
from bot.storage.records import StoredItem
from bot.storage.schema import items
from bot.types import ItemVerdict


def _row(
    item: Item,
    effective: float,
    first_seen: float,
    verdict: ItemVerdict,
    features: dict[str, Any] | None,
) -> dict[str, Any]:
    return item.fields() | {
        "effective": effective,
        "first_seen": first_seen,
        "verdict": verdict.value,
        "features": features,
    }


# `known`'s queries, built once: an IN of hundreds of values is one expanding parameter, not
# hundreds of bound literals to build, coerce and hash for the statement cache on every call.
_VALUES: sa.BindParameter[list[str]] = sa.bindparam("values", expanding=True)
_TOLD = {False: items.c.story_id.isnot(None), True: sa.true()}  # by `any_copy`
_FEED_GUIDS = sa.select(items.c.guid).where(
    items.c.feed_url == sa.bindparam("feed"), items.c.guid.in_(_VALUES)
)
_GUIDS = {k: sa.select(items.c.guid).where(items.c.guid.in_(_VALUES), c) for k, c in _TOLD.items()}
_LINKS = {
    k: sa.select(items.c.canonical_link).where(items.c.canonical_link.in_(_VALUES), c)
    for k, c in _TOLD.items()
}


class Items(Repository):
    def known(
        self,
        feed_url: str,
        guids: Sequence[str],
        links: Sequence[str],
        *,
        any_copy: bool = False,
    ) -> tuple[set[str], set[str]]:
        """Of these GUIDs and canonical links, the ones already stored.

        A GUID of this feed is known whatever became of its item. Another feed's copy (the same
        canonical link, or a GUID that is a URL or URN, unique everywhere) counts only when it
        is in a story, told already: a copy another feed recorded as its backlog, or one no rule
        matched, does not make this one old news. With `any_copy`, every copy counts (what an
        archive import needs: the item is stored, whatever became of it).
        """
        known_guids: set[str] = set()
        known_links: set[str] = set()
        with self._db.read() as conn:
            for chunk in chunks(guids):
                known_guids.update(conn.scalars(_FEED_GUIDS, {"feed": feed_url, "values": chunk}))
                global_ids = [g for g in chunk if ":" in g]
                if global_ids:
                    known_guids.update(conn.scalars(_GUIDS[any_copy], {"values": global_ids}))
            for chunk in chunks(links):
                known_links.update(conn.scalars(_LINKS[any_copy], {"values": chunk}))
        return known_guids, known_links

    def add(
        self,
        item: Item,
        *,
        effective: float,
        first_seen: float,
        verdict: ItemVerdict,
        features: dict[str, Any] | None = None,
    ) -> int:
        with self._db.write() as conn:
            result = conn.execute(
                items.insert().values(_row(item, effective, first_seen, verdict, features))
            )
            return inserted_id(result)

    def add_many(
        self, rows: Sequence[tuple[Item, float, ItemVerdict]], *, first_seen: float
    ) -> None:
        """Store items that will not alert (a backlog, items too old, items no rule matched),
        each with the time it counts as published and its verdict, in one statement."""
        if not rows:
            return
        with self._db.write() as conn:
            conn.execute(
                items.insert(),
                [
                    _row(item, effective, first_seen, verdict, None)
                    for item, effective, verdict in rows
                ],
            )

    def set_story(self, item_id: int, story_id: int, merge: dict[str, Any] | None) -> None:
        """File an item under its story, with the evidence of the merge."""
        with self._db.write() as conn:
            conn.execute(
                items.update().where(items.c.id == item_id).values(story_id=story_id, merge=merge)
            )

    def get(self, item_id: int) -> StoredItem | None:
        with self._db.read() as conn:
            row = conn.execute(sa.select(items).where(items.c.id == item_id)).first()
            return records.stored_item(row) if row else None

    def iterate(
        self, since: float | None = None, verdict: ItemVerdict | None = None, batch: int = 1000
    ) -> Iterator[StoredItem]:
        """Stored items in order of arrival (the archive), read in batches; `since`: only
        those first seen at or after it."""
        last = 0
        while True:
            query = sa.select(items).where(items.c.id > last).order_by(items.c.id).limit(batch)
            if since is not None:
                query = query.where(items.c.first_seen >= since)
            if verdict is not None:
                query = query.where(items.c.verdict == verdict.value)
            with self._db.read() as conn:
                rows = list(conn.execute(query))
            if not rows:
                return
            for row in rows:
                yield records.stored_item(row)
            last = rows[-1].id

    def count(self) -> int:
        with self._db.read() as conn:
            return int(conn.scalar(sa.select(sa.func.count()).select_from(items)) or 0)

    def seen_span(self) -> tuple[float, float] | None:
        """When the oldest and the newest stored items were first seen (None: no items)."""
        with self._db.read() as conn:
            row = conn.execute(
                sa.select(sa.func.min(items.c.first_seen), sa.func.max(items.c.first_seen))
            ).first()
        if row is None or row[0] is None:
            return None
        return float(row[0]), float(row[1])

    def latest_per_feed(self) -> dict[str, StoredItem]:
        """Each feed's most recently stored item."""
        last = sa.select(sa.func.max(items.c.id)).group_by(items.c.feed_url).scalar_subquery()
        with self._db.read() as conn:
            rows = conn.execute(sa.select(items).where(items.c.id.in_(last)))
            return {row.feed_url: records.stored_item(row) for row in rows}
