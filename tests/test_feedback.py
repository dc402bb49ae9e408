"""Users' verdicts: Telegram buttons (and forged callbacks from other chats), Slack reactions
read with reactions.get, `radar feedback` and its export as `no_match` examples, and the
backtest marking judged stories."""

from __future__ import annotations

import json

import yaml
from feedserver import rss, static
from helpers import (
    CHIP_RULE,
    commit_all,
    distinct_items,
    environment,
    git_repo,
    run_once,
    write_feeds,
    write_rules,
)
from test_archive import radar

from bot.storage import Store
from bot.types import Judgement

HEADLINE = "Tokyo adds export controls on gallium chips, covering 10 firms"


def _setup(tmp_path, feed_server, **extra: str) -> dict[str, str]:
    root = tmp_path / "repo"
    rules = write_rules(root / "rules")
    git_repo(root)
    url = feed_server.set("/feed.xml", static(rss(distinct_items(1))))
    feeds = write_feeds(tmp_path / "feeds.yaml", [{"url": url, "baseline": False}])
    return environment(tmp_path, rules, feeds, **extra)


def _verdicts(env) -> list[tuple[str, str, Judgement]]:
    store = Store(env["RADAR_DB"])
    try:
        return [(v.destination, v.voter, v.verdict) for v in store.verdicts.all()]
    finally:
        store.close()


def _answers(telegram) -> list[dict]:
    return [c.params for c in telegram.calls if c.method == "answerCallbackQuery"]


def test_telegram_buttons_record_verdicts_and_forged_callbacks_are_refused(
    tmp_path, feed_server, telegram, clock, monkeypatch, capsys
):
    env = _setup(
        tmp_path, feed_server, TELEGRAM_BOT_TOKEN=telegram.token, TELEGRAM_API_URL=telegram.api_url
    )
    store = Store(env["RADAR_DB"])
    for chat in (501, 502):
        store.subscriptions.subscribe(chat, ["chip-export"], clock.time())
    store.close()
    run_once(env, clock=clock)
    [to_501] = telegram.messages_to(501)
    [to_502] = telegram.messages_to(502)
    buttons = to_501["reply_markup"]["inline_keyboard"][0]
    assert [b["text"] for b in buttons] == ["👍 Relevant", "👎 Not relevant"]
    alert_id = int(buttons[1]["callback_data"].split(":")[1])
    no = buttons[1]["callback_data"]

    telegram.press(501, to_501["message_id"], no, user_id=71)  # the chat it went to
    telegram.press(999, to_501["message_id"], no, user_id=66)  # forged: another chat
    telegram.press(502, to_501["message_id"], no, user_id=67)  # forged: 502's chat, 501's message
    telegram.press(502, to_502["message_id"], buttons[0]["callback_data"], user_id=72)
    run_once(env, clock=clock)

    assert _verdicts(env) == [
        ("telegram:501", "telegram:71", Judgement.NOT_RELEVANT),
        ("telegram:502", "telegram:72", Judgement.RELEVANT),
    ]
    answers = [
        (a.get("text"), str(a.get("show_alert")).lower() == "true") for a in _answers(telegram)
    ]
    assert answers == [
        ("Thanks: marked not relevant", False),
        ("This alert was not sent to this chat", True),
        ("This alert was not sent to this chat", True),
        ("Thanks: marked relevant", False),
    ]

    telegram.press(502, to_502["message_id"], no, user_id=72)  # changes their mind
    run_once(env, clock=clock)
    assert _verdicts(env)[-1] == ("telegram:502", "telegram:72", Judgement.NOT_RELEVANT)

    code, out, _ = radar(["feedback"], env, monkeypatch, capsys)
    assert code == 0
    assert "chip-export: 1 alerts judged: 0 relevant, 2 not relevant; 1 disputed" in out
    assert f"✗ alert {alert_id}: {HEADLINE} (2 not relevant, 0 relevant; rules git:" in out

    target = tmp_path / "candidates.yaml"
    code, out, _ = radar(
        ["feedback", "export", "--rule", "chip-export", "-o", str(target)], env, monkeypatch, capsys
    )
    assert code == 0 and "wrote 1 candidate no_match example for chip-export" in out
    exported = target.read_text(encoding="utf-8")
    assert f"#   alert {alert_id}: 2 not relevant, 0 relevant; rules git:" in exported
    assert yaml.safe_load(exported) == {"examples": {"no_match": [HEADLINE]}}

    # Pasted into the rule file, the candidate is a failing example until the rule is fixed.
    rule = {**CHIP_RULE, "examples": yaml.safe_load(exported)["examples"]}
    write_rules(tmp_path / "repo" / "rules", [rule])
    code, out, _ = radar(["rules", "test"], env, monkeypatch, capsys)
    assert code == 1 and HEADLINE in out


