"""Floods: one chat's flood wait, strangers' messages and strangers' groups must cost the team
nothing. Over real sockets against the fake Bot API; assertions are on order and counts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from fake_telegram import FakeTelegram
from feedserver import now_rfc822, rss, static
from helpers import environment, run_once, stored, write_feeds, write_rules

from bot.app import Radar, build_senders
from bot.config import load_settings
from bot.deliver.outbox import OutboxWorker
from bot.fetch import Fetcher
from bot.storage import Store
from bot.types import DeliveryStatus
from bot.watchlist import load_watchlist

CHIP = "Canada adds a licence requirement for GPU exports to 40 countries"
TRAVEL_RULE = {
    "id": "travel-guidance",
    "title": "Travel restrictions",
    "severity": "medium",
    "match": {"all": [{"any": ["travel*", "trips"]}, {"any": ["AI", "engineer*"]}]},
}
CHIP_RULE = {
    "id": "chip-export",
    "title": "Chip export controls",
    "severity": "high",
    "match": {"all": [{"any": ["export*", "licen*"]}, {"any": ["chip*", "GPU*"]}]},
}


def _item(title: str, slug: str) -> dict:
    link = f"https://news.example.com/{slug}"
    return {"title": title, "link": link, "guid": link, "pubDate": now_rfc822(-600)}


def _env(tmp_path, feed_server, telegram, items: list[dict], rules=(CHIP_RULE,), **extra: str):
    url = feed_server.set("/wire.xml", static(rss(items)))
    feeds = write_feeds(
        tmp_path / "feeds.yaml", [{"url": url, "name": "Wire"}], defaults={"baseline": False}
    )
    return environment(
        tmp_path,
        write_rules(tmp_path / "rules", rules=rules),
        feeds,
        TELEGRAM_BOT_TOKEN=telegram.token,
        TELEGRAM_API_URL=telegram.api_url,
        **extra,
    )


def _subscribe(env: dict[str, str], *chats: int, topic: str = "chip-export") -> None:
    store = Store(env["RADAR_DB"])
    try:
        for chat in chats:
            kind = "private" if chat > 0 else "group"
            store.subscriptions.subscribe(chat, [topic], time.time(), kind=kind)
    finally:
        store.close()


def _sends(telegram: FakeTelegram, chat_id: int) -> list:
    return [
        c for c in telegram.calls if c.method == "sendMessage" and c.params["chat_id"] == chat_id
    ]


def _alerts(telegram: FakeTelegram) -> list[dict]:
    return [m for m in telegram.sent if "<a href=" in m["text"]]


async def _until(telegram: FakeTelegram, predicate: Callable[[], bool]) -> bool:
    """Wait (off the event loop) until the fake has seen what `predicate` asks for."""
    return await asyncio.to_thread(telegram.wait_for, predicate)


# -- flood waits -----------------------------------------------------------------------------


def test_a_day_long_flood_wait_on_a_strangers_help_holds_up_nothing(
    tmp_path, feed_server, telegram, clock
):
    """Before: `radar run --once` slept 86,400 s in line; no feed polled, no alert sent."""
    env = _env(tmp_path, feed_server, telegram, [_item(CHIP, "a")], TELEGRAM_ALLOWED_CHATS="1, 2")
    _subscribe(env, 1)
    telegram.command(999, "/help")
    telegram.flood[999] = 86400
    report, _ = run_once(env, clock=clock)
    assert report.commands == 1
    assert report.delivered.sent == 1 and [m["chat_id"] for m in _alerts(telegram)] == [1]
    assert len(_sends(telegram, 999)) == 1, "one attempt, answered 429, never retried"


def test_a_subscribers_flood_wait_reschedules_its_alert_and_no_one_elses(
    tmp_path, feed_server, telegram, clock
):
    """A reply's flood wait pauses that chat: its alert waits for the end of the wait while
    the other chats' go out (before, the paused chat booked the overall rate a day ahead)."""
    env = _env(tmp_path, feed_server, telegram, [_item(CHIP, "a")])
    _subscribe(env, 1, 2, 3)
    telegram.command(1, "/list")
    telegram.flood[1] = 86400
    report, _ = run_once(env, clock=clock)
    assert sorted(m["chat_id"] for m in _alerts(telegram)) == [2, 3]
    assert report.delivered.retried == 1
    [pending] = stored(
        env["RADAR_DB"], lambda store: store.outbox.with_status(DeliveryStatus.PENDING)
    )
    error, next_attempt = pending.error, pending.next_attempt
    # The day Telegram asked for is capped by RADAR_MAX_RETRY_AFTER (default an hour).
    assert "flood control" in error and clock.time() + 3500 < next_attempt <= clock.time() + 3600


