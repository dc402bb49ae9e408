"""Every file of feedparser's own test corpus through our fetch → parse → normalise → match
path, served by a local server: zero crashes, zero hangs.

The corpus comes from feedparser's sdist (`pip download --no-binary :all: --no-deps
feedparser`); `.ci/run` fetches it and sets RADAR_FEEDPARSER_CORPUS to its `tests` folder.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest
from feedserver import static
from helpers import SHIPPED_RULES

from bot.errors import FeedParseError
from bot.fetch import Fetcher
from bot.models import FetchLimits
from bot.parse import parse_feed
from bot.rules.load import load_rules

CORPUS = os.environ.get("RADAR_FEEDPARSER_CORPUS")


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.skipif(
    not CORPUS,
    reason="RADAR_FEEDPARSER_CORPUS is not set (.ci/run downloads feedparser's test corpus)",
)
def test_feedparser_corpus_never_crashes_or_hangs(feed_server, record_property):
    root = Path(CORPUS)
    files = sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and p.suffix in (".xml", ".rdf", ".atom", ".rss", ".gz", ".z")
    )
    assert len(files) > 1000, f"expected feedparser's corpus in {root}"
    for path in files:
        feed_server.set(
            "/" + path.relative_to(root).as_posix(),
            static(path.read_bytes(), content_type="application/xml"),
        )
    ruleset = load_rules(SHIPPED_RULES).ruleset
    crashes: list[str] = []
    hangs: list[str] = []
    counts = {"files": len(files), "fetched": 0, "not_feeds": 0, "items": 0}

    async def one(fetcher: Fetcher, path: Path) -> None:
        url = feed_server.url("/" + path.relative_to(root).as_posix())
        try:
            result = await asyncio.wait_for(fetcher.fetch(url), timeout=30)
            if result.body is None:
                return
            counts["fetched"] += 1
            parsed = await asyncio.wait_for(
                asyncio.to_thread(
                    parse_feed,
                    result.body,
                    feed_url=url,
                    base_url=url,
                    content_type="application/xml",
                ),
                timeout=30,
            )
            counts["items"] += len(parsed.items)
            for item in parsed.items:
                ruleset.match(item)
        except FeedParseError:
            counts["not_feeds"] += 1
        except TimeoutError:
            hangs.append(str(path))
        except Exception as exc:  # anything else is a crash of ours
            crashes.append(f"{path}: {exc!r}")

    async def run() -> None:
        async with Fetcher(FetchLimits(per_host=16, concurrency=16, total_timeout=20)) as fetcher:
            await asyncio.gather(*(one(fetcher, p) for p in files))

    started = time.monotonic()
    asyncio.run(run())
    counts["seconds"] = round(time.monotonic() - started, 1)
    record_property("feedparser_corpus", counts)
    print(f"feedparser corpus: {counts}")
    assert crashes == []
    assert hangs == []
    assert counts["fetched"] == len(files)
