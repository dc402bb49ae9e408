"""Stories: items of one event told by many outlets, and the key index that finds them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import sqlalchemy as sa

from bot.storage import records
from bot.storage.engine import Repository, insert_missing, inserted_id
from bot.storage.records import StoredItem, StoryRecord
from bot.storage.schema import STORY_KEY_LENGTH, items, stories, story_keys


class Stories(Repository):
    def candidates(
        self, keys: Iterable[str], low: float, high: float, *, per_key: int = 200, limit: int = 8
    ) -> list[tuple[int, int]]:
        """Stories in the time window sharing keys with an item: (story id, shared keys), the
        `limit` sharing most.

        Each key reads at most `per_key` postings (the most recent in the window), so a
        common key costs the same however many stories there are.
        """
        counts: dict[int, int] = {}
        with self._db.read() as conn:
            for key in keys:
                ids = conn.scalars(
                    sa.select(story_keys.c.story_id)
                    .where(story_keys.c.key == key, story_keys.c.published.between(low, high))
                    .order_by(story_keys.c.published.desc())
                    .limit(per_key)
                )
                for story_id in set(ids):
                    counts[story_id] = counts.get(story_id, 0) + 1
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], -kv[0]))
        return ranked[:limit]

    def get(self, story_id: int) -> StoryRecord | None:
        with self._db.read() as conn:
            row = conn.execute(sa.select(stories).where(stories.c.id == story_id)).first()
            return records.story(row) if row else None

    def many(self, story_ids: Sequence[int]) -> dict[int, StoryRecord]:
        if not story_ids:
            return {}
        with self._db.read() as conn:
            rows = conn.execute(sa.select(stories).where(stories.c.id.in_(list(story_ids))))
            return {row.id: records.story(row) for row in rows}

    def first_items(
        self, story_ids: Sequence[int], *, per_story: int = 6
    ) -> dict[int, list[StoredItem]]:
        """The first items of each story (the ones a newcomer is compared with)."""
        found: dict[int, list[StoredItem]] = {s: [] for s in story_ids}
        if not story_ids:
            return found
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(items).where(items.c.story_id.in_(list(story_ids))).order_by(items.c.id)
            )
            for row in rows:
                bucket = found[row.story_id]
                if len(bucket) < per_story:
                    bucket.append(records.stored_item(row))
        return found

    def members(self, story_id: int) -> list[StoredItem]:
        """Every item of a story, in order of publication."""
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(items)
                .where(items.c.story_id == story_id)
                .order_by(items.c.effective, items.c.id)
            )
            return [records.stored_item(r) for r in rows]

    def recent(self, limit: int) -> list[StoryRecord]:
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(stories).order_by(stories.c.last_published.desc()).limit(limit)
            )
            return [records.story(r) for r in rows]

    def create(
        self, item_id: int, title: str, published: float, rules: Sequence[str], now: float
    ) -> int:
        with self._db.write() as conn:
            result = conn.execute(
                stories.insert().values(
                    title=title,
                    first_item_id=item_id,
                    created=now,
                    first_published=published,
                    last_published=published,
                    rules=list(rules),
                    item_count=1,
                )
            )
            return inserted_id(result)

    def grow(self, story: StoryRecord, published: float, rules: Sequence[str]) -> None:
        """One more item joined: widen the story's time span and rules."""
        merged = list(dict.fromkeys([*story.rules, *rules]))
        with self._db.write() as conn:
            conn.execute(
                stories.update()
                .where(stories.c.id == story.id)
                .values(
                    rules=merged,
                    item_count=stories.c.item_count + 1,
                    first_published=min(story.first_published, published),
                    last_published=max(story.last_published, published),
                )
            )

    def add_keys(self, story_id: int, keys: Iterable[str], published: float) -> None:
        """File a story under an item's keys, at the item's time."""
        rows = [
            {"key": k[:STORY_KEY_LENGTH], "published": published, "story_id": story_id}
            for k in set(keys)
        ]
        with self._db.write() as conn:
            insert_missing(conn, story_keys, rows, ["key", "published", "story_id"])

    def count(self) -> int:
        with self._db.read() as conn:
            return int(conn.scalar(sa.select(sa.func.count()).select_from(stories)) or 0)