def test_forty_messages_from_a_stranger_cost_one_refusal_a_day(
    tmp_path, feed_server, telegram, clock
):
    """Before: 40 replies, one a second, and the subscriber's alert came 41st (41 s late)."""
    env = _env(tmp_path, feed_server, telegram, [_item(CHIP, "a")], TELEGRAM_ALLOWED_CHATS="1")
    _subscribe(env, 1)
    for n in range(40):
        telegram.command(999, "/subscribe chip-export" if n % 2 else "hello")
    report, _ = run_once(env, clock=clock)
    assert report.commands == 40
    order = [m["chat_id"] for m in telegram.sent]
    assert (
        order.count(999) == 1
        and "only serves approved chats" in telegram.messages_to(999)[0]["text"]
    )
    assert order.index(1) <= 1, order
    for _ in range(5):
        telegram.command(999, "/help")
    run_once(env, clock=clock)
    assert len(telegram.messages_to(999)) == 1, "refused once a day, remembered between runs"
    assert stored(env["RADAR_DB"], lambda store: store.subscriptions.topics(999)) == []


def test_run_once_spends_at_most_its_commands_timeout_on_commands(
    tmp_path, feed_server, telegram, clock
):
    """A reply that never gets an answer is abandoned after TELEGRAM_COMMANDS_TIMEOUT; the
    command was applied, the feeds are polled, the alerts go out."""
    env = _env(
        tmp_path,
        feed_server,
        telegram,
        [_item(CHIP, "a")],
        rules=(CHIP_RULE, TRAVEL_RULE),
        TELEGRAM_COMMANDS_TIMEOUT="1",
    )
    _subscribe(env, 1)
    telegram.hang_seconds = 10
    telegram.hang_chats.add(5)
    telegram.command(5, "/subscribe travel-guidance")
    report, _ = run_once(env, clock=clock)
    assert report.commands == 1
    assert [m["chat_id"] for m in _alerts(telegram)] == [1]
    subscribed = stored(env["RADAR_DB"], lambda store: store.subscriptions.all())
    assert [chat_id for chat_id, _ in subscribed] == [1, 5]
    telegram.hang_chats.clear()
    run_once(env, clock=clock)
    assert telegram.messages_to(5) == [], "the update was applied once, not again"


def test_in_radar_run_one_chats_flood_wait_does_not_keep_others_waiting(
    tmp_path, feed_server, telegram
):
    """Before: the command loop slept on chat 10's retry_after; chat 20 was never answered."""
    env = _env(tmp_path, feed_server, telegram, [])
    telegram.flood[10] = 86400
    telegram.command(10, "/help")
    settings = load_settings(env)
    store = Store(settings.db_url)
    radar = Radar(settings, load_watchlist(settings), store, build_senders(settings))
    assert radar.commands is not None

    async def scenario() -> None:
        assert radar.commands is not None
        stop = asyncio.Event()
        task = asyncio.create_task(radar.commands.run(stop))
        try:
            assert await _until(telegram, lambda: len(_sends(telegram, 10)) == 1)
            telegram.command(20, "/list")
            telegram.command(10, "/help")
            assert await _until(telegram, lambda: telegram.messages_to(20) != [])
            telegram.command(20, "/topics")
            assert await _until(telegram, lambda: len(telegram.messages_to(20)) == 2)
        finally:
            stop.set()
            await task
            await radar.aclose()

    try:
        asyncio.run(scenario())
    finally:
        store.close()
    assert len(_sends(telegram, 10)) == 1, "a chat in a flood wait is not written to again"


def test_a_groups_backlog_does_not_hold_up_a_new_alert_to_another_chat(
    tmp_path, feed_server, telegram
):
    """In `radar run` a group's queue (20 messages a minute) is drained beside new alerts.
    Before: the private chat's alert waited for the group's whole backlog (30 s for 10)."""
    items = [_item(f"Chip export controls, notice {n} of the series", f"n{n}") for n in range(8)]
    env = _env(tmp_path, feed_server, telegram, items, rules=(CHIP_RULE, TRAVEL_RULE))
    _subscribe(env, -500)
    _subscribe(env, 77, topic="travel-guidance")
    settings = load_settings(env)
    store = Store(settings.db_url)
    radar = Radar(settings, load_watchlist(settings), store, build_senders(settings))

    async def scenario() -> int:
        stop = asyncio.Event()
        worker = asyncio.create_task(radar.outbox.run(stop, idle=0.2))
        try:
            async with Fetcher(settings.fetch) as fetcher:
                await radar.poll_all(fetcher)
                assert await _until(telegram, lambda: telegram.messages_to(-500) != [])
                travel = _item("Beijing tells AI engineers to skip US trips", "t")
                feed_server.set("/wire.xml", static(rss([travel])))
                await radar.poll_all(fetcher)
            assert await _until(telegram, lambda: telegram.messages_to(77) != [])
            return len(telegram.messages_to(-500))
        finally:
            stop.set()
            await worker
            await radar.aclose()

    try:
        group_messages_first = asyncio.run(scenario())
    finally:
        store.close()
    assert group_messages_first < len(items), "the new alert did not wait for the backlog"


