"""Storage: the one module that talks to the database (SQLAlchemy Core; SQLite or PostgreSQL).

Every stage of the pipeline reads and writes through `Store`. Times are epoch seconds (floats).
The schema is created and versioned here; `SCHEMA_VERSION` goes up with every change, and
`_MIGRATIONS` upgrades an older database in place.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from bot.errors import ConfigError
from bot.models import FeedState, Item

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
MERGE_LOCK_KEY = 0x52414441  # "RADA": PostgreSQL advisory lock serialising ingest

metadata = sa.MetaData()

meta = sa.Table(
    "meta",
    metadata,
    sa.Column("key", sa.String(100), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

feeds = sa.Table(
    "feeds",
    metadata,
    sa.Column("url", sa.Text, primary_key=True),
    sa.Column("title", sa.Text),
    sa.Column("etag", sa.Text),
    sa.Column("last_modified", sa.Text),
    sa.Column("body_hash", sa.String(64)),
    sa.Column("last_poll", sa.Float),
    sa.Column("last_change", sa.Float),
    sa.Column("last_status", sa.Integer),
    sa.Column("next_due", sa.Float),
    sa.Column("failures", sa.Integer, nullable=False, default=0),
    sa.Column("last_error", sa.Text),
    sa.Column("failing_since", sa.Float),
    sa.Column("moved_to", sa.Text),
    sa.Column("gone", sa.Boolean, nullable=False, default=False),
    sa.Column("baselined", sa.Boolean, nullable=False, default=False),
    sa.Column("lease_owner", sa.String(100)),
    sa.Column("lease_until", sa.Float),
)

items = sa.Table(
    "items",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("feed_url", sa.Text, nullable=False),
    sa.Column("guid", sa.Text, nullable=False),
    sa.Column("link", sa.Text),
    sa.Column("canonical_link", sa.Text),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("summary", sa.Text, nullable=False, default=""),
    sa.Column("content", sa.Text, nullable=False, default=""),
    sa.Column("author", sa.Text, nullable=False, default=""),
    sa.Column("categories", sa.JSON, nullable=False, default=list),
    sa.Column("outlet", sa.Text, nullable=False, default=""),
    sa.Column("language", sa.String(35)),
    sa.Column("published", sa.Float),
    sa.Column("effective", sa.Float, nullable=False),
    sa.Column("first_seen", sa.Float, nullable=False),
    sa.Column("verdict", sa.String(10), nullable=False),
    sa.Column("story_id", _ID),
    sa.Column("features", sa.JSON),
    sa.Column("merge", sa.JSON),
    sa.UniqueConstraint("feed_url", "guid", name="uq_items_feed_guid"),
    sa.Index("ix_items_canonical_link", "canonical_link"),
    sa.Index("ix_items_guid", "guid"),
    sa.Index("ix_items_story", "story_id"),
    sa.Index("ix_items_effective", "effective"),
)

stories = sa.Table(
    "stories",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("first_item_id", _ID, nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("first_published", sa.Float, nullable=False),
    sa.Column("last_published", sa.Float, nullable=False),
    sa.Column("rules", sa.JSON, nullable=False, default=list),
    sa.Column("item_count", sa.Integer, nullable=False, default=1),
    sa.Index("ix_stories_last_published", "last_published"),
)

story_keys = sa.Table(
    "story_keys",
    metadata,
    sa.Column("key", sa.String(200), nullable=False),
    sa.Column("published", sa.Float, nullable=False),
    sa.Column("story_id", _ID, nullable=False),
    sa.PrimaryKeyConstraint("key", "published", "story_id", name="pk_story_keys"),
)

alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("story_id", _ID, nullable=False),
    sa.Column("item_id", _ID, nullable=False),
    sa.Column("kind", sa.String(10), nullable=False),  # "alert" or "followup"
    sa.Column("rules", sa.JSON, nullable=False),
    sa.Column("matches", sa.JSON, nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.Index("ix_alerts_story", "story_id"),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("alert_id", _ID, nullable=False),
    sa.Column("destination", sa.String(300), nullable=False),
    sa.Column("parent_id", _ID),
    sa.Column("status", sa.String(10), nullable=False, default="pending"),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt", sa.Float, nullable=False),
    sa.Column("lease_owner", sa.String(100)),
    sa.Column("lease_until", sa.Float),
    sa.Column("ref", sa.Text),
    sa.Column("error", sa.Text),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("sent", sa.Float),
    sa.UniqueConstraint("alert_id", "destination", name="uq_outbox_alert_destination"),
    sa.Index("ix_outbox_status_destination", "status", "destination", "id"),
)

chats = sa.Table(
    "chats",
    metadata,
    sa.Column("chat_id", sa.BigInteger, primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False, default="private"),
    sa.Column("title", sa.Text),
    sa.Column("created", sa.Float, nullable=False),
)

subscriptions = sa.Table(
    "subscriptions",
    metadata,
    sa.Column("chat_id", sa.BigInteger, nullable=False),
    sa.Column("topic", sa.String(100), nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.PrimaryKeyConstraint("chat_id", "topic", name="pk_subscriptions"),
)

instances = sa.Table(
    "instances",
    metadata,
    sa.Column("owner", sa.String(100), primary_key=True),
    sa.Column("seen", sa.Float, nullable=False),
)

_MIGRATIONS: dict[int, Callable[[Connection], None]] = {}


def engine_url(url: str) -> str:
    """Choose drivers we ship: psycopg 3 for PostgreSQL."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _sqlite_path(url: sa.URL) -> Path | None:
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def make_engine(url: str) -> Engine:
    try:
        parsed = sa.make_url(engine_url(url))
    except sa.exc.ArgumentError as exc:
        raise ConfigError(f"RADAR_DB: not a database URL: {url!r}") from exc
    if (path := _sqlite_path(parsed)) is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(parsed, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(connection: Connection) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    try:
        return sa.create_engine(parsed, pool_pre_ping=True)
    except (ImportError, sa.exc.NoSuchModuleError) as exc:
        raise ConfigError(
            f"RADAR_DB: no driver for {parsed.get_backend_name()}: "
            "install restriction-radar[postgres] for PostgreSQL"
        ) from exc


@dataclass(frozen=True, slots=True)
class StoredItem:
    id: int
    item: Item
    effective: float
    first_seen: float
    story_id: int | None
    features: dict[str, Any] | None
    merge: dict[str, Any] | None = None
    verdict: str = "new"


@dataclass(frozen=True, slots=True)
class Delivery:
    """An outbox row: one alert for one destination."""

    id: int
    alert_id: int
    destination: str
    parent_id: int | None
    status: str
    attempts: int
    next_attempt: float
    ref: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class AlertRecord:
    id: int
    story_id: int
    item_id: int
    kind: str
    rules: tuple[str, ...]
    matches: dict[str, list[dict[str, str]]]
    created: float


@dataclass(frozen=True, slots=True)
class StoryRecord:
    id: int
    title: str
    first_item_id: int
    created: float
    first_published: float
    last_published: float
    rules: tuple[str, ...]
    item_count: int


def _item_from_row(row: Any) -> StoredItem:
    item = Item(
        feed_url=row.feed_url,
        guid=row.guid,
        title=row.title,
        link=row.link,
        canonical_link=row.canonical_link,
        summary=row.summary,
        content=row.content,
        author=row.author,
        categories=tuple(row.categories or ()),
        published=row.published,
        outlet=row.outlet,
        language=row.language,
    )
    return StoredItem(
        row.id,
        item,
        row.effective,
        row.first_seen,
        row.story_id,
        row.features,
        row.merge,
        row.verdict,
    )


def _story_from_row(row: Any) -> StoryRecord:
    return StoryRecord(
        row.id,
        row.title,
        row.first_item_id,
        row.created,
        row.first_published,
        row.last_published,
        tuple(row.rules or ()),
        row.item_count,
    )


def _delivery_from_row(row: Any) -> Delivery:
    return Delivery(
        row.id,
        row.alert_id,
        row.destination,
        row.parent_id,
        row.status,
        row.attempts,
        row.next_attempt,
        row.ref,
        row.error,
    )


_FEED_FIELDS = tuple(f.name for f in fields(FeedState))


def _dialect_insert(conn: Connection, table: sa.Table) -> Any:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def upsert(conn: Connection, table: sa.Table, values: dict[str, Any], keys: Sequence[str]) -> None:
    """Insert a row, or update it when its key exists (safe when processes race)."""
    statement = _dialect_insert(conn, table).values(**values)
    changes = {k: v for k, v in values.items() if k not in keys}
    if changes:
        conn.execute(statement.on_conflict_do_update(index_elements=list(keys), set_=changes))
    else:
        conn.execute(statement.on_conflict_do_nothing(index_elements=list(keys)))


def insert_missing(
    conn: Connection, table: sa.Table, rows: Sequence[dict[str, Any]], keys: Sequence[str]
) -> None:
    """Insert rows whose key is not there yet (safe when processes race)."""
    if rows:
        conn.execute(
            _dialect_insert(conn, table).on_conflict_do_nothing(index_elements=list(keys)),
            list(rows),
        )


class Tx:
    """Operations inside one database transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # -- items -------------------------------------------------------------------------
    def known_items(
        self, feed_url: str, guids: Sequence[str], links: Sequence[str]
    ) -> tuple[set[str], set[str]]:
        """Of these GUIDs and canonical links, the ones already stored.

        A GUID is per feed, unless it is a URL or URN, which is unique everywhere.
        """
        known_guids: set[str] = set()
        known_links: set[str] = set()
        for chunk in _chunks(guids):
            known_guids.update(
                self.conn.scalars(
                    sa.select(items.c.guid).where(
                        items.c.feed_url == feed_url, items.c.guid.in_(chunk)
                    )
                )
            )
            global_ids = [g for g in chunk if ":" in g]
            if global_ids:
                known_guids.update(
                    self.conn.scalars(sa.select(items.c.guid).where(items.c.guid.in_(global_ids)))
                )
        for chunk in _chunks(links):
            known_links.update(
                self.conn.scalars(
                    sa.select(items.c.canonical_link).where(items.c.canonical_link.in_(chunk))
                )
            )
        return known_guids, known_links

    def insert_item(
        self,
        item: Item,
        *,
        effective: float,
        first_seen: float,
        verdict: str,
        features: dict[str, Any] | None = None,
    ) -> int:
        result = self.conn.execute(
            items.insert().values(
                feed_url=item.feed_url,
                guid=item.guid,
                link=item.link,
                canonical_link=item.canonical_link,
                title=item.title,
                summary=item.summary,
                content=item.content,
                author=item.author,
                categories=list(item.categories),
                outlet=item.outlet,
                language=item.language,
                published=item.published,
                effective=effective,
                first_seen=first_seen,
                verdict=verdict,
                features=features,
            )
        )
        return int(result.inserted_primary_key[0])

    def set_item_story(self, item_id: int, story_id: int, merge: dict[str, Any] | None) -> None:
        self.conn.execute(
            items.update().where(items.c.id == item_id).values(story_id=story_id, merge=merge)
        )

    def item(self, item_id: int) -> StoredItem | None:
        row = self.conn.execute(sa.select(items).where(items.c.id == item_id)).first()
        return _item_from_row(row) if row else None

    # -- stories -----------------------------------------------------------------------
    def story_candidates(
        self, keys: Iterable[str], low: float, high: float, per_key: int = 200, limit: int = 8
    ) -> list[tuple[int, int]]:
        """Stories in the time window sharing keys with an item: (story id, shared keys).

        Each key reads at most `per_key` postings (the most recent in the window), so a
        common key costs the same however many stories there are.
        """
        counts: dict[int, int] = {}
        for key in keys:
            ids = self.conn.scalars(
                sa.select(story_keys.c.story_id)
                .where(story_keys.c.key == key, story_keys.c.published.between(low, high))
                .order_by(story_keys.c.published.desc())
                .limit(per_key)
            )
            for story_id in set(ids):
                counts[story_id] = counts.get(story_id, 0) + 1
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], -kv[0]))
        return ranked[:limit]

    def story(self, story_id: int) -> StoryRecord | None:
        row = self.conn.execute(sa.select(stories).where(stories.c.id == story_id)).first()
        return _story_from_row(row) if row else None

    def stories(self, story_ids: Sequence[int]) -> dict[int, StoryRecord]:
        if not story_ids:
            return {}
        rows = self.conn.execute(sa.select(stories).where(stories.c.id.in_(list(story_ids))))
        return {row.id: _story_from_row(row) for row in rows}

    def story_items(
        self, story_ids: Sequence[int], per_story: int = 6
    ) -> dict[int, list[StoredItem]]:
        """The first items of each story (the ones a newcomer is compared with)."""
        found: dict[int, list[StoredItem]] = {s: [] for s in story_ids}
        if not story_ids:
            return found
        rows = self.conn.execute(
            sa.select(items).where(items.c.story_id.in_(list(story_ids))).order_by(items.c.id)
        )
        for row in rows:
            bucket = found[row.story_id]
            if len(bucket) < per_story:
                bucket.append(_item_from_row(row))
        return found

    def create_story(
        self, item_id: int, title: str, published: float, rules: Sequence[str], now: float
    ) -> int:
        result = self.conn.execute(
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
        return int(result.inserted_primary_key[0])

    def grow_story(self, story: StoryRecord, published: float, rules: Sequence[str]) -> None:
        merged = list(dict.fromkeys([*story.rules, *rules]))
        self.conn.execute(
            stories.update()
            .where(stories.c.id == story.id)
            .values(
                rules=merged,
                item_count=stories.c.item_count + 1,
                first_published=min(story.first_published, published),
                last_published=max(story.last_published, published),
            )
        )

    def add_story_keys(self, story_id: int, keys: Iterable[str], published: float) -> None:
        rows = [{"key": k[:200], "published": published, "story_id": story_id} for k in set(keys)]
        insert_missing(self.conn, story_keys, rows, ["key", "published", "story_id"])

    # -- alerts and the outbox -----------------------------------------------------------
    def create_alert(
        self,
        *,
        story_id: int,
        item_id: int,
        kind: str,
        rules: Sequence[str],
        matches: dict[str, list[dict[str, str]]],
        destinations: Sequence[tuple[str, int | None]],
        now: float,
    ) -> int:
        """An alert and its outbox rows, in the caller's transaction (written before any send)."""
        alert_id = int(
            self.conn.execute(
                alerts.insert().values(
                    story_id=story_id,
                    item_id=item_id,
                    kind=kind,
                    rules=list(rules),
                    matches=matches,
                    created=now,
                )
            ).inserted_primary_key[0]
        )
        if destinations:
            self.conn.execute(
                outbox.insert(),
                [
                    {
                        "alert_id": alert_id,
                        "destination": destination,
                        "parent_id": parent,
                        "status": "pending",
                        "attempts": 0,
                        "next_attempt": now,
                        "created": now,
                    }
                    for destination, parent in destinations
                ],
            )
        return alert_id

    def story_roots(self, story_id: int) -> dict[str, int]:
        """For each destination, the outbox row that opened the story there (for threading)."""
        rows = self.conn.execute(
            sa.select(outbox.c.destination, sa.func.min(outbox.c.id))
            .join(alerts, alerts.c.id == outbox.c.alert_id)
            .where(alerts.c.story_id == story_id, alerts.c.kind == "alert")
            .group_by(outbox.c.destination)
        )
        return {destination: int(first) for destination, first in rows}

    def subscribers(self) -> dict[str, list[int]]:
        """Chat ids by topic."""
        found: dict[str, list[int]] = {}
        query = sa.select(subscriptions.c.chat_id, subscriptions.c.topic).order_by(
            subscriptions.c.chat_id
        )
        for chat_id, topic in self.conn.execute(query):
            found.setdefault(topic, []).append(int(chat_id))
        return found

    # -- feeds ---------------------------------------------------------------------------
    def save_feed_state(self, state: FeedState) -> None:
        upsert(self.conn, feeds, {name: getattr(state, name) for name in _FEED_FIELDS}, ["url"])

    def lock_ingest(self) -> None:
        """Serialise story merging across processes (SQLite already has one writer)."""
        if self.conn.dialect.name == "postgresql":
            self.conn.execute(
                sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MERGE_LOCK_KEY}
            )


