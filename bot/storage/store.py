"""`Store`, the database behind every stage, and `Transaction`, several changes made at once.

Both reach the same domain repositories (`feeds`, `items`, `stories`, `alerts`, `outbox`,
`instances`, `subscriptions`, `meta`, `archive`, `verdicts`, `holds`). On the store each call is its own short transaction;
on a transaction every call joins it, and all of it is committed when the block ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from bot.storage.archive import Archive
from bot.storage.engine import Bound, Connector, Database
from bot.storage.feeds import Feeds
from bot.storage.holds import Holds
from bot.storage.instances import Instances
from bot.storage.items import Items
from bot.storage.migrations import Migrations, SchemaChange
from bot.storage.outbox import Alerts, Outbox
from bot.storage.stories import Stories
from bot.storage.subscriptions import Meta, Subscriptions
from bot.storage.verdicts import Verdicts

MERGE_LOCK_KEY = 0x52414441  # "RADA": PostgreSQL advisory lock serialising ingest


def _telegram(chat_id: int) -> str:
    return f"telegram:{chat_id}"  # a destination, as bot.deliver.route writes it


class _Domains:
    def __init__(self, db: Connector) -> None:
        self.feeds = Feeds(db)
        self.items = Items(db)
        self.stories = Stories(db)
        self.alerts = Alerts(db)
        self.outbox = Outbox(db)
        self.instances = Instances(db)
        self.subscriptions = Subscriptions(db)
        self.meta = Meta(db)
        self.archive = Archive(db)
        self.verdicts = Verdicts(db)
        self.holds = Holds(db)


class Transaction(_Domains):
    """Repositories bound to one open transaction."""

    def __init__(self, bound: Bound) -> None:
        super().__init__(bound)
        self._conn = bound.conn

    def migrate_chat(self, old: int, new: int, now: float) -> None:
        """A Telegram group became a supergroup: its subscriptions and pending rows follow
        the new chat id."""
        self.subscriptions.move(old, new, now, kind="supergroup")
        self.outbox.reroute(_telegram(old), _telegram(new))

    def _lock_ingest(self) -> None:
        """Serialise story merging across processes (SQLite already has one writer)."""
        if self._conn.dialect.name == "postgresql":
            self._conn.execute(
                sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MERGE_LOCK_KEY}
            )


class Store(_Domains):
    """The database (SQLite or PostgreSQL) behind every stage of the pipeline.

    Opening it prepares the schema (`schema` says what was done): an empty database is
    created at the latest revision, an older one of ours is upgraded, one made before
    migrations is adopted, and one of a newer Radar is refused (`StorageError`).
    """

    def __init__(
        self,
        url: str,
        *,
        migrations: Migrations | None = None,
        busy_timeout: float = 5.0,
        lock_wait: float = 300.0,
    ) -> None:
        self._db = Database(url, busy_timeout=busy_timeout, lock_wait=lock_wait)
        super().__init__(self._db)
        self._migrations = migrations or Migrations()
        try:
            self.schema: SchemaChange = self._migrations.prepare(self._db)
        except BaseException:
            self.close()
            raise

    @property
    def name(self) -> str:
        """The database URL without its password, for messages."""
        return self._db.name

    @property
    def dialect(self) -> str:
        return self._db.dialect

    def close(self) -> None:
        self._db.close()

    def schema_drift(self) -> list[str]:
        """How the database's tables differ from the ones this Radar defines (nothing, when
        they agree; an index an operator added shows here too)."""
        return self._migrations.drift(self._db)

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """One write transaction: committed when the block ends, rolled back if it raises."""
        with self._db.write() as conn:
            yield Transaction(Bound(conn))

    @contextmanager
    def ingest(self) -> Iterator[Transaction]:
        """A write transaction holding the ingest lock: item dedup and story merging."""
        with self.transaction() as tx:
            tx._lock_ingest()
            yield tx

    def migrate_chat(self, old: int, new: int, now: float) -> None:
        """A Telegram group became a supergroup: its subscriptions and pending rows follow
        the new chat id, all at once."""
        with self.transaction() as tx:
            tx.migrate_chat(old, new, now)