def test_chats_take_turns_for_the_sending_slots(tmp_path, feed_server, telegram):
    """Round-robin: with 4 sending slots and 12 chats of 3 alerts each, every chat gets its
    first alert before any gets its third (before, the first 4 chats got all 3 first)."""
    items = [_item(f"{CHIP}, part {n}", f"p{n}") for n in range(3)]
    items[1]["title"] = "Japan adds export controls on chipmaking tools"
    items[2]["title"] = "Entity List grows by 40 memory chip firms under export rules"
    env = _env(tmp_path, feed_server, telegram, items)
    chats = list(range(1, 13))
    _subscribe(env, *chats)
    settings = load_settings(env)
    store = Store(settings.db_url)
    senders = build_senders(settings)
    radar = Radar(settings, load_watchlist(settings), store, senders)
    radar.outbox = OutboxWorker(store, radar.config.ruleset, senders, max_parallel=4)

    async def scenario() -> None:
        try:
            async with Fetcher(settings.fetch) as fetcher:
                await radar.poll_all(fetcher)
            await radar.outbox.deliver_due()
        finally:
            await radar.aclose()

    try:
        asyncio.run(scenario())
    finally:
        store.close()
    order = [m["chat_id"] for m in telegram.sent]
    assert len(order) == 36
    assert sorted(order[:12]) == chats, order


# -- strangers' groups -----------------------------------------------------------------------


@pytest.mark.slow
def test_three_hundred_stranger_groups_cannot_crowd_out_the_team(tmp_path, feed_server, telegram):
    """Without TELEGRAM_ALLOWED_CHATS, TELEGRAM_MAX_CHATS (50) caps the chats that subscribe,
    and chats that subscribed first are sent alerts first. Before: 301 chats subscribed and
    the team's chat got the alert as message 301. On real time: the commands' time limit is
    what keeps the refusals from taking every sending slot."""
    env = _env(tmp_path, feed_server, telegram, [])
    telegram.command(5, "/subscribe chip-export")
    run_once(env)  # the team's chat, first
    for n in range(300):
        telegram.admins[-1000 - n] = {7}
        telegram.command(-1000 - n, "/subscribe chip-export", user_id=7)
    feed_server.set("/wire.xml", static(rss([_item(CHIP, "a")])))
    report, _ = run_once(env)
    assert report.commands == 300
    subscriptions = stored(env["RADAR_DB"], lambda store: store.subscriptions.all())
    subscribed = list(dict.fromkeys(chat_id for chat_id, _ in subscriptions))
    assert len(subscribed) == 50 and 5 in subscribed
    alerts = [m["chat_id"] for m in _alerts(telegram)]
    assert alerts[0] == 5 and len(alerts) == 50
    refused = [c for c in range(-1299, -1000 + 1) if c not in subscribed]
    refusals = [m for m in telegram.sent if "as many chats as it may (50)" in m["text"]]
    assert len(refusals) <= len(refused)
    assert all(len(telegram.messages_to(c)) <= 1 for c in refused)
    getchatmember = [c for c in telegram.calls if c.method == "getChatMember"]
    assert len(getchatmember) == 49, "no admin lookups for groups that cannot subscribe"


def test_strangers_groups_cost_no_lookups_and_get_no_alerts(tmp_path, feed_server, telegram):
    """With TELEGRAM_ALLOWED_CHATS set, strangers' commands cost no database write or admin
    lookup, and a chat that subscribed before the list was set gets no more alerts. On real time: the commands' time limit bounds the refusals."""
    env = _env(tmp_path, feed_server, telegram, [_item(CHIP, "a")], TELEGRAM_ALLOWED_CHATS="5")
    _subscribe(env, 5, -77)  # -77 subscribed while the bot was open to anyone
    for n in range(30):
        telegram.admins[-2000 - n] = {7}
        telegram.command(-2000 - n, "/subscribe chip-export", user_id=7)
    report, _ = run_once(env)
    assert report.commands == 30
    assert [m["chat_id"] for m in _alerts(telegram)] == [5]
    assert not [c for c in telegram.calls if c.method == "getChatMember"]
    assert len([m for m in telegram.sent if m["chat_id"] < -1999]) <= 1
    assert telegram.messages_to(-77) == []


def test_a_reply_longer_than_a_message_is_split_not_dropped(tmp_path, feed_server, telegram, clock):
    """Before: Telegram refused a reply over 4,096 characters and it was dropped."""
    rules = [
        {
            "id": f"topic-{n:02d}",
            "title": f"Topic number {n} about export controls on one more kind of chip",
            "match": {"all": [f"word{n}"]},
        }
        for n in range(80)
    ]
    env = _env(tmp_path, feed_server, telegram, [], rules=rules)
    telegram.command(8, "/topics")
    run_once(env, clock=clock)
    parts = telegram.messages_to(8)
    assert len(parts) >= 2 and all(len(p["text"]) <= 4096 for p in parts)
    text = "\n".join(p["text"] for p in parts)
    assert all(f"<code>topic-{n:02d}</code>" in text for n in range(80))
    assert "reply_markup" in parts[-1] and all("reply_markup" not in p for p in parts[:-1])
