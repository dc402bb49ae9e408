"""Schema migrations: Alembic, configured in code (no alembic.ini at run time).

Revisions live in `versions/` (`0001`, `0002`, …); `env.py` runs them on the connection given
here. Opening a `Store` calls `Migrations.prepare`, which decides from what it finds:

- an empty database gets every revision, from nothing to the head;
- a database at an older revision of ours is upgraded to the head;
- a database made before migrations (its `meta` row `schema_version` is 1 and it has no
  `alembic_version`) has revision 0001's schema: it is stamped 0001, then upgraded;
- a database at a revision this Radar does not know (a newer Radar's), or with Radar's tables
  but no version, is refused with a `StorageError`.

The decision and the change are made under the write lock (SQLite) or an advisory lock
(PostgreSQL), so instances that start together upgrade once.

A new revision: change `bot/storage/schema.py`; then, in a checkout (pyproject's
`[tool.alembic]` points here) with `RADAR_DB=sqlite:///state/dev.db`, `radar db upgrade` (the
database at the current head) and `alembic revision --autogenerate --rev-id 0002 -m "what
changes"`; review what it wrote; SQLite needs batch mode (`op.batch_alter_table`). Migrations go forward only: there are no downgrades (restore a
backup instead). Radars from before migrations read `meta.schema_version`: a revision they
cannot work with sets it to 2, so that they refuse the database.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.errors import StorageError
from bot.storage.engine import Database
from bot.storage.schema import LEGACY_VERSION_KEY, meta, metadata

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory

log = logging.getLogger(__name__)

LOCATION = Path(__file__).resolve().parent
ADOPTED_REVISION = "0001"  # the schema Radar had before migrations
LEGACY_VERSION = 1
_LOCK_KEY = 0x52414442  # PostgreSQL advisory lock held while the schema is prepared
_VERSION_TABLE = sa.table("alembic_version", sa.column("version_num"))
_REVISION = re.compile(r"^revision(?:\s*:\s*str)?\s*=\s*[\"']([\w-]+)[\"']\s*$", re.M)
_DOWN = re.compile(r"^down_revision(?:\s*:[^=]+)?\s*=\s*(?:None|[\"']([\w-]+)[\"'])\s*$", re.M)


def _quiet_alembic() -> None:
    """Alembic logs its plugins at INFO as it is imported, and its dialect at every start:
    noise in `radar run`'s log. What preparing the schema did is logged here instead."""
    logging.getLogger("alembic").setLevel(logging.WARNING)


@dataclass(frozen=True, slots=True)
class SchemaChange:
    """What preparing the schema did."""

    before: str | None  # the revision found (ADOPTED_REVISION when adopted); None: empty
    after: str
    adopted: bool = False  # made before migrations: stamped at ADOPTED_REVISION first

    def __str__(self) -> str:
        if self.adopted:
            text = f"adopted a database made before migrations at revision {ADOPTED_REVISION}"
            return text + (
                f", then upgraded to {self.after}" if self.after != ADOPTED_REVISION else ""
            )
        if self.before is None:
            return f"created the schema at revision {self.after}"
        if self.before == self.after:
            return f"at revision {self.after}, the latest this Radar knows"
        return f"upgraded from revision {self.before} to {self.after}"


@dataclass(frozen=True, slots=True)
class _Found:
    revision: str | None  # alembic_version
    legacy: str | None  # meta.schema_version, from before migrations
    tables: tuple[str, ...]  # Radar's tables present


