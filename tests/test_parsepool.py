"""Parsing in worker processes (bot.parsepool): the same result as in-process, started only when
a cycle's bodies pay for it, in-process again when the pool fails, and the same alerts from a
whole cycle over real sockets with the pool as without it."""

from __future__ import annotations

import asyncio
import io
import json
import multiprocessing
import os
import signal
import time

import pytest
from feedserver import FeedServer, rss, static
from helpers import distinct_items, environment, write_feeds, write_rules

from bot.app import Radar, build_senders
from bot.config import load_settings
from bot.errors import ConfigError, FeedParseError
from bot.parse import parse_feed
from bot.parsepool import ParsePool, default_workers
from bot.storage import Store
from bot.watchlist import load_watchlist

PADDING = "<!-- " + "padding " * 1500 + "-->"  # a comment: bytes to carry, nothing to read
ATOM = (
    b'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
    b"<title>Atom one</title><link href='https://atom.example/'/>"
    b"<entry><title>Ministry curbs gallium exports</title><id>urn:a:1</id>"
    b"<link href='https://atom.example/1'/><updated>2026-11-30T10:00:00Z</updated>"
    b"<summary type='html'>&lt;p&gt;Licences &amp;amp; quotas&lt;/p&gt;</summary></entry></feed>"
)


def _document(feed: int, items: int = 20) -> bytes:
    body = rss(distinct_items(items, feed), title=f"Feed {feed}")
    return body.replace(b"</item>", PADDING.encode() + b"</item>")


def test_workers_come_from_the_environment():
    assert load_settings({}).parse_workers is None
    assert default_workers() == max((os.cpu_count() or 1) - 1, 0)
    assert load_settings({"RADAR_PARSE_WORKERS": "0"}).parse_workers == 0
    assert load_settings({"RADAR_PARSE_WORKERS": "3"}).parse_workers == 3
    for wrong in ("two", "-1", "1.5"):
        with pytest.raises(ConfigError, match="RADAR_PARSE_WORKERS"):
            load_settings({"RADAR_PARSE_WORKERS": wrong})


def test_a_worker_parses_what_parse_feed_parses():
    pool = ParsePool(1, start_bytes=0, min_bytes=0)
    try:
        for body, url in ((_document(1), "https://one.example/rss"), (ATOM, "https://a/atom")):
            assert pool.parse(body, feed_url=url, feed_name="X") == parse_feed(
                body, feed_url=url, feed_name="X"
            )
        with pytest.raises(FeedParseError, match="HTML page"):
            pool.parse(b"<!doctype html><html><body>no</body></html>", feed_url="https://h/")
        assert pool.started and pool.pooled == 2 and pool.failed is None
    finally:
        pool.close()


def test_no_worker_starts_until_the_bodies_pay_for_it():
    pool = ParsePool(1, start_bytes=10**9)
    body = _document(2)
    for _ in range(3):
        assert pool.parse(body, feed_url="https://two.example/rss").items
    assert not pool.started and pool.local == 3
    off = ParsePool(0, start_bytes=0, min_bytes=0)
    off.parse(body, feed_url="https://two.example/rss")
    assert not off.started and off.local == 1


def test_a_killed_worker_leaves_parsing_in_process():
    pool = ParsePool(1, start_bytes=0, min_bytes=0)
    body = _document(3)
    expected = parse_feed(body, feed_url="https://three.example/rss")
    try:
        assert pool.parse(body, feed_url="https://three.example/rss") == expected
        executor = pool._executor
        assert executor is not None
        for process in list(executor._processes.values()):
            os.kill(process.pid, signal.SIGKILL)
            process.join()
        for _ in range(3):
            assert pool.parse(body, feed_url="https://three.example/rss") == expected
        assert pool.failed is not None and not pool.started
        assert pool.local >= 2
    finally:
        pool.close()
    assert multiprocessing.active_children() == []  # nothing left for the interpreter to join


def _cycle(env: dict[str, str], workers: int) -> tuple[list[tuple[str, str, str]], ParsePool]:
    """One `radar run --once`, its parsing done by `workers` processes from the first body."""
    settings = load_settings(env)
    stream = io.StringIO()
    store = Store(settings.db_url)
    radar = Radar(
        settings,
        load_watchlist(settings),
        store,
        build_senders(settings, stream=stream, json_lines=True),
    )
    radar.parsers = ParsePool(workers, start_bytes=0, min_bytes=0)
    radar.pipeline.parse = radar.parsers.parse

    async def cycle() -> None:
        try:
            await radar.run_once()
        finally:
            await radar.aclose()

    try:
        asyncio.run(cycle())
    finally:
        store.close()
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    return [(x["kind"], x["title"], json.dumps(x["rules"])) for x in lines], radar.parsers


def test_a_cycle_alerts_the_same_with_the_pool_as_without(tmp_path):
    server = FeedServer().start()
    try:
        feeds = [
            {"url": server.set(f"/f{n}.xml", static(_document(n % 4, 12))), "baseline": False}
            for n in range(8)
        ]
        runs = {}
        for workers in (0, 1):
            folder = tmp_path / f"workers-{workers}"
            folder.mkdir()
            env = environment(
                folder, write_rules(folder / "rules"), write_feeds(folder / "feeds.yaml", feeds)
            )
            runs[workers] = _cycle(env, workers)
    finally:
        server.stop()
    (alone, local), (pooled, pool) = runs[0], runs[1]
    assert local.pooled == 0 and pool.pooled > 0 and pool.failed is None
    assert len(alone) > 12 and alone == pooled


def test_idle_workers_stop_and_start_again_for_the_next_burst():
    pool = ParsePool(1, start_bytes=0, min_bytes=0, idle=0.2)
    body = _document(4)
    expected = parse_feed(body, feed_url="https://four.example/rss")
    try:
        assert pool.parse(body, feed_url="https://four.example/rss") == expected
        assert pool.started
        deadline = time.monotonic() + 30
        while pool.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not pool.started and pool.failed is None
        assert pool.parse(body, feed_url="https://four.example/rss") == expected
        assert pool.started and pool.pooled == 2
    finally:
        pool.close()
    assert multiprocessing.active_children() == []  # the rested pool's workers too
