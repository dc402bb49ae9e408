"""`radar deliveries`: list what is pending, retrying, held or failed; resend or drop it."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fake_slack import FakeSlack
from feedserver import rss, static
from helpers import (
    CHIP_RULE,
    distinct_items,
    environment,
    in_process,
    run_once,
    stored,
    write_feeds,
    write_rules,
)
from skip_clock import SkipClock

COUNT = 3


@pytest.fixture
def slack(clock: SkipClock) -> Iterator[FakeSlack]:
    api = FakeSlack(now=clock.monotonic).start()
    try:
        yield api
    finally:
        api.stop()


def _failed_env(tmp_path, feed_server, slack: FakeSlack) -> dict[str, str]:
    """Alerts to a channel Slack does not know yet: each fails with channel_not_found."""
    url = feed_server.set("/wire.xml", static(rss(distinct_items(COUNT))))
    feeds = write_feeds(tmp_path / "feeds.yaml", [{"url": url}], {"baseline": False})
    env = environment(tmp_path, write_rules(tmp_path / "rules", [CHIP_RULE]), feeds)
    env.update(SLACK_BOT_TOKEN=slack.token, SLACK_API_URL=slack.api_url)
    report, _ = run_once(env)
    assert report.delivered.failed == COUNT
    return env


def _statuses(tmp_path) -> list[str]:
    rows = stored(f"sqlite:///{tmp_path / 'radar.db'}", lambda store: store.outbox.all())
    return [d.status for d in rows]


def test_list_shows_failed_rows_with_headline_and_error(tmp_path, feed_server, slack):
    env = _failed_env(tmp_path, feed_server, slack)
    listed = in_process(["deliveries"], env)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split() == [
        "id",
        "destination",
        "status",
        "tries",
        "headline",
        "/",
        "last",
        "error",
    ]
    titles = [item["title"] for item in distinct_items(COUNT)]
    rows = [line for line in lines if "slack:#export-controls" in line]
    assert [r.split()[2] for r in rows] == ["failed"] * COUNT
    assert [r.split("  ")[-1].strip() for r in rows] == titles
    assert listed.stdout.count("channel_not_found") == COUNT

    data = json.loads(in_process(["deliveries", "--json"], env).stdout)
    assert [d["status"] for d in data["deliveries"]] == ["failed"] * COUNT
    assert [d["headline"] for d in data["deliveries"]] == titles
    assert data["held"] == []


@pytest.mark.slow
def test_retry_resends_failed_rows_in_order_by_the_next_run(tmp_path, feed_server, slack, clock):
    env = _failed_env(tmp_path, feed_server, slack)
    assert in_process(["deliveries", "retry", "--destination", "slack:#elsewhere"], env).stdout == (
        "0 failed deliveries will be sent by the next run\n"
    )
    retried = in_process(["deliveries", "retry", "--destination", "slack", "--since", "1d"], env)
    assert retried.stdout == f"{COUNT} failed deliveries will be sent by the next run\n"
    assert _statuses(tmp_path) == ["pending"] * COUNT
    assert "pending" in in_process(["deliveries"], env).stdout

    slack.add_channel("#export-controls")  # the fix: the channel exists now
    clock.advance(1)
    report, _ = run_once(env, clock=clock)
    assert report.delivered.sent == COUNT
    posted = [p["text"] for p in slack.in_channel("#export-controls")]
    titles = [item["title"] for item in distinct_items(COUNT)]
    assert all(t in text for t, text in zip(titles, posted, strict=True))
    assert in_process(["deliveries"], env).stdout == "no deliveries pending, retrying or failed\n"
    assert in_process(["status"], env).returncode == 0


@pytest.mark.slow
def test_drop_discards_failed_rows_and_status_is_ok_again(tmp_path, feed_server, slack, clock):
    env = _failed_env(tmp_path, feed_server, slack)
    assert in_process(["status"], env).returncode == 1
    dropped = in_process(["deliveries", "drop"], env)
    assert dropped.stdout == f"{COUNT} deliveries dropped\n"
    assert _statuses(tmp_path) == ["dropped"] * COUNT
    assert in_process(["deliveries", "drop"], env).stdout == "0 deliveries dropped\n"
    assert in_process(["status"], env).returncode == 0
    slack.add_channel("#export-controls")
    report, _ = run_once(env, clock=clock)
    assert report.delivered.sent == 0  # dropped rows are never sent


def test_held_rows_are_listed_as_held_and_drop_pending_discards_them(
    tmp_path, feed_server, slack, clock
):
    url = feed_server.set("/wire.xml", static(rss(distinct_items(COUNT))))
    feeds = write_feeds(tmp_path / "feeds.yaml", [{"url": url}], {"baseline": False})
    env = environment(tmp_path, write_rules(tmp_path / "rules", [CHIP_RULE]), feeds)
    env.update(SLACK_BOT_TOKEN="xoxb-wrong", SLACK_API_URL=slack.api_url)
    run_once(env, clock=clock)
    listed = in_process(["deliveries"], env).stdout
    assert listed.startswith("slack on hold since ")
    assert "SLACK_BOT_TOKEN is not valid" in listed.splitlines()[0]
    assert sum(" held " in line for line in listed.splitlines()) == COUNT
    assert in_process(["deliveries", "drop"], env).stdout == "0 deliveries dropped\n"
    assert (
        in_process(["deliveries", "drop", "--pending"], env).stdout
        == f"{COUNT} deliveries dropped\n"
    )


def test_a_bad_duration_or_no_database_is_a_usage_error(tmp_path, feed_server, slack):
    env = _failed_env(tmp_path, feed_server, slack)
    bad = in_process(["deliveries", "retry", "--since", "30x"], env)
    assert bad.returncode == 2 and "--since 30x" in bad.stderr and "Traceback" not in bad.stderr
    missing = in_process(["deliveries"], dict(env, RADAR_DB=f"sqlite:///{tmp_path / 'none.db'}"))
    assert missing.returncode == 2 and "no database at" in missing.stderr
