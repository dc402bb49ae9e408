"""PostgreSQL: the same pipeline on a shared database, and two `radar run` processes sharing it
(each feed polled by one at a time, each alert delivered once, the second surviving the first).

Needs RADAR_TEST_PG (for example postgresql://postgres@127.0.0.1:5432/test); skipped without.
"""

from __future__ import annotations

import itertools
import signal
import time
from collections import Counter

import pytest
from fake_telegram import FakeTelegram
from feedserver import rss, static
from helpers import (
    distinct_items,
    environment,
    recorded_refs,
    run_once,
    write_feeds,
    write_rules,
)
from test_service import _start, _wait, _wait_sent

from bot.storage import Store

pytestmark = pytest.mark.postgres


def test_run_once_on_postgresql(tmp_path, feed_server, pg_schema_url):
    url = feed_server.set("/feed.xml", static(rss(distinct_items(3))))
    feeds = write_feeds(tmp_path / "feeds.yaml", [{"url": url, "baseline": False}])
    env = environment(tmp_path, write_rules(tmp_path / "rules"), feeds, RADAR_DB=pg_schema_url)
    _, printed = run_once(env)
    assert len(printed) == 3
    _, printed = run_once(env)
    assert printed == []
    store = Store(pg_schema_url)
    try:
        assert store.items.count() == 3
        assert store.dialect == "postgresql"
    finally:
        store.close()


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_two_instances_share_one_database(tmp_path, feed_server, pg_schema_url):
    telegram = FakeTelegram().start()
    try:
        feeds_list = []
        for n in range(6):
            url = feed_server.set(f"/f{n}.xml", static(rss(distinct_items(3, feed=n))))
            feeds_list.append({"url": url, "baseline": False, "interval": "30s"})
        feeds = write_feeds(tmp_path / "feeds.yaml", feeds_list)
        env = environment(
            tmp_path,
            write_rules(tmp_path / "rules"),
            feeds,
            RADAR_DB=pg_schema_url,
            TELEGRAM_BOT_TOKEN=telegram.token,
            TELEGRAM_API_URL=telegram.api_url,
        )
        chats = 4
        store = Store(pg_schema_url)
        for chat in range(1, chats + 1):
            store.subscriptions.subscribe(chat, ["chip-export"], time.time())
        store.close()
        expected = 6 * 3 * chats

        started = time.time()
        first = _start(env, tmp_path / "a.log")
        second = _start(env, tmp_path / "b.log")
        try:
            _wait(lambda: len(telegram.sent) >= expected // 3, 90, "the first deliveries")
            first.send_signal(signal.SIGKILL)  # the second instance carries on alone
            first.wait(timeout=10)
            time.sleep(0.5)  # requests the fake API had already read are answered
            # Sent but not recorded as sent: the killed instance's in flight (and the
            # second's, which it will record); only the killed one's can be sent again.
            recorded = recorded_refs(pg_schema_url)
            unrecorded = sum(1 for m in telegram.sent if str(m["message_id"]) not in recorded)
            _wait(
                lambda: len({(m["chat_id"], m["text"]) for m in telegram.sent}) >= expected,
                150,
                "every message",
            )
            # Every row recorded as sent: nothing is left that could be sent again.
            _wait_sent(pg_schema_url, expected, 60)
        finally:
            second.send_signal(signal.SIGTERM)
            second.communicate(timeout=30)
            if first.poll() is None:
                first.kill()
        delivered = Counter((m["chat_id"], m["text"]) for m in telegram.sent)
        assert len(delivered) == expected, "every alert delivered"
        repeats = sum(n - 1 for n in delivered.values())
        assert repeats <= unrecorded, "only a send in flight at the kill repeats"
        assert repeats <= 3, f"{repeats} repeats for one kill"
        assert telegram.rate_limited <= unrecorded, "instances keep each chat's spacing"
        elapsed = time.time() - started
        for n in range(6):
            hits = feed_server.hits(f"/f{n}.xml")
            assert 1 <= len(hits) <= elapsed / 27 + 1, (
                f"feed {n}: {len(hits)} polls in {elapsed:.0f}s"
            )
            gaps = [b.at - a.at for a, b in itertools.pairwise(hits)]
            assert all(gap > 20 for gap in gaps), (
                f"feed {n} polled twice within one interval: {gaps}"
            )
    finally:
        telegram.stop()