def _chunks(values: Sequence[str], size: int = 500) -> Iterator[list[str]]:
    values = list(dict.fromkeys(v for v in values if v))
    for start in range(0, len(values), size):
        yield values[start : start + size]


class Store:
    """The database behind every stage of the pipeline."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        try:
            self._prepare()
        except sa.exc.OperationalError as exc:
            raise ConfigError(f"RADAR_DB: cannot open the database: {exc.orig}") from exc

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def close(self) -> None:
        self.engine.dispose()

    def _prepare(self) -> None:
        with self.begin() as tx:
            conn = tx.conn
            if self.dialect == "postgresql":
                conn.execute(
                    sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MERGE_LOCK_KEY + 1}
                )
            inspector = sa.inspect(conn)
            if not inspector.has_table("meta"):
                metadata.create_all(conn)
                conn.execute(meta.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
                return
            version = int(
                conn.scalar(sa.select(meta.c.value).where(meta.c.key == "schema_version")) or 0
            )
            if version > SCHEMA_VERSION:
                raise ConfigError(
                    f"the database has schema version {version}, newer than this Radar ({SCHEMA_VERSION}): upgrade Radar"
                )
            while version < SCHEMA_VERSION:
                version += 1
                log.info("upgrading the database schema to version %d", version)
                _MIGRATIONS[version](conn)
                conn.execute(
                    meta.update().where(meta.c.key == "schema_version").values(value=str(version))
                )

    @contextmanager
    def begin(self) -> Iterator[Tx]:
        with self.engine.begin() as conn:
            yield Tx(conn)

    @contextmanager
    def ingest(self) -> Iterator[Tx]:
        """A write transaction holding the ingest lock: item dedup and story merging."""
        with self.begin() as tx:
            tx.lock_ingest()
            yield tx

    # -- meta ----------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.scalar(sa.select(meta.c.value).where(meta.c.key == key))

    def set_meta(self, key: str, value: str) -> None:
        with self.begin() as tx:
            upsert(tx.conn, meta, {"key": key, "value": value}, ["key"])

    # -- feeds ---------------------------------------------------------------------------
    def feed_states(self) -> dict[str, FeedState]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(*(feeds.c[name] for name in _FEED_FIELDS)))
            return {row.url: FeedState(**row._asdict()) for row in rows}

    def feed_state(self, url: str) -> FeedState | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(*(feeds.c[name] for name in _FEED_FIELDS)).where(feeds.c.url == url)
            ).first()
            return FeedState(**row._asdict()) if row else None

    def save_feed_state(self, state: FeedState) -> None:
        with self.begin() as tx:
            tx.save_feed_state(state)

    def lease_feed(self, url: str, owner: str, now: float, ttl: float) -> bool:
        """Take the right to poll a feed for `ttl` seconds (one instance at a time)."""
        with self.begin() as tx:
            conn = tx.conn
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

    def release_feed(self, url: str, owner: str) -> None:
        with self.begin() as tx:
            tx.conn.execute(
                feeds.update()
                .where(feeds.c.url == url, feeds.c.lease_owner == owner)
                .values(lease_owner=None, lease_until=None)
            )

    # -- items, stories, alerts ------------------------------------------------------------
    def item(self, item_id: int) -> StoredItem | None:
        with self.engine.connect() as conn:
            return Tx(conn).item(item_id)

    def iter_items(
        self, since: float | None = None, verdict: str | None = None, batch: int = 1000
    ) -> Iterator[StoredItem]:
        """Stored items in order of arrival (the archive), read in batches."""
        last = 0
        while True:
            with self.engine.connect() as conn:
                query = sa.select(items).where(items.c.id > last).order_by(items.c.id).limit(batch)
                if since is not None:
                    query = query.where(items.c.effective >= since)
                if verdict is not None:
                    query = query.where(items.c.verdict == verdict)
                rows = list(conn.execute(query))
            if not rows:
                return
            for row in rows:
                yield _item_from_row(row)
            last = rows[-1].id

    def alerts_for_items(self, item_ids: Sequence[int]) -> dict[int, list[AlertRecord]]:
        found: dict[int, list[AlertRecord]] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks([str(i) for i in item_ids]):
                rows = conn.execute(
                    sa.select(alerts).where(alerts.c.item_id.in_([int(i) for i in chunk]))
                )
                for row in rows:
                    found.setdefault(row.item_id, []).append(_alert_from_row(row))
        return found

    def alert(self, alert_id: int) -> AlertRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(alerts).where(alerts.c.id == alert_id)).first()
            return _alert_from_row(row) if row else None

    def story(self, story_id: int) -> StoryRecord | None:
        with self.engine.connect() as conn:
            return Tx(conn).story(story_id)

    def recent_stories(self, limit: int = 20) -> list[StoryRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(stories).order_by(stories.c.last_published.desc()).limit(limit)
            )
            return [_story_from_row(r) for r in rows]

    def story_members(self, story_id: int) -> list[StoredItem]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(items)
                .where(items.c.story_id == story_id)
                .order_by(items.c.effective, items.c.id)
            )
            return [_item_from_row(r) for r in rows]

    # -- outbox ----------------------------------------------------------------------------
    def due_deliveries(
        self, now: float, prefix: str | None = None, limit: int = 500
    ) -> list[Delivery]:
        """The oldest pending row of each destination, when it is due and not in flight."""
        with self.engine.connect() as conn:
            heads = (
                sa.select(sa.func.min(outbox.c.id))
                .where(outbox.c.status == "pending")
                .group_by(outbox.c.destination)
            )
            if prefix is not None:
                heads = heads.where(outbox.c.destination.like(f"{prefix}%"))
            rows = conn.execute(
                sa.select(outbox)
                .where(
                    outbox.c.id.in_(heads.scalar_subquery()),
                    outbox.c.next_attempt <= now,
                    sa.or_(outbox.c.lease_until.is_(None), outbox.c.lease_until < now),
                )
                .order_by(outbox.c.id)
                .limit(limit)
            )
            return [_delivery_from_row(r) for r in rows]

    def next_due(self, destination: str, now: float) -> Delivery | None:
        """The oldest pending row of one destination, if it is due and not in flight."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(outbox)
                .where(outbox.c.destination == destination, outbox.c.status == "pending")
                .order_by(outbox.c.id)
                .limit(1)
            ).first()
        if (
            row is None
            or row.next_attempt > now
            or (row.lease_until is not None and row.lease_until >= now)
        ):
            return None
        return _delivery_from_row(row)

    def recover_leases(self, is_dead: Callable[[str], bool], now: float) -> int:
        """Free rows and feeds leased by owners that `is_dead` says are gone."""
        with self.begin() as tx:
            owners = set(
                tx.conn.scalars(
                    sa.select(outbox.c.lease_owner).where(
                        outbox.c.lease_owner.is_not(None), outbox.c.lease_until >= now
                    )
                )
            ) | set(
                tx.conn.scalars(
                    sa.select(feeds.c.lease_owner).where(
                        feeds.c.lease_owner.is_not(None), feeds.c.lease_until >= now
                    )
                )
            )
            dead = [o for o in owners if is_dead(o)]
            if not dead:
                return 0
            freed = tx.conn.execute(
                outbox.update()
                .where(outbox.c.lease_owner.in_(dead))
                .values(lease_owner=None, lease_until=None)
            ).rowcount
            tx.conn.execute(
                feeds.update()
                .where(feeds.c.lease_owner.in_(dead))
                .values(lease_owner=None, lease_until=None)
            )
            return freed

    def claim_delivery(self, delivery_id: int, owner: str, now: float, ttl: float) -> bool:
        with self.begin() as tx:
            done = tx.conn.execute(
                outbox.update()
                .where(
                    outbox.c.id == delivery_id,
                    outbox.c.status == "pending",
                    sa.or_(outbox.c.lease_until.is_(None), outbox.c.lease_until < now),
                )
                .values(lease_owner=owner, lease_until=now + ttl, attempts=outbox.c.attempts + 1)
            )
            return done.rowcount == 1

    def finish_delivery(
        self,
        delivery_id: int,
        *,
        status: str,
        now: float,
        ref: str | None = None,
        error: str | None = None,
        retry_at: float | None = None,
    ) -> None:
        """Record a send: `sent` (with its ref), `failed` (permanent) or `pending` (retry)."""
        values: dict[str, Any] = {
            "status": status,
            "lease_owner": None,
            "lease_until": None,
            "error": error,
        }
        if status == "sent":
            values.update(ref=ref, sent=now)
        if retry_at is not None:
            values["next_attempt"] = retry_at
        with self.begin() as tx:
            tx.conn.execute(outbox.update().where(outbox.c.id == delivery_id).values(**values))

    def delivery(self, delivery_id: int) -> Delivery | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(outbox).where(outbox.c.id == delivery_id)).first()
            return _delivery_from_row(row) if row else None

    def last_sent(self, destination: str) -> float | None:
        """When the last message to a destination went out (by any instance)."""
        with self.engine.connect() as conn:
            return conn.scalar(
                sa.select(outbox.c.sent)
                .where(outbox.c.status == "sent", outbox.c.destination == destination)
                .order_by(outbox.c.id.desc())
                .limit(1)
            )

    def heartbeat(self, owner: str, now: float, alive: float = 30.0) -> int:
        """Say this instance is running; free what instances that stopped beating had leased;
        return how many instances are running."""
        with self.begin() as tx:
            conn = tx.conn
            upsert(conn, instances, {"owner": owner, "seen": now}, ["owner"])
            conn.execute(instances.delete().where(instances.c.seen < now - alive))
            living = sa.select(instances.c.owner)
            for table in (outbox, feeds):
                conn.execute(
                    table.update()
                    .where(table.c.lease_owner.is_not(None), table.c.lease_owner.not_in(living))
                    .values(lease_owner=None, lease_until=None)
                )
            return int(conn.scalar(sa.select(sa.func.count()).select_from(instances)) or 1)

    def leave(self, owner: str) -> None:
        with self.begin() as tx:
            tx.conn.execute(instances.delete().where(instances.c.owner == owner))

    def release_leases(self, owner: str) -> int:
        """Give back the rows this process had in flight (at a graceful stop)."""
        with self.begin() as tx:
            done = tx.conn.execute(
                outbox.update()
                .where(outbox.c.lease_owner == owner, outbox.c.status == "pending")
                .values(lease_owner=None, lease_until=None)
            )
            tx.conn.execute(
                feeds.update()
                .where(feeds.c.lease_owner == owner)
                .values(lease_owner=None, lease_until=None)
            )
            return done.rowcount

    def reroute_destination(self, old: str, new: str) -> None:
        """A Telegram group became a supergroup: its pending rows follow the new chat id."""
        with self.begin() as tx:
            tx.conn.execute(
                outbox.update()
                .where(outbox.c.destination == old, outbox.c.status == "pending")
                .values(destination=new)
            )

    def drop_pending(self, destination: str, reason: str) -> int:
        with self.begin() as tx:
            done = tx.conn.execute(
                outbox.update()
                .where(outbox.c.destination == destination, outbox.c.status == "pending")
                .values(status="failed", error=reason, lease_owner=None, lease_until=None)
            )
            return done.rowcount

    def outbox_counts(self) -> dict[tuple[str, str], int]:
        """Rows by (destination kind, status)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(outbox.c.destination, outbox.c.status, sa.func.count()).group_by(
                    outbox.c.destination, outbox.c.status
                )
            )
            counts: dict[tuple[str, str], int] = {}
            for destination, status, count in rows:
                key = (destination.split(":", 1)[0], status)
                counts[key] = counts.get(key, 0) + count
            return counts

    def failed_deliveries(self, limit: int = 20) -> list[Delivery]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(outbox)
                .where(outbox.c.status == "failed")
                .order_by(outbox.c.id.desc())
                .limit(limit)
            )
            return [_delivery_from_row(r) for r in rows]

    def retrying_deliveries(self, limit: int = 20) -> list[Delivery]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(outbox)
                .where(outbox.c.status == "pending", outbox.c.error.is_not(None))
                .order_by(outbox.c.id)
                .limit(limit)
            )
            return [_delivery_from_row(r) for r in rows]

    # -- subscriptions -------------------------------------------------------------------
    def subscribe(
        self,
        chat_id: int,
        topics: Iterable[str],
        now: float,
        kind: str = "private",
        title: str | None = None,
    ) -> list[str]:
        """Add subscriptions; return the topics that were new."""
        with self.begin() as tx:
            conn = tx.conn
            row = {"chat_id": chat_id, "kind": kind, "title": title, "created": now}
            insert_missing(conn, chats, [row], ["chat_id"])
            query = sa.select(subscriptions.c.topic).where(subscriptions.c.chat_id == chat_id)
            have = set(conn.scalars(query))
            added = [t for t in dict.fromkeys(topics) if t not in have]
            rows = [{"chat_id": chat_id, "topic": t, "created": now} for t in added]
            insert_missing(conn, subscriptions, rows, ["chat_id", "topic"])
        return added

    def unsubscribe(self, chat_id: int, topics: Iterable[str] | None = None) -> list[str]:
        """Remove some (or, with None, all) subscriptions; return the topics removed."""
        with self.begin() as tx:
            conn = tx.conn
            query = sa.select(subscriptions.c.topic).where(subscriptions.c.chat_id == chat_id)
            have = list(conn.scalars(query))
            wanted = have if topics is None else [t for t in dict.fromkeys(topics) if t in have]
            if wanted:
                conn.execute(
                    subscriptions.delete().where(
                        subscriptions.c.chat_id == chat_id, subscriptions.c.topic.in_(wanted)
                    )
                )
            return wanted

    def subscriptions_of(self, chat_id: int) -> list[str]:
        with self.engine.connect() as conn:
            return sorted(
                conn.scalars(
                    sa.select(subscriptions.c.topic).where(subscriptions.c.chat_id == chat_id)
                )
            )

    def subscribers(self) -> dict[str, list[int]]:
        """Chat ids by topic."""
        with self.engine.connect() as conn:
            return Tx(conn).subscribers()

    def forget_chat(self, chat_id: int) -> None:
        with self.begin() as tx:
            tx.conn.execute(subscriptions.delete().where(subscriptions.c.chat_id == chat_id))
            tx.conn.execute(chats.delete().where(chats.c.chat_id == chat_id))

    def migrate_chat(self, old: int, new: int, now: float) -> None:
        topics = self.subscriptions_of(old)
        self.forget_chat(old)
        if topics:
            self.subscribe(new, topics, now, kind="supergroup")
        self.reroute_destination(f"telegram:{old}", f"telegram:{new}")

    def chat_count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.scalar(sa.select(sa.func.count()).select_from(chats)) or 0)

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return {
                name: int(conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0)
                for name, table in (("items", items), ("stories", stories), ("alerts", alerts))
            }


def _alert_from_row(row: Any) -> AlertRecord:
    return AlertRecord(
        row.id,
        row.story_id,
        row.item_id,
        row.kind,
        tuple(row.rules or ()),
        dict(row.matches or {}),
        row.created,
    )
