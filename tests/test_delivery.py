"""Slack and Telegram delivery against fake APIs on 127.0.0.1, driven by slack-sdk and
python-telegram-bot: routing, formatting, escaping, threading, rate limits, outages, permanent
failures, and subscriptions through Telegram commands."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Iterator

import pytest
from fake_slack import FakeSlack
from feedserver import now_rfc822, rss, static
from helpers import (
    CHIP_RULE,
    cli,
    environment,
    in_process,
    run_once,
    stored,
    subscribed_farm,
    write_feeds,
    write_rules,
)
from skip_clock import SkipClock

from bot.app import build_senders
from bot.clock import Clock
from bot.config import load_settings
from bot.deliver.outbox import OutboxWorker
from bot.storage import Store
from bot.types import DeliveryStatus
from bot.watchlist import load_watchlist

TRAVEL_RULE = {
    "id": "travel-guidance",
    "title": "Travel restrictions",
    "severity": "medium",
    "match": {"all": [{"any": ["travel*", "trips"]}, {"any": ["AI", "engineer*"]}]},
}
SUMMIT_RULE = {
    "id": "ai-summit",
    "title": "AI summits",
    "severity": "low",
    "telegram": False,
    "match": {"all": ["summit", "AI"]},
}


@pytest.fixture
def slack(clock: SkipClock) -> Iterator[FakeSlack]:
    api = FakeSlack(now=clock.monotonic).start()
    api.add_channel("#export-controls")
    api.add_channel("#alerts")
    try:
        yield api
    finally:
        api.stop()


def _item(
    title: str, slug: str, outlet_link: str = "https://news.example.com", summary: str = ""
) -> dict:
    return {
        "title": title,
        "link": f"{outlet_link}/{slug}",
        "guid": f"{outlet_link}/{slug}",
        "pubDate": now_rfc822(-600),
        "description": summary or title,
    }


def _setup(
    tmp_path, feed_server, feeds: dict[str, list[dict]], *, slack=None, telegram=None, **extra
):
    urls = [
        {
            "url": feed_server.set(path, static(rss(items, title=path))),
            "name": path.strip("/").removesuffix(".xml"),
        }
        for path, items in feeds.items()
    ]
    feeds_file = write_feeds(tmp_path / "feeds.yaml", urls, defaults={"baseline": False})
    rules = write_rules(tmp_path / "rules", rules=[CHIP_RULE, TRAVEL_RULE, SUMMIT_RULE])
    env = environment(tmp_path, rules, feeds_file, **extra)
    if slack is not None:
        env.update(
            SLACK_BOT_TOKEN=slack.token,
            SLACK_API_URL=slack.api_url,
            SLACK_DEFAULT_CHANNEL="#alerts",
        )
    if telegram is not None:
        env.update(TELEGRAM_BOT_TOKEN=telegram.token, TELEGRAM_API_URL=telegram.api_url)
    return env


def _db(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'radar.db'}"


def _outbox(tmp_path) -> list[tuple]:
    return [
        (d.destination, d.status, d.error, d.ref)
        for d in stored(_db(tmp_path), lambda store: store.outbox.all())
    ]


# -- Slack ---------------------------------------------------------------------------------


def test_slack_routes_by_rule_and_formats_block_kit(tmp_path, feed_server, slack, clock):
    chip = _item("US adds 80 Chinese firms to Entity List over AI chips", "chips")
    travel = _item("Beijing tells AI founders to skip US trips", "travel")
    env = _setup(tmp_path, feed_server, {"/wire.xml": [chip, travel]}, slack=slack)
    report, printed = run_once(env, clock=clock)
    assert printed == [], "with Slack configured nothing goes to the console"
    assert report.delivered.sent == 2

    [message] = slack.in_channel("#export-controls")
    assert message["text"].startswith(
        "[HIGH] US adds 80 Chinese firms to Entity List over AI chips"
    )
    section, context, matched = message["blocks"]
    assert section["text"]["text"] == f"*<{chip['link']}|{chip['title']}>*"
    assert "wire" in context["elements"][0]["text"]
    assert "Chip export controls" in context["elements"][0]["text"]
    assert "(high)" in context["elements"][0]["text"]
    assert "UTC" in context["elements"][0]["text"]
    assert "`Entity List`" in matched["elements"][0]["text"]
    assert message["unfurl_links"] is False

    [default] = slack.in_channel("#alerts")
    assert default["text"].startswith("[MEDIUM] Beijing tells AI founders to skip US trips")


def test_hostile_titles_are_escaped_everywhere(tmp_path, feed_server, slack, telegram, clock):
    hostile = "Fish & Chips <3 export controls on chips < 5nm > 7nm <script>alert(1)</script> *b* _i_ ~s~ `c`"
    long_title = "Export controls on chips " + "very " * 2000 + "long"
    env = _setup(
        tmp_path,
        feed_server,
        {"/wire.xml": [_item(hostile, "hostile"), _item(long_title, "long")]},
        slack=slack,
        telegram=telegram,
    )
    telegram.command(501, "/subscribe chip-export")
    report, _ = run_once(env, clock=clock)
    assert report.delivered.sent == 4, _outbox(tmp_path)

    posted = slack.in_channel("#export-controls")
    first = posted[0]
    shown = (
        "Fish &amp; Chips &lt;3 export controls on chips &lt; 5nm &gt; 7nm alert(1) *b* _i_ ~s~ `c`"
    )
    assert first["text"].startswith(f"[HIGH] {shown}")
    assert f"|{shown}>*" in first["blocks"][0]["text"]["text"]
    assert "<script>" not in str(first)
    assert all(
        len(b["text"]["text"]) <= 3000
        for p in posted
        for b in p["blocks"]
        if b["type"] == "section"
    )

    ack, *sent = telegram.messages_to(501)
    assert "Subscribed" in ack["text"]
    assert len(sent) == 2
    assert sent[0]["parse_mode"] == "HTML"
    assert (
        ">Fish &amp; Chips &lt;3 export controls on chips &lt; 5nm &gt; 7nm alert(1) *b* _i_ ~s~ `c`</a>"
        in sent[0]["text"]
    )
    assert len(sent[1]["text"]) <= 4096
    assert sent[1]["text"].count("<a href=") == 1


def test_slack_follow_ups_are_thread_replies(tmp_path, feed_server, slack, clock):
    first = _item(
        "US adds 80 Chinese firms to Entity List over AI chips", "a", "https://wire.example.com"
    )
    second = _item(
        "US adds 80 Chinese firms to Entity List over AI chips | Tech News",
        "b",
        "https://aggregator.example.net",
    )
    env = _setup(
        tmp_path, feed_server, {"/wire.xml": [first], "/aggregator.xml": [second]}, slack=slack
    )
    run_once(env, clock=clock)
    parent, reply = slack.in_channel("#export-controls")
    assert parent.get("thread_ts") is None
    assert reply["thread_ts"] == parent["ts"]
    # Both feeds are polled at once: either may open the story; the other follows up.
    first_outlet = "wire" if parent["text"].endswith("— wire") else "aggregator"
    other = ({"wire", "aggregator"} - {first_outlet}).pop()
    assert reply["text"].startswith(f"Also reported by {other}")


def test_slack_rate_limit_is_kept_and_retry_after_obeyed(tmp_path, feed_server, slack, clock):
    items = [_item(f"New export controls on chips, part {n}", f"p{n}") for n in range(4)]
    env = _setup(tmp_path, feed_server, {"/wire.xml": items}, slack=slack)
    started = clock.monotonic()
    report, _ = run_once(env, clock=clock)
    elapsed = clock.monotonic() - started
    assert report.delivered.sent == 4
    assert slack.rate_limited == 0
    posted = slack.in_channel("#export-controls")
    gaps = [b["at"] - a["at"] for a, b in itertools.pairwise(posted)]
    assert min(gaps) >= 0.99
    assert elapsed >= 3.0


def test_slack_429_is_retried_after_the_time_it_asks(tmp_path, feed_server, slack, clock):
    env = _setup(
        tmp_path,
        feed_server,
        {"/wire.xml": [_item("New export controls on chips", "x")]},
        slack=slack,
    )
    slack.enforce = True
    # Every post is "too soon" however long the run takes to reach it: a 429 for certain.
    slack._last[slack.channels["export-controls"]] = clock.monotonic() + 3600
    slack.retry_after = 30
    report, _ = run_once(env, clock=clock)
    assert report.delivered.retried == 1
    [(destination, status, error, _)] = _outbox(tmp_path)
    assert (destination, status) == ("slack:#export-controls", "pending")
    assert "retry after 30s" in error
    next_attempt = stored(_db(tmp_path), lambda store: store.outbox.all())[0].next_attempt
    assert next_attempt >= clock.time() + 25


def test_unknown_slack_channel_is_a_permanent_failure_shown_in_status(
    tmp_path, feed_server, slack, clock
):
    rule = dict(CHIP_RULE, slack=["#nowhere"])
    env = _setup(
        tmp_path,
        feed_server,
        {"/wire.xml": [_item("New export controls on chips", "x")]},
        slack=slack,
    )
    write_rules(tmp_path / "rules", rules=[rule, TRAVEL_RULE])
    report, _ = run_once(env, clock=clock)
    assert report.delivered.failed == 1
    status = in_process(["status"], env)
    assert "FAILED slack:#nowhere" in status.stdout
    assert "channel_not_found" in status.stdout


def test_slack_outage_then_recovery_delivers_everything_in_order(
    tmp_path, feed_server, slack, clock
):
    titles = [
        "Japan adds export controls on chipmaking tools",
        "Entity List grows by 40 memory chip firms",
        "Dutch licence requirement for DUV chip machines",
    ]
    env = _setup(
        tmp_path,
        feed_server,
        {"/wire.xml": [_item(t, f"w{n}") for n, t in enumerate(titles)]},
        slack=slack,
    )
    slack.outage(3600)
    report, _ = run_once(env, clock=clock)
    assert report.delivered.sent == 0 and report.delivered.retried == 1
    assert all(status == "pending" for _, status, _, _ in _outbox(tmp_path))
    status = in_process(["status"], env)
    assert "retrying slack:#export-controls" in status.stdout
    assert "service_unavailable" in status.stdout

    slack.outage(0)
    clock.advance(3600)
    report, _ = run_once(env, clock=clock)
    assert report.delivered.sent == 3
    posted = [p["text"] for p in slack.in_channel("#export-controls")]
    # Alerts were created in feed order and go out in that order.
    assert [t.split("] ", 1)[1].split(" — ")[0] for t in posted] == titles


# -- Telegram ------------------------------------------------------------------------------


def test_telegram_commands_subscribe_and_alerts_follow(tmp_path, feed_server, telegram, clock):
    env = _setup(
        tmp_path,
        feed_server,
        {"/wire.xml": [_item("New export controls on chips", "x"), _item("AI summit ends", "s")]},
        telegram=telegram,
    )
    chat = 777
    telegram.command(chat, "/start")
    telegram.command(chat, "/subscribe chip-export travel-guidance moon-landings")
    telegram.command(chat, "/list")
    report, _ = run_once(env, clock=clock)
    assert report.commands == 3
    texts = [m["text"] for m in telegram.messages_to(chat)]
    assert "Welcome to <b>Radar</b>" in texts[0]
    assert "reply_markup" in telegram.messages_to(chat)[0]
    assert "Subscribed to <code>chip-export</code>, <code>travel-guidance</code>." in texts[1]
    assert (
        "Unknown topic: <code>moon-landings</code>. Valid topics: <code>chip-export</code>, <code>travel-guidance</code>."
        in texts[1]
    )
    assert "• Chip export controls" in texts[2] and "• Travel restrictions" in texts[2]
    alert = telegram.messages_to(chat)[3]
    assert alert["parse_mode"] == "HTML"
    assert '<a href="https://news.example.com/x">New export controls on chips</a>' in alert["text"]
    assert "ai-summit" not in " ".join(texts), "a rule with telegram: false is not a topic"

    telegram.command(chat, "/unsubscribe all")
    run_once(env, clock=clock)
    assert "Unsubscribed from everything." in telegram.messages_to(chat)[-1]["text"]
    assert in_process(["status"], env).stdout.count("Subscribers: 0 chats") == 0


def test_telegram_topics_keyboard_toggles(tmp_path, feed_server, telegram, clock):
    env = _setup(tmp_path, feed_server, {"/wire.xml": []}, telegram=telegram)
    telegram.command(900, "/topics")
    run_once(env, clock=clock)
    [topics] = telegram.messages_to(900)
    buttons = [row[0] for row in topics["reply_markup"]["inline_keyboard"]]
    assert [b["callback_data"] for b in buttons] == ["toggle:chip-export", "toggle:travel-guidance"]
    telegram.press(900, topics["message_id"], "toggle:chip-export")
    run_once(env, clock=clock)
    edits = [c for c in telegram.calls if c.method == "editMessageReplyMarkup"]
    assert edits and "✅" in str(edits[-1].params["reply_markup"])
    answers = [c for c in telegram.calls if c.method == "answerCallbackQuery"]
    assert answers[-1].params["text"] == "Subscribed to chip-export"
    assert stored(_db(tmp_path), lambda store: store.subscriptions.all()) == [(900, "chip-export")]


def test_in_groups_only_administrators_change_subscriptions(tmp_path, feed_server, telegram, clock):
    env = _setup(tmp_path, feed_server, {"/wire.xml": []}, telegram=telegram)
    group = -100
    telegram.admins[group] = {1}
    telegram.command(group, "/subscribe@RadarTestBot chip-export", user_id=2)
    telegram.command(group, "/subscribe@OtherBot chip-export", user_id=1)
    telegram.command(group, "/subscribe@RadarTestBot chip-export", user_id=1)
    telegram.command(group, "/list", user_id=2)
    run_once(env, clock=clock)
    texts = [m["text"] for m in telegram.messages_to(group)]
    assert texts == [
        "Only group administrators can change this group's subscriptions.",
        "Subscribed to <code>chip-export</code>.",
        "This chat receives:\n• Chip export controls",
    ]


def test_allowed_chats_are_enforced_politely(tmp_path, feed_server, telegram, clock):
    env = _setup(
        tmp_path, feed_server, {"/wire.xml": []}, telegram=telegram, TELEGRAM_ALLOWED_CHATS="10, 11"
    )
    telegram.command(12, "/subscribe chip-export")
    telegram.command(10, "/subscribe chip-export")
    run_once(env, clock=clock)
    [refusal] = telegram.messages_to(12)
    assert "only serves approved chats" in refusal["text"] and "<code>12</code>" in refusal["text"]
    assert "Subscribed" in telegram.messages_to(10)[0]["text"]


def test_telegram_follow_ups_reply_to_the_first_alert(tmp_path, feed_server, telegram, clock):
    first = _item(
        "US adds 80 Chinese firms to Entity List over AI chips", "a", "https://wire.example.com"
    )
    second = _item(
        "US adds 80 Chinese firms to Entity List over AI chips - Tech News",
        "b",
        "https://aggregator.example.net",
    )
    env = _setup(
        tmp_path,
        feed_server,
        {"/wire.xml": [first], "/aggregator.xml": [second]},
        telegram=telegram,
    )
    telegram.command(42, "/subscribe chip-export")
    run_once(env, clock=clock)
    _reply_ack, alert, follow = telegram.messages_to(42)
    assert follow["reply_parameters"]["message_id"] == alert["message_id"]
    assert follow["disable_notification"] is True
    # Both feeds are polled at once: either may open the story; the other follows up.
    first_outlet = "wire" if "wire.example.com" in alert["text"] else "aggregator"
    other = {"wire", "aggregator"} - {first_outlet}
    assert f"Also reported by <b>{other.pop()}</b>" in follow["text"]


def test_blocked_chat_is_unsubscribed_and_migrated_chat_followed(
    tmp_path, feed_server, telegram, clock
):
    env = _setup(
        tmp_path,
        feed_server,
        {"/wire.xml": [_item("New export controls on chips", "x")]},
        telegram=telegram,
    )
    telegram.command(5, "/subscribe chip-export")
    telegram.admins[-5] = {7}
    telegram.command(-5, "/subscribe chip-export", user_id=7)
    run_once(env, clock=clock)  # both chats subscribe, then both get the first alert
    # Now the private chat blocks the bot and the group becomes a supergroup.
    telegram.blocked.add(5)
    telegram.migrated[-5] = -1005
    feed_server.set("/wire.xml", static(rss([_item("More export controls on chips", "y")])))
    run_once(env, clock=clock)
    assert [m["text"] for m in telegram.messages_to(-1005)][-1].count(
        "More export controls on chips"
    ) == 1
    subs = sorted(stored(_db(tmp_path), lambda store: store.subscriptions.all()))
    assert subs == [(-1005, "chip-export")]
    status = in_process(["status"], env)
    assert "FAILED telegram:5" in status.stdout and "blocked by the user" in status.stdout


def test_telegram_retry_after_is_obeyed(tmp_path, feed_server, telegram, clock):
    env = _setup(
        tmp_path,
        feed_server,
        {"/wire.xml": [_item("New export controls on chips", "x")]},
        telegram=telegram,
    )
    telegram.command(8, "/subscribe chip-export")
    run_once(env, clock=clock)  # subscribes; the alert goes out
    telegram.flood[8] = 7
    feed_server.set("/wire.xml", static(rss([_item("Second export controls on chips", "y")])))
    before = clock.time()
    report, _ = run_once(env, clock=clock)
    assert report.delivered.retried == 1
    pending = stored(_db(tmp_path), lambda store: store.outbox.with_status(DeliveryStatus.PENDING))
    next_attempt, error = pending[0].next_attempt, pending[0].error
    assert next_attempt >= before + 7  # 7 s from the answer, however long the run took
    assert "retry after 7s" in error


def test_tokens_never_reach_the_logs(tmp_path, feed_server, slack, telegram, clock, caplog):
    env = _setup(
        tmp_path,
        feed_server,
        {"/wire.xml": [_item("New export controls on chips", "x")]},
        slack=slack,
        telegram=telegram,
    )
    telegram.command(3, "/subscribe chip-export")
    telegram.blocked.add(3)
    from bot import logs

    logs.protect([slack.token, telegram.token])
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "telegram", "slack_sdk", "bot"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    run_once(env, clock=clock)
    assert "sendMessage" in caplog.text or "getUpdates" in caplog.text, "DEBUG logs were captured"
    assert telegram.token not in caplog.text
    assert slack.token not in caplog.text

    result = cli(["-vv", "run", "--once"], env)
    assert result.returncode == 0
    assert "getUpdates" in result.stderr
    assert telegram.token not in result.stderr + result.stdout
    assert slack.token not in result.stderr + result.stdout
    errors = " ".join(str(d.error) for d in stored(_db(tmp_path), lambda store: store.outbox.all()))
    assert telegram.token not in errors


@pytest.mark.parametrize(("after", "waits"), [(0.25, [0.75]), (2.0, [])])
def test_a_restart_waits_out_the_last_second_of_sends(
    tmp_path, feed_server, telegram, clock, after, waits
):
    # Telegram counts about 30 messages a second, whichever process sent them: a process that
    # starts right after another one's burst must not add its own to the same second.
    env = subscribed_farm(tmp_path, feed_server, telegram, chats=2, alerts=1)
    run_once(env, clock=clock)
    settings = load_settings(env)
    store = Store(settings.db_url)
    try:
        last = store.outbox.last_sent_by("telegram")
        assert last is not None and len(telegram.sent) == 2
        slept: list[float] = []

        async def sleep(seconds: float) -> None:
            slept.append(seconds)

        senders = build_senders(settings)
        worker = OutboxWorker(
            store,
            load_watchlist(settings).ruleset,
            senders,
            clock=Clock(lambda: last + after, lambda: 0.0, sleep),
        )
        asyncio.run(worker.pace_after_restart())
        assert slept == pytest.approx(waits)
    finally:
        store.close()
