"""Parsing cost per entry: the fast path (bot/fastparse.py) against feedparser on the same bytes,
and `parse_feed` as a whole (with Radar's normalisation) with and without the fast path.

    python bench/parse_bench.py [FOLDER] [--repeat 3]

FOLDER defaults to ../shared/corpora/real-feeds. Times are CPU seconds (process time), the
best of --repeat passes. Also reported: how many documents the fast path accepts, and why it
declines the others (those go to feedparser).
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from unittest import mock

import feedparser

from bot import fastparse
from bot.errors import FeedParseError
from bot.parse import parse_feed

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpora" / "real-feeds"
URL = "https://bench.example.com/feed.xml"
HEADERS = {"content-location": URL, "content-type": "application/xml"}


def best(passes: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(passes):
        started = time.process_time()
        work()
        times.append(time.process_time() - started)
    return min(times)


def normalised(body: bytes) -> None:
    try:
        parse_feed(body, feed_url=URL, base_url=URL, content_type="application/xml")
    except FeedParseError:
        return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=CORPUS)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    bodies = [p.read_bytes() for p in sorted(args.folder.glob("*.xml"))]
    if not bodies:
        raise SystemExit(f"no *.xml documents in {args.folder}")

    declines: Counter[str] = Counter()
    accepted: list[bytes] = []
    entries = 0
    for body in bodies:
        try:
            entries += len(fastparse.parse_or_decline(body, HEADERS)["entries"])
            accepted.append(body)
        except fastparse.Decline as exc:
            declines[str(exc).split(":")[0]] += 1
    all_entries = sum(
        len(feedparser.parse(b, response_headers=HEADERS).get("entries") or []) for b in bodies
    )

    def reference() -> None:
        for body in accepted:
            feedparser.parse(
                body, response_headers=HEADERS, resolve_relative_uris=False, sanitize_html=False
            )

    fast = best(args.repeat, lambda: [fastparse.parse(b, HEADERS) for b in accepted])
    slow = best(args.repeat, reference)
    whole_fast = best(args.repeat, lambda: [normalised(b) for b in bodies])
    with mock.patch.object(fastparse, "parse", lambda *a: None):
        whole_slow = best(args.repeat, lambda: [normalised(b) for b in bodies])

    per = 1000 / max(entries, 1)
    print(f"{len(bodies)} documents, {all_entries:,} entries in {args.folder}")
    print(f"fast path accepts {len(accepted)} documents ({entries:,} entries); declines:")
    for reason, count in declines.most_common():
        print(f"  {count:>4}  {reason}")
    print(
        f"parsing the accepted documents: feedparser {slow * per:.3f} ms/entry, "
        f"fast path {fast * per:.3f} ms/entry ({slow / fast:.1f}x)"
    )
    per_all = 1000 / max(all_entries, 1)
    print(
        f"parse_feed over all documents (with normalisation): feedparser only "
        f"{whole_slow * per_all:.3f} ms/entry, with the fast path {whole_fast * per_all:.3f} "
        f"ms/entry ({whole_slow / whole_fast:.1f}x)"
    )


if __name__ == "__main__":
    main()
