"""Connections: one engine per database, SQLite set up to hold under load, transactions that
wait for a busy SQLite file, and database faults turned into `StorageError`.

SQLite runs in WAL mode (readers never wait for the writer). A write transaction takes the
write lock when it begins (`BEGIN IMMEDIATE`), so it never fails half-way for a lock; when
another process holds the lock, the begin waits (`busy_timeout`) and is retried until
`lock_wait` has passed. Reads begin deferred and take no lock.
"""

from __future__ import annotations

import logging
import os
import random
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection, Engine

from bot.errors import ConfigError, StorageError

log = logging.getLogger(__name__)

_WRITE = "radar_write"  # execution option marking the connections that write
_LOW_SPACE = 1 << 20  # bytes free below which an I/O error is taken for a full disk
_KEPT = "; nothing of this change was written, and what was stored before is kept"
_CREDENTIALS = re.compile(r"(://[^:/@]*:)[^@/]*@")
_T = TypeVar("_T")


class Connector(Protocol):
    """Where a repository gets its connection: a fresh transaction per call (the store), or
    the one transaction a caller holds."""

    def read(self) -> AbstractContextManager[Connection]: ...

    def write(self) -> AbstractContextManager[Connection]: ...


def engine_url(url: str) -> str:
    """Choose drivers we ship: psycopg 3 for PostgreSQL."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def describe(url: str) -> str:
    """The database URL as it may be shown: its password replaced by `***`."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except (sa.exc.ArgumentError, ValueError):
        return _CREDENTIALS.sub(r"\1***@", url)


def _parse(url: str) -> sa.URL:
    try:
        parsed = sa.make_url(engine_url(url))
    except (sa.exc.ArgumentError, ValueError) as exc:
        raise ConfigError(f"RADAR_DB: not a database URL: {describe(url)}") from exc
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(
            f"RADAR_DB: {describe(url)}: Radar stores its state in SQLite (sqlite:///PATH) "
            "or PostgreSQL (postgresql://…)"
        )
    return parsed


def sqlite_path(url: sa.URL) -> Path | None:
    """The file behind a SQLite URL; None for memory databases and `file:` URIs."""
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    if url.query.get("uri") == "true":
        return None
    return Path(url.database)


def database_file(url: str) -> Path | None:
    """The file a SQLite URL names; None for PostgreSQL, memory databases and bad URLs."""
    try:
        return sqlite_path(_parse(url))
    except ConfigError:
        return None


def _create_private(path: Path) -> None:
    """Missing directories 0700 and a missing database file 0600 (SQLite gives its WAL and
    shared-memory files the database file's mode)."""
    missing = [p for p in (path.parent, *path.parent.parents) if not p.exists()]
    for directory in reversed(missing):
        directory.mkdir(mode=0o700, exist_ok=True)
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


