"""Storage: the schema's life (created, adopted from before migrations, upgraded, a newer one
refused), transactions and a chat's move at once. Load and faults: test_storage_faults.py.

The PostgreSQL variants need RADAR_TEST_PG and use a schema of their own.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import psycopg
import pytest
from helpers import DATA, cli

from bot import commands
from bot.config import Settings
from bot.errors import StorageError
from bot.models import FeedState, Item
from bot.storage import Migrations, SchemaChange, Store
from bot.storage.migrations import LOCATION
from bot.types import AlertKind, DeliveryStatus, ItemVerdict

LEGACY = DATA / "legacy"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    """An empty database of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'radar.db'}"
    return request.getfixturevalue("pg_schema_url")


def _load_legacy(url: str) -> None:
    """A database as Radar made it before migrations (see the fixture files' headers)."""
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            conn.executescript((LEGACY / "radar-v1.sqlite.sql").read_text(encoding="utf-8"))
        return
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute((LEGACY / "radar-v1.postgresql.sql").read_text(encoding="utf-8"))


def _item(guid: str, title: str = "A headline", summary: str = "") -> Item:
    return Item(feed_url="https://feeds.example.com/a.xml", guid=guid, title=title, summary=summary)


def _add_item(store: Store, guid: str) -> int:
    return store.items.add(_item(guid), effective=1.0, first_seen=1.0, verdict=ItemVerdict.NEW)


# -- the schema's life ------------------------------------------------------------------------


def test_an_empty_database_gets_the_schema_at_the_latest_revision(db_url):
    head = Migrations().head
    store = Store(db_url)
    try:
        assert store.schema == SchemaChange(None, head)
        assert store.schema_drift() == []
        _add_item(store, "a")
    finally:
        store.close()
    store = Store(db_url)
    try:
        assert store.schema == SchemaChange(head, head)
        assert store.items.count() == 1
    finally:
        store.close()


def test_a_database_made_before_migrations_is_adopted_with_everything_in_it(db_url):
    _load_legacy(db_url)
    store = Store(db_url)
    try:
        assert store.schema.adopted and store.schema.before == "0001"
        assert store.schema_drift() == []
        states = store.feeds.states()
        assert states["https://feeds.example.com/bis.xml"].etag == '"abc"'
        assert states["https://feeds.example.com/broken.xml"].failures == 3
        items = list(store.items.iterate())
        assert [i.verdict for i in items] == [ItemVerdict.NEW, ItemVerdict.NEW, ItemVerdict.RECORD]
        assert items[0].item.categories == ("export", "chips")
        members = store.stories.members(1)
        assert [m.item.outlet for m in members] == ["BIS", "Wire"]
        assert members[1].merge == {"story_id": 1, "score": 91.5, "layer": "fuzzy"}
        assert [a.kind for a in store.alerts.iterate()] == [AlertKind.ALERT, AlertKind.FOLLOWUP]
        assert store.outbox.counts() == {
            ("slack", DeliveryStatus.SENT): 1,
            ("slack", DeliveryStatus.PENDING): 1,
            ("telegram", DeliveryStatus.SENT): 1,
            ("telegram", DeliveryStatus.FAILED): 1,
            ("telegram", DeliveryStatus.PENDING): 2,
        }
        assert [d.error for d in store.outbox.failed(limit=5)] == [
            "Forbidden: bot was blocked by the user"
        ]
        assert store.subscriptions.by_topic() == {
            "chip-export": [1001],
            "ai-summit": [1001],
            "travel-guidance": [-2002],
        }
        assert store.meta.get("telegram_offset") == "4242"
        assert _add_item(store, "new") == 4  # ids go on from the old ones
    finally:
        store.close()
    store = Store(db_url)
    try:
        assert store.schema == SchemaChange(Migrations().head, Migrations().head)
        assert store.items.count() == 4
    finally:
        store.close()


def _migrations_with_a_newer_revision(folder: Path) -> Migrations:
    """This package's revisions and one more, as the next Radar might bring."""
    shutil.copytree(LOCATION, folder, ignore=shutil.ignore_patterns("__pycache__"))
    head = Migrations().head
    following = f"{int(head) + 1:04d}"
    (folder / "versions" / f"{following}_notes.py").write_text(
        f'''"""A test revision: a column on feeds (batch mode on SQLite) and a table."""

import sqlalchemy as sa
from alembic import op

revision = "{following}"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feeds") as batch:
        batch.add_column(sa.Column("note", sa.Text))
    op.create_table("notes", sa.Column("id", sa.Integer, primary_key=True))
    op.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
''',
        encoding="utf-8",
    )
    return Migrations(folder)


