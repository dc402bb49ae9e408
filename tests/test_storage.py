"""Storage: the schema's life (created, adopted from before migrations, upgraded, a newer one
refused), SQLite under two writing processes, private files, and faults that say what and where.

The PostgreSQL variants need RADAR_TEST_PG and use a schema of their own.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import shutil
import sqlite3
import stat
import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
from feedserver import rss
from helpers import DATA, cli, distinct_items, environment, write_feeds, write_rules

from bot import commands
from bot.config import Settings
from bot.errors import ConfigError, StorageError
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


# -- SQLite under load --------------------------------------------------------------------------


def _write_from_a_process(url: str, feed: int, count: int, start) -> None:
    """Open the store (an empty database: both processes prepare its schema at once), then write
    `count` items in short transactions, each with the feed's state."""
    start.wait()
    store = Store(url)
    start.wait()
    for n in range(count):
        with store.transaction() as tx:
            tx.items.add(
                _item(f"{feed}-{n}"),
                effective=float(n),
                first_seen=float(n),
                verdict=ItemVerdict.NEW,
            )
            tx.feeds.save(FeedState(url=f"https://feeds.example.com/{feed}.xml", last_poll=n))
    store.close()


@pytest.mark.slow
def test_two_processes_write_one_database_at_once_and_both_finish(db_url):
    url = db_url
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(2)
    writers = [
        context.Process(target=_write_from_a_process, args=(url, feed, 300, start))
        for feed in (1, 2)
    ]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=120)
    assert [w.exitcode for w in writers] == [0, 0]
    store = Store(url)
    try:
        assert store.items.count() == 600
        assert {s.url: s.last_poll for s in store.feeds.states().values()} == {
            "https://feeds.example.com/1.xml": 299,
            "https://feeds.example.com/2.xml": 299,
        }
    finally:
        store.close()


@pytest.mark.slow
def test_two_run_once_on_one_sqlite_file_both_finish_with_everything_stored(tmp_path):
    feeds = []
    for n in range(4):
        path = tmp_path / f"feed{n}.xml"
        path.write_bytes(rss(distinct_items(250, feed=n)))
        feeds.append({"url": str(path), "baseline": False})
    env = environment(
        tmp_path, write_rules(tmp_path / "rules"), write_feeds(tmp_path / "feeds.yaml", feeds)
    )
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda _: cli(["run", "--once", "--json"], env, 600), range(2)))
    assert [r.returncode for r in runs] == [0, 0], [r.stderr[-2000:] for r in runs]
    printed = [json.loads(line)["alert"] for r in runs for line in r.stdout.splitlines()]
    store = Store(env["RADAR_DB"])
    try:
        assert store.items.count() == 1000
        assert len(printed) == len(set(printed)) == store.alerts.count()
        assert not store.outbox.with_status(DeliveryStatus.PENDING)
    finally:
        store.close()


class _Waiting(logging.Handler):
    """Sets an event when storage says a writer is waiting for another process's lock."""

    def __init__(self) -> None:
        super().__init__()
        self.event = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if "is locked by another process" in record.getMessage():
            self.event.set()


@pytest.fixture
def waiting() -> Iterator[_Waiting]:
    handler = _Waiting()
    logger = logging.getLogger("bot.storage.engine")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def test_a_writer_waits_for_another_writers_lock_and_retries(tmp_path, waiting):
    url = f"sqlite:///{tmp_path / 'radar.db'}"
    holder, other = Store(url), Store(url, busy_timeout=0.05)
    outcome: list[object] = []

    def write() -> None:
        try:
            outcome.append(_add_item(other, "b"))
        except Exception as exc:
            outcome.append(exc)

    try:
        writer = threading.Thread(target=write)
        with holder.transaction() as tx:
            tx.items.add(_item("a"), effective=1.0, first_seen=1.0, verdict=ItemVerdict.NEW)
            writer.start()
            assert waiting.event.wait(30), "the second writer never waited"
        writer.join(30)
        assert outcome == [2]
        assert holder.items.count() == 2
    finally:
        holder.close()
        other.close()


def test_a_lock_held_too_long_is_a_clear_error(tmp_path):
    url = f"sqlite:///{tmp_path / 'radar.db'}"
    holder, other = Store(url), Store(url, busy_timeout=0.05, lock_wait=0.2)
    try:
        with holder.transaction() as tx:
            tx.items.add(_item("a"), effective=1.0, first_seen=1.0, verdict=ItemVerdict.NEW)
            assert other.items.count() == 0  # a read neither waits nor sees the open write
            with pytest.raises(StorageError) as failed:
                _add_item(other, "b")
        assert "another process kept the database locked for over 0.2s" in str(failed.value)
        assert holder.items.count() == 1
    finally:
        holder.close()
        other.close()