def test_slack_reactions_are_read_from_the_alerts_own_message(
    tmp_path, feed_server, slack, clock, monkeypatch, capsys
):
    env = _setup(
        tmp_path,
        feed_server,
        SLACK_BOT_TOKEN=slack.token,
        SLACK_API_URL=slack.api_url,
        RADAR_SLACK_NOT_RELEVANT=":-1:, :x:",
    )
    run_once(env, clock=clock)
    [posted] = slack.in_channel("#export-controls")
    channel, ts = posted["channel_id"], posted["ts"]
    slack.react(channel, ts, "-1::skin-tone-3", "U1")
    slack.react(channel, ts, "+1", "U2")
    slack.react(channel, ts, "eyes", "U3")  # not a verdict
    slack.add_channel("#elsewhere")
    slack.react("#elsewhere", ts, "x", "U4")  # another channel's message: never read
    run_once(env, clock=clock)
    assert sorted(_verdicts(env)) == [
        ("slack:#export-controls", "slack:U1", Judgement.NOT_RELEVANT),
        ("slack:#export-controls", "slack:U2", Judgement.RELEVANT),
    ]
    gets = [c.params for c in slack.calls if c.method == "reactions.get"]
    assert gets and all(g["channel"] == channel and g["timestamp"] == ts for g in gets)

    slack.react(channel, ts, "+1", "U2", remove=True)  # taken back
    slack.react(channel, ts, "x", "U5")
    run_once(env, clock=clock)
    assert sorted(_verdicts(env)) == [
        ("slack:#export-controls", "slack:U1", Judgement.NOT_RELEVANT),
        ("slack:#export-controls", "slack:U5", Judgement.NOT_RELEVANT),
    ]
    code, out, _ = radar(["feedback", "export", "--rule", "chip-export"], env, monkeypatch, capsys)
    assert code == 0
    assert yaml.safe_load(out) == {"examples": {"no_match": [HEADLINE]}}
    assert "2 not relevant, 0 relevant" in out


def test_the_backtest_marks_stories_users_judged(
    tmp_path, feed_server, telegram, clock, monkeypatch, capsys
):
    env = _setup(
        tmp_path, feed_server, TELEGRAM_BOT_TOKEN=telegram.token, TELEGRAM_API_URL=telegram.api_url
    )
    store = Store(env["RADAR_DB"])
    store.subscriptions.subscribe(501, ["chip-export"], clock.time())
    store.close()
    run_once(env, clock=clock)
    [message] = telegram.messages_to(501)
    no = message["reply_markup"]["inline_keyboard"][0][1]["callback_data"]
    telegram.press(501, message["message_id"], no, user_id=71)
    run_once(env, clock=clock)

    rules = tmp_path / "repo" / "rules"
    narrowed = {**CHIP_RULE, "match": {**CHIP_RULE["match"], "none": ["potato chip*", "gallium"]}}
    write_rules(rules, [narrowed])
    args = ["backtest", "--base", "main", "--format", "markdown"]
    code, out, err = radar(args, env, monkeypatch, capsys)
    assert code == 0, err
    assert "**Would no longer alert (1)**" in out and "**users:** 1 not relevant, 0 relevant" in out

    exported = tmp_path / "archive.jsonl"
    assert radar(["archive", "export", str(exported)], env, monkeypatch, capsys)[0] == 0
    [line] = [json.loads(x) for x in exported.read_text(encoding="utf-8").splitlines()]
    assert line["judged"] == "1 not relevant, 0 relevant"
    commit_all(tmp_path / "repo", "narrowed")
    code, out, _ = radar(
        ["backtest", "--base", "HEAD~1", "--archive", str(exported), "--format", "json"],
        env,
        monkeypatch,
        capsys,
    )
    [rule] = json.loads(out)["rules"]
    assert rule["no_longer"][0]["judged"] == "1 not relevant, 0 relevant"
