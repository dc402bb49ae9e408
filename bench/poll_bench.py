"""Polling cost for a local farm of feeds: a cold cycle, then warm cycles where servers answer
304 (they send validators) or send the same body again (they send none).

    python bench/poll_bench.py [--feeds 500]

Feed bodies are the files of ../shared/corpora/real-feeds (cycled), else generated RSS.
Reported per cycle: requests, response body bytes on the wire, 304s, feeds parsed, seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import random
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from feedserver import FeedServer, Reply, Request, rss, static  # noqa: E402

from bot.app import Radar, build_senders  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.fetch import Fetcher  # noqa: E402
from bot.storage import Store  # noqa: E402
from bot.watchlist import load_watchlist  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpora" / "real-feeds"


class Meter:
    """Counts requests, statuses and body bytes of every reply."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = self.bytes = self.not_modified = 0

    def wrap(self, route):
        def counted(request: Request, handler) -> Reply:
            reply = route(request, handler)
            with self.lock:
                self.requests += 1
                self.bytes += len(reply.body)
                self.not_modified += reply.status == 304
            return reply

        return counted

    def take(self) -> tuple[int, int, int]:
        with self.lock:
            values = (self.requests, self.bytes, self.not_modified)
            self.requests = self.bytes = self.not_modified = 0
        return values


def bodies(count: int) -> list[bytes]:
    files = sorted(CORPUS.glob("*.xml")) if CORPUS.is_dir() else []
    if files:
        return [files[n % len(files)].read_bytes() for n in range(count)]
    rng = random.Random(1)
    return [
        rss(
            [
                {
                    "title": f"Item {n}-{k} {rng.random()}",
                    "guid": f"g{n}-{k}",
                    "link": f"https://example.com/{n}/{k}",
                }
                for k in range(30)
            ]
        )
        for n in range(count)
    ]


async def cycle(radar: Radar) -> tuple[float, int]:
    started = time.perf_counter()
    async with Fetcher(radar.settings.fetch) as fetcher:
        reports = await radar.poll_all(fetcher)
    parsed = sum(1 for r in reports if r.status == "ok")
    return time.perf_counter() - started, parsed


def run(mode: str, feeds: int, cycles: int, docs: list[bytes]) -> None:
    server = FeedServer().start()
    meter = Meter()
    entries = []
    for n in range(feeds):
        validators = (
            {"etag": f'"v{n}"', "last_modified": "Wed, 21 Oct 2026 07:28:00 GMT"}
            if mode == "validators"
            else {}
        )
        url = server.set(
            f"/feed/{n}.xml", meter.wrap(static(docs[n], gzip_body=True, **validators))
        )
        entries.append(f"  - url: {url}\n")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "feeds.yaml").write_text(
            "defaults: {interval: 10m}\nfeeds:\n" + "".join(entries), encoding="utf-8"
        )
        env = {
            "RADAR_DB": f"sqlite:///{folder / 'radar.db'}",
            "RADAR_RULES": str(ROOT / "rules"),
            "RADAR_FEEDS": str(folder / "feeds.yaml"),
            "RADAR_PER_HOST": "32",
        }
        settings = load_settings(env)
        store = Store(settings.db_url)
        radar = Radar(
            settings, load_watchlist(settings), store, build_senders(settings, stream=io.StringIO())
        )
        for number in range(cycles):
            seconds, parsed = asyncio.run(cycle(radar))
            requests, size, not_modified = meter.take()
            label = "cold" if number == 0 else "warm"
            print(
                f"{mode:>13} {label:>5} {requests:>9,} {size:>14,} {not_modified:>6,} {parsed:>7,} {seconds:>8.2f}"
            )
        store.close()
    server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--cycles", type=int, default=3)
    args = parser.parse_args()
    docs = bodies(args.feeds)
    print(f"{args.feeds} feeds, {sum(len(d) for d in docs):,} bytes of documents (before gzip)")
    print(
        f"{'servers send':>13} {'cycle':>5} {'requests':>9} {'body bytes':>14} {'304s':>6} {'parsed':>7} {'seconds':>8}"
    )
    run("validators", args.feeds, args.cycles, docs)
    run("no validators", args.feeds, args.cycles, docs)
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
