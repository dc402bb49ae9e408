"""`radar run` as a real process: graceful stop, and SIGKILL during delivery then restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
from fake_telegram import FakeTelegram
from feedserver import rss, static
from helpers import (
    ROOT,
    distinct_items,
    environment,
    recorded_refs,
    subscribed_farm,
    write_feeds,
    write_rules,
)

from bot.storage import Store


def _start(env: dict[str, str], log_path) -> subprocess.Popen:
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("RADAR_", "SLACK_", "TELEGRAM_"))
    }
    clean.update(env)
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        env=clean,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=log_path.open("ab"),
        text=True,
    )


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _sent(store: Store) -> int:
    """How many outbox rows are recorded as sent (one light query: the fake APIs share this
    process, so a busy wait here would delay their answers)."""
    return sum(n for (_, status), n in store.outbox.counts().items() if status == "sent")


def _wait_sent(db_url: str, count: int, timeout: float) -> None:
    store = Store(db_url)
    try:
        _wait(lambda: _sent(store) == count, timeout, f"{count} deliveries recorded as sent")
    finally:
        store.close()


@pytest.mark.slow
def test_radar_run_alerts_and_stops_gracefully_on_sigterm(tmp_path, feed_server):
    url = feed_server.set("/feed.xml", static(rss(distinct_items(2))))
    feeds = write_feeds(
        tmp_path / "feeds.yaml", [{"url": url, "baseline": False, "interval": "30s"}]
    )
    env = environment(tmp_path, write_rules(tmp_path / "rules"), feeds)
    process = _start(env, tmp_path / "radar.log")
    try:
        _wait(lambda: "alerts" in (tmp_path / "radar.log").read_text(), 30, "the first poll")
        _wait_sent(env["RADAR_DB"], 2, 30)
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    log = (tmp_path / "radar.log").read_text()
    assert process.returncode == 0, log
    assert "stopped" in log
    assert out.count("Chip export controls") == 2
    assert len(feed_server.hits("/feed.xml")) == 1, "one poll at start, the next one 30 s later"


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_sigkill_during_delivery_loses_nothing_and_repeats_only_unrecorded_sends(
    tmp_path, feed_server
):
    telegram = FakeTelegram().start()
    try:
        alerts, chats = 6, 40
        env = subscribed_farm(tmp_path, feed_server, telegram, chats=chats, alerts=alerts)
        expected = alerts * chats

        kills = 0
        unrecorded = 0  # sent by a killed process before it could record them
        for threshold in (expected // 4, expected // 2):
            before = len(telegram.sent)
            process = _start(env, tmp_path / "radar.log")
            _wait(lambda n=threshold: len(telegram.sent) >= n, 120, f"{threshold} messages")
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
            kills += 1
            time.sleep(0.5)  # requests the fake API had already read are answered
            recorded = recorded_refs(env["RADAR_DB"])
            own = telegram.sent[before:]
            unrecorded += sum(1 for m in own if str(m["message_id"]) not in recorded)
        process = _start(env, tmp_path / "radar.log")
        try:
            _wait(
                lambda: len({(m["chat_id"], m["text"]) for m in telegram.sent}) >= expected,
                180,
                "every message",
            )
            # Every row recorded as sent: nothing is left that could be sent again.
            _wait_sent(env["RADAR_DB"], expected, 60)
        finally:
            process.send_signal(signal.SIGTERM)
            process.communicate(timeout=30)

        delivered = Counter((m["chat_id"], m["text"]) for m in telegram.sent)
        assert len(delivered) == expected, "nothing lost"
        repeats = sum(n - 1 for n in delivered.values())
        # Each row is sent again only if a kill came between its send and its record: those
        # are the only repeats, and there are few (sends are paced, records follow at once).
        assert repeats == unrecorded, f"{repeats} repeats, {unrecorded} sends unrecorded"
        assert repeats <= 3 * kills, f"{repeats} repeats for {kills} kills"
        # A restarted process reads when the killed one last wrote to each chat; only a message
        # sent but not yet recorded at the kill can make its first one to that chat too soon.
        assert telegram.rate_limited <= unrecorded
        store = Store(env["RADAR_DB"])
        statuses: Counter[str] = Counter()
        for (_, status), count in store.outbox.counts().items():
            statuses[status] += count
        store.close()
        assert statuses == {"sent": expected}
    finally:
        telegram.stop()
