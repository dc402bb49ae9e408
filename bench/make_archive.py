"""Build an item archive (the format of `radar archive export`) from feed files and labelled sets.

    python bench/make_archive.py OUT.jsonl[.gz] [--feeds FOLDER]... [--labelled FILE.jsonl]...

Feed files are parsed as Radar parses a poll (each file is one feed, its URL the file's);
labelled sets (tests/data's format) give one item per line, of a feed named after its outlet.
Each item counts as first seen a minute after it was published (items without a plausible
date: the file's modification time), so `radar backtest --since` reads it as `radar run` would have.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

from bot.archive import ArchivedItem, write_archive
from bot.models import Item
from bot.parse import parse_feed
from bot.replay import read_labelled

SEEN_AFTER = 60.0  # seconds between publication and the poll that found an item
EARLIEST = 631152000.0  # 1990-01-01: a date before it is a feed's mistake


def from_feeds(folder: Path) -> Iterator[ArchivedItem]:
    for path in sorted(folder.iterdir()):
        try:
            feed = parse_feed(path.read_bytes(), feed_url=path.as_uri(), with_content=True)
        except Exception:  # a corpus file that is not a feed is left out
            continue
        fallback = path.stat().st_mtime
        for item in feed.items:
            published = item.published if (item.published or 0) > EARLIEST else None
            seen = (published or fallback) + SEEN_AFTER
            yield ArchivedItem(item, min(item.published or seen, seen), seen)


def from_labelled(path: Path) -> Iterator[ArchivedItem]:
    for row in read_labelled(path):
        item = Item(
            feed_url=f"replay:{row.outlet}",
            guid=row.url,
            title=row.title,
            link=row.url,
            summary=row.summary,
            published=row.published,
            outlet=row.outlet,
            language=row.language or None,
        )
        yield ArchivedItem(item, row.published, row.published + SEEN_AFTER)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--feeds", type=Path, action="append", default=[])
    parser.add_argument("--labelled", type=Path, action="append", default=[])
    args = parser.parse_args()
    entries: list[ArchivedItem] = []
    for folder in args.feeds:
        entries.extend(from_feeds(folder))
    for path in args.labelled:
        entries.extend(from_labelled(path))
    count = write_archive(args.output, entries)
    print(f"wrote {count} items to {args.output}")


if __name__ == "__main__":
    main()