# -- files and faults ---------------------------------------------------------------------------


def test_the_state_directory_is_0700_and_the_database_files_0600(tmp_path):
    path = tmp_path / "state" / "nested" / "radar.db"
    previous = os.umask(0)  # modes must not depend on the operator's umask
    try:
        store = Store(f"sqlite:///{path}")
        _add_item(store, "a")
        try:
            for directory in (path.parent, path.parent.parent):
                assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
            for name in ("radar.db", "radar.db-wal", "radar.db-shm"):
                assert stat.S_IMODE((path.parent / name).stat().st_mode) == 0o600, name
        finally:
            store.close()
    finally:
        os.umask(previous)


def test_database_urls_are_shown_without_their_password():
    with pytest.raises(StorageError) as unreachable:
        Store("postgresql://radar:s3cr%21t@127.0.0.1:1/radar")
    message = str(unreachable.value)
    assert message.startswith("database postgresql://radar:***@127.0.0.1:1/radar: cannot reach")
    assert "s3cr" not in message
    with pytest.raises(ConfigError) as malformed:
        Store("postgresql://radar:s3cr%21t@127.0.0.1:port/radar")
    assert "s3cr" not in str(malformed.value)
    assert "postgresql://radar:***@127.0.0.1:port/radar" in str(malformed.value)
    with pytest.raises(ConfigError, match=r"SQLite \(sqlite:///PATH\) or PostgreSQL"):
        Store("mysql://radar@localhost/radar")


def test_a_read_only_database_says_so_and_keeps_what_it_holds(tmp_path):
    path = tmp_path / "radar.db"
    store = Store(f"sqlite:///{path}")
    _add_item(store, "a")
    store.close()
    store = Store(f"sqlite:///file:{path}?mode=ro&uri=true")
    try:
        assert store.items.count() == 1
        with pytest.raises(StorageError, match="the database is read-only"):
            _add_item(store, "b")
    finally:
        store.close()


@pytest.fixture
def small_disk(tmp_path) -> Iterator[Path]:
    """A 2 MB tmpfs (needs root, and a system that lets it mount)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(disk: Path) -> Path:
    filler = disk / "filler"
    with filler.open("wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError:
            pass
    return filler


def test_a_full_disk_is_one_clear_error_and_loses_nothing(small_disk):
    url = f"sqlite:///{small_disk / 'state' / 'radar.db'}"
    store = Store(url)
    try:
        kept = [_add_item(store, f"kept-{n}") for n in range(3)]
        filler = _fill(small_disk)
        with pytest.raises(StorageError) as full, store.transaction() as tx:
            for n in range(300):
                tx.items.add(
                    _item(f"big-{n}", summary="x" * 3000),
                    effective=1.0,
                    first_seen=1.0,
                    verdict=ItemVerdict.NEW,
                )
        assert str(full.value).startswith(f"database {url}: the disk is full")
        assert "what was stored before is kept" in str(full.value)
        assert [store.items.get(i).item.guid for i in kept] == ["kept-0", "kept-1", "kept-2"]
        filler.unlink()
        _add_item(store, "after")
        assert store.items.count() == 4
    finally:
        store.close()


@pytest.mark.slow
def test_run_once_on_a_full_or_read_only_disk_says_so_in_one_line(small_disk, tmp_path):
    feed = tmp_path / "feed.xml"
    feed.write_bytes(rss(distinct_items(3)))
    feeds = write_feeds(tmp_path / "feeds.yaml", [{"url": str(feed), "baseline": False}])
    url = f"sqlite:///{small_disk / 'state' / 'radar.db'}"
    env = environment(tmp_path, write_rules(tmp_path / "rules"), feeds, RADAR_DB=url)
    assert cli(["run", "--once", "--json"], env).returncode == 0

    feed.write_bytes(rss(distinct_items(40)))
    filler = _fill(small_disk)
    done = cli(["run", "--once", "--json"], env)
    assert (done.returncode, done.stdout) == (1, "")
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith(f"radar: database error: database {url}: the disk is full")
    filler.unlink()

    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    done = cli(["run", "--once", "--json"], env)
    assert (done.returncode, done.stdout) == (1, "")
    assert "Traceback" not in done.stderr
    assert "the database is read-only" in done.stderr
    subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)

    done = cli(["run", "--once", "--json"], env)
    assert done.returncode == 0
    assert len(done.stdout.splitlines()) == 37  # the new items, each once
    store = Store(url)
    try:
        assert store.items.count() == 40
    finally:
        store.close()
