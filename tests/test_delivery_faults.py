"""Faults of Slack and Telegram over real sockets (fake APIs driven by slack-sdk and
python-telegram-bot): nothing is lost, nothing is sent twice, nothing waits unbounded."""

from __future__ import annotations

import logging

import pytest
from fake_slack import FakeSlack
from fake_telegram import FakeTelegram
from feedserver import rss, static
from helpers import (
    CHIP_RULE,
    cli,
    distinct_items,
    environment,
    run_once,
    stored,
    subscribed_farm,
    write_feeds,
    write_rules,
)

ALERTS = 8


def _slack_env(tmp_path, feed_server, slack: FakeSlack, count: int = ALERTS, **extra: str):
    url = feed_server.set("/wire.xml", static(rss(distinct_items(count))))
    feeds = write_feeds(
        tmp_path / "feeds.yaml", [{"url": url, "name": "Wire"}], {"baseline": False}
    )
    env = environment(tmp_path, write_rules(tmp_path / "rules", [CHIP_RULE]), feeds, **extra)
    env.update(SLACK_BOT_TOKEN=slack.token, SLACK_API_URL=slack.api_url)
    return env


def _rows(tmp_path) -> list[tuple]:
    rows = stored(f"sqlite:///{tmp_path / 'radar.db'}", lambda store: store.outbox.all())
    return [(d.destination, d.status, d.error, d.next_attempt) for d in rows]


def _posted_titles(slack: FakeSlack) -> list[str]:
    return [
        p["text"].split("] ", 1)[1].split(" — ")[0] for p in slack.in_channel("#export-controls")
    ]


def _titles(count: int) -> list[str]:
    return [item["title"] for item in distinct_items(count)]


def _posts(api: FakeSlack | FakeTelegram, method: str) -> int:
    return sum(1 for c in api.calls if c.method == method)


@pytest.mark.slow
def test_a_wrong_slack_token_holds_every_alert_until_the_right_one(
    tmp_path, feed_server, slack, clock, caplog
):
    env = _slack_env(tmp_path, feed_server, slack)
    wrong = dict(env, SLACK_BOT_TOKEN="xoxb-wrong-token-000000")
    with caplog.at_level(logging.ERROR):
        report, _ = run_once(wrong, clock=clock)
    assert report.delivered.sent == 0 and report.delivered.failed == 0
    assert _posts(slack, "chat.postMessage") == 0  # auth.test said so: nothing was tried
    assert [status for _, status, _, _ in _rows(tmp_path)] == ["pending"] * ALERTS
    held = [r.getMessage() for r in caplog.records if "on hold" in r.getMessage()]
    assert held == [
        "slack deliveries are on hold (kept, sent once fixed): "
        "Slack invalid_auth: SLACK_BOT_TOKEN is not valid"
    ]
    status = cli(["status"], wrong)
    assert status.returncode == 1
    assert "HELD slack since" in status.stdout and "SLACK_BOT_TOKEN is not valid" in status.stdout
    assert "slack on hold" in status.stdout

    report, _ = run_once(env, clock=clock)
    assert report.delivered.sent == ALERTS
    assert _posted_titles(slack) == _titles(ALERTS)  # all, in order, none twice
    assert [status for _, status, _, _ in _rows(tmp_path)] == ["sent"] * ALERTS
    status = cli(["status"], env)
    assert "HELD" not in status.stdout and status.returncode == 0


def test_a_token_refused_while_sending_holds_slack_after_one_call(
    tmp_path, feed_server, slack, clock
):
    """The token is revoked between auth.test and the first post: one call, nothing lost."""
    env = _slack_env(tmp_path, feed_server, slack)
    good, answer = slack.token, slack.dispatch

    def revoking(path, params, headers):
        reply = answer(path, params, headers)
        if path.endswith("auth.test"):
            slack.token = "xoxb-revoked"
        return reply

    slack.dispatch = revoking  # type: ignore[method-assign]
    report, _ = run_once(env, clock=clock)
    assert _posts(slack, "chat.postMessage") == 1
    assert report.delivered.sent == 0
    rows = _rows(tmp_path)
    assert [status for _, status, _, _ in rows] == ["pending"] * ALERTS
    assert "invalid_auth" in rows[0][2]

    slack.dispatch = answer  # type: ignore[method-assign]
    slack.token = good
    report, _ = run_once(env, clock=clock)
    assert report.delivered.sent == ALERTS
    assert _posted_titles(slack) == _titles(ALERTS)


