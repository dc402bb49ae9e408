"""Storage under load and faults: SQLite under two writing processes, a writer waiting for
another's lock, private files, passwords kept out of messages, read-only and full disks.

The PostgreSQL variants need RADAR_TEST_PG and use a schema of their own.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import stat
import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from feedserver import rss
from helpers import cli, distinct_items, environment, write_feeds, write_rules

from bot.errors import ConfigError, StorageError
from bot.models import FeedState, Item
from bot.storage import Store
from bot.types import DeliveryStatus, ItemVerdict


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    """An empty database of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'radar.db'}"
    return request.getfixturevalue("pg_schema_url")


def _item(guid: str, title: str = "A headline", summary: str = "") -> Item:
    return Item(feed_url="https://feeds.example.com/a.xml", guid=guid, title=title, summary=summary)


def _add_item(store: Store, guid: str) -> int:
    return store.items.add(_item(guid), effective=1.0, first_seen=1.0, verdict=ItemVerdict.NEW)


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