class Database:
    """One engine, with transactions that translate database faults into `StorageError`."""

    def __init__(
        self,
        url: str,
        *,
        busy_timeout: float = 5.0,
        lock_wait: float = 300.0,
    ) -> None:
        self.name = describe(url)
        self.lock_wait = lock_wait
        self._local = threading.local()
        parsed = _parse(url)
        self._password = parsed.password if isinstance(parsed.password, str) else None
        path = self._path = sqlite_path(parsed)
        if path is not None:
            try:
                _create_private(path)
            except OSError as exc:
                raise StorageError(
                    f"database {self.name}: cannot create {path}: {exc.strerror}"
                ) from exc
        if parsed.get_backend_name() == "sqlite":
            self.engine = _sqlite_engine(parsed, busy_timeout)
        else:
            try:
                self.engine = sa.create_engine(parsed, pool_pre_ping=True)
            except ImportError as exc:
                raise ConfigError(
                    "RADAR_DB: PostgreSQL needs its driver: install restriction-radar[postgres]"
                ) from exc
        self._writer = self.engine.execution_options(**{_WRITE: True})
        # SQLite has one writer at a time: this process's threads queue for it here and are
        # handed it at once, instead of polling the file lock in SQLite's busy handler
        # (which sleeps up to 100 ms between looks, while the lock may long be free).
        self._serial = threading.Lock() if self.dialect == "sqlite" else None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        try:
            with self._retrying(self.engine.connect) as conn:
                yield conn
        except sa.exc.DBAPIError as exc:
            raise self.fault(exc) from exc

    @contextmanager
    def write(self) -> Iterator[Connection]:
        if getattr(self._local, "writing", False):
            # A second writer in this thread would wait for the first's lock forever.
            raise RuntimeError("a write transaction is open in this thread: use its repositories")
        self._local.writing = True
        try:
            with self._writer_turn():
                conn, transaction = self._begin_write()
                with conn, transaction:
                    yield conn
        except sa.exc.DBAPIError as exc:
            raise self.fault(exc) from exc
        finally:
            self._local.writing = False

    @contextmanager
    def _writer_turn(self) -> Iterator[None]:
        if self._serial is None:
            yield
            return
        if not self._serial.acquire(timeout=self.lock_wait):
            raise StorageError(
                f"database {self.name}: another thread kept the database locked for over "
                f"{self.lock_wait:g}s"
            )
        try:
            yield
        finally:
            self._serial.release()

    def _begin_write(self) -> tuple[Connection, sa.RootTransaction]:
        """Begin a write transaction, retrying while another process holds SQLite's lock."""

        def begin() -> tuple[Connection, sa.RootTransaction]:
            conn = self._writer.connect()
            try:
                return conn, conn.begin()
            except sa.exc.OperationalError:
                conn.close()
                raise

        return self._retrying(begin)

    def _retrying(self, step: Callable[[], _T]) -> _T:
        """`step`, again while another process holds SQLite's lock, for up to `lock_wait`:
        connecting meets the lock too (the journal mode is read then), reads as well as
        writes."""
        deadline = time.monotonic() + self.lock_wait
        attempt = 0
        while True:
            try:
                return step()
            except sa.exc.OperationalError as exc:
                if not _locked(exc) or time.monotonic() >= deadline:
                    raise
                attempt += 1
                log.warning(
                    "database %s is locked by another process; waiting (attempt %d)",
                    self.name,
                    attempt,
                )
                time.sleep(min(0.05 * 2**attempt, 2.0) * random.uniform(0.5, 1.0))

    def fault(self, exc: sa.exc.DBAPIError) -> StorageError:
        """One clear message for a database fault, naming the database without its password."""
        detail = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else repr(exc)
        if self._password:
            for secret in {self._password, quote(self._password, safe="")}:
                detail = detail.replace(secret, "***")
        state = getattr(exc.orig, "sqlstate", None) or ""
        lowered = detail.lower()
        kept = ""
        if "disk is full" in lowered or state == "53100" or self._no_room(lowered):
            reason, kept = "the disk is full", _KEPT
        elif "readonly" in lowered or state == "25006" or self._no_write(lowered):
            reason, kept = "the database is read-only", _KEPT
        elif _locked(exc):
            reason = f"another process kept the database locked for over {self.lock_wait:g}s"
        elif "unable to open" in lowered:
            reason = "cannot open the database file"
        elif self.dialect == "postgresql" and (not state or state.startswith("08")):
            reason = "cannot reach the database"
        else:
            return StorageError(f"database {self.name}: {detail}")
        return StorageError(f"database {self.name}: {reason} ({detail}){kept}")

    def _vague(self, detail: str) -> Path | None:
        """The database's directory, when SQLite gave one of its vaguer errors (it could not
        open or size its WAL files), which a full disk or a read-only directory also cause."""
        if self._path is None or not self._path.parent.exists():
            return None
        return (
            self._path.parent if "disk i/o error" in detail or "unable to open" in detail else None
        )

    def _no_room(self, detail: str) -> bool:
        directory = self._vague(detail)
        return directory is not None and shutil.disk_usage(directory).free < _LOW_SPACE

    def _no_write(self, detail: str) -> bool:
        directory = self._vague(detail)
        return directory is not None and not os.access(directory, os.W_OK)


def _locked(exc: sa.exc.DBAPIError) -> bool:
    text = str(exc.orig).lower()
    return "database is locked" in text or "database table is locked" in text


def _sqlite_engine(url: sa.URL, busy_timeout: float) -> Engine:
    engine = sa.create_engine(url, connect_args={"timeout": busy_timeout})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # transactions are begun below
        cursor = dbapi_connection.cursor()
        # Set once per file: asking again while another process writes can meet its lock.
        if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        writes = connection.get_execution_options().get(_WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")

    return engine


class Bound:
    """The connection of a transaction a caller holds: every read and write joins it."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        yield self.conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        yield self.conn


def _dialect_insert(conn: Connection, table: sa.Table) -> Any:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql  # only PostgreSQL's users pay its import

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


def upsert_many(
    conn: Connection, table: sa.Table, rows: Sequence[dict[str, Any]], keys: Sequence[str]
) -> None:
    """`upsert` for many rows of the same columns, in one executemany."""
    if not rows:
        return
    statement = _dialect_insert(conn, table)
    changes = {k: statement.excluded[k] for k in rows[0] if k not in keys}
    conn.execute(
        statement.on_conflict_do_update(index_elements=list(keys), set_=changes)
        if changes
        else statement.on_conflict_do_nothing(index_elements=list(keys)),
        list(rows),
    )


def insert_missing(
    conn: Connection, table: sa.Table, rows: Sequence[dict[str, Any]], keys: Sequence[str]
) -> None:
    """Insert rows whose key is not there yet (safe when processes race)."""
    if rows:
        conn.execute(
            _dialect_insert(conn, table).on_conflict_do_nothing(index_elements=list(keys)),
            list(rows),
        )


def inserted_id(result: sa.CursorResult[Any]) -> int:
    """The primary key of the row a single-row insert made."""
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def chunks(values: Iterable[_T], size: int = 500) -> Iterator[list[_T]]:
    """Distinct non-empty values in lists small enough for one `IN (…)`."""
    distinct = list(dict.fromkeys(v for v in values if v))
    for start in range(0, len(distinct), size):
        yield distinct[start : start + size]


class Repository:
    """One domain's queries, on the connections a `Connector` gives."""

    def __init__(self, db: Connector) -> None:
        self._db = db
