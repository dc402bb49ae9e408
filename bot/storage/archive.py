"""The archive's retention: items older than the retention period go, with the stories they
made, unless a story still has deliveries waiting."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from bot.storage.engine import Repository, chunks
from bot.storage.schema import alerts, items, outbox, stories, story_keys
from bot.types import DeliveryStatus


@dataclass(frozen=True, slots=True)
class Pruned:
    """What one pruning removed, and the old stories it kept for their pending deliveries."""

    items: int = 0
    stories: int = 0
    alerts: int = 0
    kept_stories: int = 0


class Archive(Repository):
    def prune(self, cutoff: float) -> Pruned:
        """Remove items first seen before `cutoff`. A story goes when its last item is that
        old, with its keys, alerts and delivery rows; a story with a pending delivery is kept
        whole, items included."""
        with self._db.write() as conn:
            waiting = set(
                conn.scalars(
                    sa.select(alerts.c.story_id)
                    .join(outbox, outbox.c.alert_id == alerts.c.id)
                    .where(outbox.c.status == DeliveryStatus.PENDING.value)
                    .distinct()
                )
            )
            old = set(
                conn.scalars(
                    sa.select(items.c.story_id)
                    .where(items.c.story_id.is_not(None))
                    .group_by(items.c.story_id)
                    .having(sa.func.max(items.c.first_seen) < cutoff)
                )
            )
            gone = sorted(old - waiting)
            removed_items = conn.execute(
                items.delete().where(items.c.story_id.is_(None), items.c.first_seen < cutoff)
            ).rowcount
            removed_alerts = 0
            for chunk in chunks(gone):
                alert_ids = list(
                    conn.scalars(sa.select(alerts.c.id).where(alerts.c.story_id.in_(chunk)))
                )
                for ids in chunks(alert_ids):
                    conn.execute(outbox.delete().where(outbox.c.alert_id.in_(ids)))
                removed_alerts += conn.execute(
                    alerts.delete().where(alerts.c.story_id.in_(chunk))
                ).rowcount
                removed_items += conn.execute(
                    items.delete().where(items.c.story_id.in_(chunk))
                ).rowcount
                conn.execute(story_keys.delete().where(story_keys.c.story_id.in_(chunk)))
                conn.execute(stories.delete().where(stories.c.id.in_(chunk)))
        return Pruned(removed_items, len(gone), removed_alerts, len(old & waiting))
