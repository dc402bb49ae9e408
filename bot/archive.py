"""The item archive: every polled item, kept `RADAR_ARCHIVE_DAYS` for backtests, and moved
between machines as JSON Lines (`radar archive export|import FILE`, gzip when the name ends
in `.gz`), so that CI can replay production's last months.

One JSON object a line, an item as Radar stored it: its feed, GUID, link, normalised text,
language, dates (`published` as the feed said, `effective` when it counts as published,
`first_seen` when Radar polled it) and `verdict` (`new`, or `record` for an item stored
without alerting: a feed's backlog, or one too old). Import skips an item already stored
(the same GUID, or the same canonical link), so importing a file twice changes nothing.
"""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

from bot.config import DAY, Settings
from bot.errors import ArchiveError
from bot.models import Item
from bot.storage import Pruned, Store, StoredItem
from bot.types import ItemVerdict
from bot.urls import canonical_url
from bot.verdicts import judged_items

log = logging.getLogger(__name__)

IMPORT_CHUNK = 500  # items per write transaction while importing
REQUIRED = ("feed_url", "guid", "title", "first_seen")
NOT_EMPTY = ("feed_url", "guid")


@dataclass(frozen=True, slots=True)
class ArchivedItem:
    """One line of an archive file: an item and when Radar saw it."""

    item: Item
    effective: float
    first_seen: float
    verdict: ItemVerdict = ItemVerdict.NEW
    judged: str | None = None  # users' verdicts on its alert ("2 not relevant, 0 relevant")

    @classmethod
    def from_stored(cls, stored: StoredItem, judged: str | None = None) -> ArchivedItem:
        return cls(stored.item, stored.effective, stored.first_seen, stored.verdict, judged)

    def to_json(self) -> dict[str, Any]:
        return (
            self.item.fields()
            | {
                "effective": self.effective,
                "first_seen": self.first_seen,
                "verdict": self.verdict.value,
            }
            | ({"judged": self.judged} if self.judged else {})
        )

    @classmethod
    def from_json(cls, data: Any) -> ArchivedItem:
        """Raises ValueError naming what is wrong."""
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        missing = [key for key in REQUIRED if data.get(key) is None]
        missing += [key for key in NOT_EMPTY if key not in missing and not data.get(key)]
        if missing:
            raise ValueError(f"missing {', '.join(sorted(missing, key=REQUIRED.index))}")
        first_seen = _number(data, "first_seen")
        published = data.get("published")
        link = data.get("link") or None
        item = Item(
            feed_url=str(data["feed_url"]),
            guid=str(data["guid"]),
            title=str(data["title"]),
            link=link,
            canonical_link=data.get("canonical_link") or (canonical_url(link) if link else None),
            summary=str(data.get("summary") or ""),
            content=str(data.get("content") or ""),
            author=str(data.get("author") or ""),
            categories=tuple(str(c) for c in data.get("categories") or ()),
            published=None if published is None else _number(data, "published"),
            outlet=str(data.get("outlet") or ""),
            language=data.get("language") or None,
        )
        effective = _number(data, "effective") if data.get("effective") is not None else first_seen
        try:
            verdict = ItemVerdict(data.get("verdict") or ItemVerdict.NEW.value)
        except ValueError as exc:
            raise ValueError(f"verdict {data.get('verdict')!r} is not new or record") from exc
        if verdict is ItemVerdict.SEEN:
            raise ValueError("verdict 'seen' is not stored")
        judged = data.get("judged")
        return cls(item, effective, first_seen, verdict, str(judged) if judged else None)


def _number(data: dict[str, Any], key: str) -> float:
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{key} must be a number of epoch seconds, got {value!r}")
    return float(value)


@contextmanager
def _open(path: Path, mode: str) -> Iterator[IO[str]]:
    try:
        if path.name.endswith(".gz"):
            handle = cast(IO[str], gzip.open(path, mode + "t", encoding="utf-8"))  # noqa: SIM115
        else:
            handle = path.open(mode, encoding="utf-8")
    except OSError as exc:
        raise ArchiveError(f"{path}: {exc.strerror or exc}") from exc
    with handle:
        yield handle


def write_archive(path: Path, entries: Iterable[ArchivedItem]) -> int:
    """Write entries as JSON Lines; return how many."""
    count = 0
    with _open(path, "w") as out:
        for entry in entries:
            out.write(json.dumps(entry.to_json(), ensure_ascii=False) + "\n")
            count += 1
    return count


def read_archive(path: Path) -> Iterator[ArchivedItem]:
    """The entries of an archive file; raises ArchiveError naming file and line."""
    with _open(path, "r") as source:
        number = 0
        try:
            for line in source:
                number += 1
                if not line.strip():
                    continue
                try:
                    yield ArchivedItem.from_json(json.loads(line))
                except ValueError as exc:
                    raise ArchiveError(f"{path}:{number}: not an archived item: {exc}") from exc
        except (OSError, EOFError, UnicodeDecodeError) as exc:
            raise ArchiveError(f"{path}:{number}: cannot read: {exc}") from exc


def stored_entries(store: Store, since: float | None = None) -> Iterator[ArchivedItem]:
    """Every stored item (first seen at or after `since`), in order of arrival, with the
    verdicts users gave its alert."""
    judged = judged_items(store)
    for stored in store.items.iterate(since=since):
        yield ArchivedItem.from_stored(stored, judged.get((stored.item.feed_url, stored.item.guid)))


def export_archive(store: Store, path: Path, since: float | None = None) -> int:
    """Every stored item (first seen at or after `since`), in order of arrival."""
    return write_archive(path, stored_entries(store, since))


@dataclass(frozen=True, slots=True)
class Imported:
    added: int
    skipped: int


def import_archive(store: Store, entries: Iterable[ArchivedItem]) -> Imported:
    """Store the entries not stored yet (by GUID or canonical link); never alerts."""
    added = skipped = 0
    batch: list[ArchivedItem] = []

    def flush() -> None:
        nonlocal added, skipped
        with store.transaction() as tx:
            for entry in batch:
                item = entry.item
                links = [item.canonical_link] if item.canonical_link else []
                guids, known_links = tx.items.known(
                    item.feed_url, [item.guid], links, any_copy=True
                )
                if guids or known_links:
                    skipped += 1
                    continue
                tx.items.add(
                    item,
                    effective=entry.effective,
                    first_seen=entry.first_seen,
                    verdict=entry.verdict,
                )
                added += 1
        batch.clear()

    for entry in entries:
        batch.append(entry)
        if len(batch) >= IMPORT_CHUNK:
            flush()
    if batch:
        flush()
    return Imported(added, skipped)


def prune(store: Store, settings: Settings, now: float) -> Pruned:
    """Apply the retention period (`RADAR_ARCHIVE_DAYS`), logging what went."""
    pruned = store.archive.prune(now - settings.archive_days * DAY)
    if pruned.items or pruned.kept_stories:
        log.info(
            "archive: removed %d items and %d stories first seen over %g days ago; "
            "kept %d such stories that still have deliveries pending",
            pruned.items,
            pruned.stories,
            settings.archive_days,
            pruned.kept_stories,
        )
    return pruned