class Migrations:
    """The revisions in one directory (this package's, unless a test brings its own)."""

    def __init__(self, location: Path = LOCATION) -> None:
        self.location = location

    @cached_property
    def _script(self) -> ScriptDirectory:
        _quiet_alembic()
        from alembic.script import ScriptDirectory

        return ScriptDirectory(str(self.location))

    @cached_property
    def known(self) -> frozenset[str]:
        return frozenset(s.revision for s in self._script.walk_revisions())

    @cached_property
    def head(self) -> str:
        head = self._script.get_current_head()
        assert head is not None, f"no revisions in {self.location}"
        return str(head)

    @cached_property
    def declared_head(self) -> str | None:
        """The head as the revision files declare it, read without importing Alembic: the one
        revision no other follows, when they form one line (None when unsure)."""
        revisions: set[str] = set()
        followed: set[str] = set()
        for path in (self.location / "versions").glob("*.py"):
            text = path.read_text(encoding="utf-8")
            revision, down = _REVISION.findall(text), _DOWN.findall(text)
            if len(revision) != 1 or len(down) != 1:
                return None
            revisions.add(revision[0])
            followed.add(down[0])
        heads = revisions - followed
        return heads.pop() if len(heads) == 1 else None

    def prepare(self, db: Database) -> SchemaChange:
        """Create, adopt or upgrade the schema, or refuse the database (see the module). A
        database at the head is found in one query, without importing Alembic."""
        if self._at_declared_head(db):
            head = str(self.declared_head)
            return SchemaChange(head, head)
        with db.read() as conn:
            found = _inspect(conn)
        self._current(found, db.name)
        if found.revision == self.head:
            return SchemaChange(self.head, self.head)
        with db.write() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
            found = _inspect(conn)  # again: another process may have prepared it meanwhile
            current = self._current(found, db.name)
            if found.revision == self.head:
                return SchemaChange(self.head, self.head)
            from alembic import command
            from alembic.config import Config

            config = Config()
            config.set_main_option("script_location", str(self.location))
            config.attributes["connection"] = conn
            adopted = found.revision is None and found.legacy is not None
            if adopted:
                command.stamp(config, ADOPTED_REVISION)
            command.upgrade(config, "head")
        change = SchemaChange(current, self.head, adopted)
        log.info("database %s: %s", db.name, change)
        return change

    def _at_declared_head(self, db: Database) -> bool:
        head = self.declared_head
        if head is None:
            return False
        with db.read() as conn:
            try:
                found = conn.execute(sa.select(_VERSION_TABLE.c.version_num)).scalars().all()
            except sa.exc.DBAPIError:  # no alembic_version: the slow path says what it is
                return False
        return found == [head]

    def drift(self, db: Database) -> list[str]:
        """How the database's tables differ from `schema.py` (nothing, when they agree)."""
        _quiet_alembic()
        from alembic.autogenerate import compare_metadata
        from alembic.runtime.migration import MigrationContext

        with db.read() as conn:
            return [
                _describe(d) for d in compare_metadata(MigrationContext.configure(conn), metadata)
            ]

    def _current(self, found: _Found, name: str) -> str | None:
        """The revision the database is at (None when empty); refuses what it cannot use."""
        if found.revision is not None:
            if found.revision not in self.known:
                raise StorageError(
                    f"database {name} is at schema revision {found.revision}, which this Radar "
                    f"does not know (it knows up to {self.head}): it was upgraded by a newer "
                    "Radar; run that version, or point RADAR_DB at another database"
                )
            return found.revision
        if found.legacy is not None:
            if found.legacy != str(LEGACY_VERSION):
                raise StorageError(
                    f"database {name} has schema version {found.legacy}, which this Radar "
                    f"does not know (it adopts version {LEGACY_VERSION}): run the Radar that "
                    "made it, or point RADAR_DB at another database"
                )
            return ADOPTED_REVISION
        if found.tables:
            raise StorageError(
                f"database {name} has tables named like Radar's ({', '.join(found.tables)}) "
                "but no schema version: it was not made by Radar, or was damaged; point "
                "RADAR_DB at another database"
            )
        return None


def _describe(difference: Any) -> str:
    """An autogenerate difference, as `remove index ix_items_extra` or `add column feeds note`."""
    if isinstance(difference, list):  # several changes to one column
        return "; ".join(_describe(d) for d in difference)
    operation, *parts = difference
    names = [p if isinstance(p, str) else getattr(p, "name", None) for p in parts]
    return " ".join([operation.replace("_", " "), *(n for n in names if isinstance(n, str))])


def _inspect(conn: Connection) -> _Found:
    _quiet_alembic()
    from alembic.runtime.migration import MigrationContext

    revision = MigrationContext.configure(conn).get_current_revision()
    present = set(sa.inspect(conn).get_table_names())
    legacy = None
    if revision is None and meta.name in present:
        legacy = conn.scalar(sa.select(meta.c.value).where(meta.c.key == LEGACY_VERSION_KEY))
    tables = tuple(t for t in metadata.tables if t in present)
    return _Found(revision, legacy, tables)