def test_an_older_revision_is_upgraded_and_a_newer_one_refused(db_url, tmp_path):
    store = Store(db_url)
    store.feeds.save(FeedState(url="https://feeds.example.com/a.xml", etag='"v1"'))
    _add_item(store, "a")
    store.close()

    newer = _migrations_with_a_newer_revision(tmp_path / "next")
    head = Migrations().head
    store = Store(db_url, migrations=newer)
    try:
        assert store.schema == SchemaChange(head, newer.head)
        assert store.feeds.state("https://feeds.example.com/a.xml").etag == '"v1"'
        assert store.items.count() == 1
        assert store.meta.get("schema_version") == "2"
    finally:
        store.close()

    with pytest.raises(StorageError) as refused:
        Store(db_url)
    message = str(refused.value)
    assert f"schema revision {newer.head}" in message
    assert f"knows up to {head}" in message
    assert "newer Radar" in message


def test_radar_db_upgrade_reports_what_it_did(tmp_path, capsys):
    settings = Settings(db_url=f"sqlite:///{tmp_path / 'radar.db'}")
    assert commands.db_upgrade(settings) == commands.OK
    head = Migrations().head
    assert f"created the schema at revision {head}" in capsys.readouterr().out
    assert commands.db_upgrade(settings) == commands.OK
    assert f"at revision {head}, the latest this Radar knows" in capsys.readouterr().out

    legacy = Settings(db_url=f"sqlite:///{tmp_path / 'old.db'}")
    _load_legacy(legacy.db_url)
    assert commands.db_upgrade(legacy) == commands.OK
    assert "adopted a database made before migrations" in capsys.readouterr().out


def test_radar_db_upgrade_warns_about_tables_that_differ(tmp_path, capsys):
    settings = Settings(db_url=f"sqlite:///{tmp_path / 'radar.db'}")
    Store(settings.db_url).close()
    with sqlite3.connect(tmp_path / "radar.db") as conn:
        conn.execute("CREATE INDEX ix_items_extra ON items (title)")
    assert commands.db_upgrade(settings) == commands.OK
    assert "the tables differ from this Radar's: remove index ix_items_extra" in (
        capsys.readouterr().err
    )


def test_radar_refuses_a_newer_database_in_one_line(tmp_path):
    url = f"sqlite:///{tmp_path / 'radar.db'}"
    Store(url, migrations=_migrations_with_a_newer_revision(tmp_path / "next")).close()
    done = cli(["db", "upgrade"], {"RADAR_DB": url})
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith(f"radar: database error: database {url} is at schema revision")


def test_tables_that_are_not_radars_are_refused(tmp_path):
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE items (sku TEXT)")
    with pytest.raises(StorageError, match=r"tables named like Radar's \(items\)"):
        Store(f"sqlite:///{path}")


def test_a_legacy_version_this_radar_does_not_know_is_refused(tmp_path):
    path = tmp_path / "radar.db"
    dump = (LEGACY / "radar-v1.sqlite.sql").read_text(encoding="utf-8")
    with sqlite3.connect(path) as conn:
        conn.executescript(dump.replace("('schema_version','1')", "('schema_version','7')"))
    with pytest.raises(StorageError, match="schema version 7"):
        Store(f"sqlite:///{path}")


# -- one API, inside and outside transactions ---------------------------------------------------


def test_a_transaction_commits_all_or_nothing(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'radar.db'}")
    try:
        with pytest.raises(RuntimeError, match="boom"), store.transaction() as tx:
            tx.items.add(_item("a"), effective=1.0, first_seen=1.0, verdict=ItemVerdict.NEW)
            raise RuntimeError("boom")
        assert store.items.count() == 0
        with store.transaction() as tx:
            item_id = tx.items.add(
                _item("a"), effective=1.0, first_seen=1.0, verdict=ItemVerdict.NEW
            )
            assert tx.items.get(item_id) is not None  # reads inside see the transaction
        assert store.items.count() == 1
        with pytest.raises(RuntimeError, match="use its repositories"), store.transaction():
            _add_item(store, "b")  # a second writer would wait for the first forever
    finally:
        store.close()


def test_a_chat_that_moves_takes_its_subscriptions_and_pending_rows_at_once(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'radar.db'}")
    try:
        store.subscriptions.subscribe(-100, ["chip-export", "ai-summit"], 1.0, kind="group")
        with store.transaction() as tx:
            item_id = tx.items.add(
                _item("a"), effective=1.0, first_seen=1.0, verdict=ItemVerdict.NEW
            )
            story_id = tx.stories.create(item_id, "A headline", 1.0, ["chip-export"], 1.0)
            tx.alerts.create(
                story_id=story_id,
                item_id=item_id,
                kind=AlertKind.ALERT,
                rules=["chip-export"],
                matches={},
                destinations=[("telegram:-100", None)],
                now=1.0,
            )
        store.migrate_chat(-100, -1009, 2.0)
        assert store.subscriptions.topics(-100) == []
        assert store.subscriptions.topics(-1009) == ["ai-summit", "chip-export"]
        assert [d.destination for d in store.outbox.due(3.0)] == ["telegram:-1009"]
    finally:
        store.close()