@pytest.mark.slow
def test_a_wrong_telegram_token_holds_then_delivers_in_order(
    tmp_path, feed_server, telegram, clock
):
    env = subscribed_farm(tmp_path, feed_server, telegram, chats=1, alerts=ALERTS)
    wrong = dict(env, TELEGRAM_BOT_TOKEN="123456:WRONG-token-zzzzzz")
    report, _ = run_once(wrong, clock=clock)
    assert report.delivered.sent == 0 and report.delivered.failed == 0
    assert telegram.sent == []
    assert [status for _, status, _, _ in _rows(tmp_path)] == ["pending"] * ALERTS
    status = cli(["status"], wrong)
    assert status.returncode == 1
    assert "HELD telegram" in status.stdout and "TELEGRAM_BOT_TOKEN" in status.stdout
    assert "WRONG-token" not in status.stdout

    clock.advance(60)
    report, _ = run_once(env, clock=clock)
    assert report.delivered.sent == ALERTS
    texts = [m["text"] for m in telegram.messages_to(1)]
    assert len(texts) == ALERTS
    assert all(title in text for title, text in zip(_titles(ALERTS), texts, strict=True))


def test_slack_500s_then_recovery_deliver_everything_once_in_order(
    tmp_path, feed_server, slack, clock
):
    env = _slack_env(tmp_path, feed_server, slack)
    slack.outage(3600)
    report, _ = run_once(env, clock=clock)
    assert report.delivered.sent == 0 and report.delivered.retried == 1
    assert [status for _, status, _, _ in _rows(tmp_path)] == ["pending"] * ALERTS
    slack.outage(0)
    clock.advance(3600)
    report, _ = run_once(env, clock=clock)
    assert report.delivered.sent == ALERTS
    assert _posted_titles(slack) == _titles(ALERTS)


def test_a_day_long_retry_after_is_capped(tmp_path, feed_server, slack, clock, caplog):
    env = _slack_env(tmp_path, feed_server, slack, count=1, RADAR_MAX_RETRY_AFTER="600")
    channel = slack.channels["export-controls"]
    slack._last[channel] = slack.now() + 3600  # every post now is "too soon": a 429
    slack.retry_after = 86400
    with caplog.at_level(logging.WARNING):
        report, _ = run_once(env, clock=clock)
    assert report.delivered.retried == 1
    [(_, status, error, next_attempt)] = _rows(tmp_path)
    assert status == "pending" and "retry after 86400s" in error
    assert clock.time() + 500 < next_attempt <= clock.time() + 600
    assert any(
        "asked to wait 86400s; waiting 600s (RADAR_MAX_RETRY_AFTER)" in r.getMessage()
        for r in caplog.records
    )
    slack._last.pop(channel)
    clock.advance(601)
    report, _ = run_once(env, clock=clock)
    assert report.delivered.sent == 1


def test_an_html_answer_from_slack_is_retried_not_failed(tmp_path, feed_server, slack, clock):
    env = _slack_env(tmp_path, feed_server, slack, count=1)
    slack.html_answers = 1
    report, _ = run_once(env, clock=clock)
    assert report.delivered.retried == 1 and report.delivered.failed == 0
    [(_, status, error, _)] = _rows(tmp_path)
    assert status == "pending" and "not JSON" in error
    clock.advance(60)
    report, _ = run_once(env, clock=clock)
    assert report.delivered.sent == 1
    assert len(slack.in_channel("#export-controls")) == 1


@pytest.mark.slow
@pytest.mark.parametrize("service", ["slack", "telegram"])
def test_a_ten_minute_outage_loses_nothing_and_repeats_nothing(
    tmp_path, feed_server, slack, telegram, clock, service
):
    """`radar run --once` from cron every minute while the service answers 500 for ten
    minutes (on the test's clock), then until the outbox is empty: every alert once, in
    order."""
    if service == "slack":
        env, api = _slack_env(tmp_path, feed_server, slack), slack
    else:
        env = subscribed_farm(tmp_path, feed_server, telegram, chats=1, alerts=ALERTS)
        api = telegram
    start = clock.time()
    api.outage(3600)
    for _ in range(11):
        report, _ = run_once(env, clock=clock)
        assert report.delivered.sent == 0 and report.delivered.failed == 0
        clock.advance(60)
    assert [status for _, status, _, _ in _rows(tmp_path)] == ["pending"] * ALERTS
    api.outage(0)
    while any(status != "sent" for _, status, _, _ in _rows(tmp_path)):
        assert clock.time() < start + 40 * 60, "the backoff reached past half an hour"
        report, _ = run_once(env, clock=clock)
        assert report.delivered.failed == 0
        clock.advance(60)
    if service == "slack":
        assert _posted_titles(slack) == _titles(ALERTS)
    else:
        texts = [m["text"] for m in telegram.messages_to(1)]
        assert len(texts) == ALERTS
        assert all(title in text for title, text in zip(_titles(ALERTS), texts, strict=True))
