"""Storage: the one package that talks to the database (SQLAlchemy Core; SQLite or PostgreSQL).

Every stage reads and writes through a `Store` and its domain repositories; nothing outside
this package imports SQLAlchemy or names a table.

    schema.py      the tables                     engine.py   connections, locks, faults
    records.py     the records returned           store.py    Store and Transaction
    feeds.py  items.py  stories.py  outbox.py (alerts and deliveries)  instances.py
    subscriptions.py (chats, topics and meta)     archive.py  retention of the item archive
    verdicts.py users' verdicts on alerts       holds.py  services that cannot send
    migrations/ Alembic: runner, env, versions
"""

from bot.storage.archive import Pruned
from bot.storage.migrations import Migrations, SchemaChange
from bot.storage.records import (
    AlertRecord,
    BurstMember,
    Delivery,
    DeliveryLine,
    Hold,
    StoredItem,
    StoryRecord,
    VerdictRecord,
)
from bot.storage.store import Store, Transaction

__all__ = [
    "AlertRecord",
    "BurstMember",
    "Delivery",
    "DeliveryLine",
    "Hold",
    "Migrations",
    "Pruned",
    "SchemaChange",
    "Store",
    "StoredItem",
    "StoryRecord",
    "Transaction",
    "VerdictRecord",
]
