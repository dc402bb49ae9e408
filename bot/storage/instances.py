"""Running instances and their leases: who is alive, and freeing what the dead held."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from bot.storage.engine import Repository, upsert
from bot.storage.schema import feeds, instances, outbox
from bot.types import DeliveryStatus

_LEASED = (outbox, feeds)  # the tables whose rows carry a lease_owner and lease_until


class Instances(Repository):
    def heartbeat(self, owner: str, now: float, *, alive: float = 30.0) -> int:
        """Say this instance is running; free what instances that have not beaten for
        `alive` seconds had leased; return how many instances are running."""
        with self._db.write() as conn:
            upsert(conn, instances, {"owner": owner, "seen": now}, ["owner"])
            conn.execute(instances.delete().where(instances.c.seen < now - alive))
            living = sa.select(instances.c.owner)
            for table in _LEASED:
                conn.execute(
                    table.update()
                    .where(table.c.lease_owner.is_not(None), table.c.lease_owner.not_in(living))
                    .values(lease_owner=None, lease_until=None)
                )
            return int(conn.scalar(sa.select(sa.func.count()).select_from(instances)) or 1)

    def leave(self, owner: str) -> None:
        with self._db.write() as conn:
            conn.execute(instances.delete().where(instances.c.owner == owner))

    def recover(self, is_dead: Callable[[str], bool], now: float) -> int:
        """Free outbox rows and feeds leased by owners that `is_dead` says are gone; return
        how many outbox rows were freed."""
        with self._db.write() as conn:
            owners: set[str] = set()
            for table in _LEASED:
                owners.update(
                    conn.scalars(
                        sa.select(table.c.lease_owner).where(
                            table.c.lease_owner.is_not(None), table.c.lease_until >= now
                        )
                    )
                )
            dead = [o for o in owners if is_dead(o)]
            if not dead:
                return 0
            freed = conn.execute(
                outbox.update()
                .where(outbox.c.lease_owner.in_(dead))
                .values(lease_owner=None, lease_until=None)
            ).rowcount
            conn.execute(
                feeds.update()
                .where(feeds.c.lease_owner.in_(dead))
                .values(lease_owner=None, lease_until=None)
            )
            return freed

    def release(self, owner: str) -> int:
        """Give back the rows and feeds this process had in flight (at a graceful stop);
        return how many outbox rows were given back."""
        with self._db.write() as conn:
            done = conn.execute(
                outbox.update()
                .where(
                    outbox.c.lease_owner == owner, outbox.c.status == DeliveryStatus.PENDING.value
                )
                .values(lease_owner=None, lease_until=None)
            )
            conn.execute(
                feeds.update()
                .where(feeds.c.lease_owner == owner)
                .values(lease_owner=None, lease_until=None)
            )
            return done.rowcount
