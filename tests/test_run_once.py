"""`radar run --once` end to end over real sockets: a local feed server, SQLite, the console."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from feedserver import now_rfc822, rss, static
from helpers import cli, environment, in_process, run_once, write_feeds, write_rules

EXPORT = "US adds 80 Chinese firms to Entity List over AI chips"
OTHER = "Local bakery wins regional bread award"


def _item(title: str, slug: str, *, age: float = 3600, link: str | None = None) -> dict:
    return {
        "title": title,
        "link": link or f"https://news.example.com/{slug}",
        "guid": f"https://news.example.com/{slug}",
        "pubDate": now_rfc822(-age),
        "description": f"{title}. More details inside.",
    }


def test_new_items_alert_once_and_seen_items_never_again(tmp_path, feed_server):
    url = feed_server.set("/wire.xml", static(rss([_item(EXPORT, "a"), _item(OTHER, "b")])))
    feeds = write_feeds(tmp_path / "feeds.yaml", [{"url": url, "name": "Wire", "baseline": False}])
    env = environment(tmp_path, write_rules(tmp_path / "rules"), feeds)

    report, printed = run_once(env)
    assert [p["title"] for p in printed] == [EXPORT]
    assert printed[0]["outlet"] == "Wire"
    assert printed[0]["rules"][0]["id"] == "chip-export"
    assert set(printed[0]["rules"][0]["matched"]) >= {"Entity List", "chips"}
    assert report.polls[0].new == 2

    report, printed = run_once(env)
    assert printed == []
    assert report.polls[0].new == 0


def test_first_poll_records_the_backlog_without_alerting(tmp_path, feed_server):
    items = [
        _item(EXPORT, "old-1"),
        _item("Japan tightens export controls on chipmaking tools", "old-2"),
    ]
    route = static(rss(items))
    url = feed_server.set("/feed.xml", route)
    feeds = write_feeds(tmp_path / "feeds.yaml", [{"url": url}])
    env = environment(tmp_path, write_rules(tmp_path / "rules"), feeds)

    report, printed = run_once(env)
    assert printed == []
    assert report.polls[0].recorded == 2

    fresh = _item("Netherlands publishes chipmaking tool export controls", "fresh")
    feed_server.set("/feed.xml", static(rss([fresh, *items])))
    _, printed = run_once(env)
    assert [p["title"] for p in printed] == [fresh["title"]]


def test_a_second_feed_reposting_the_same_link_does_not_alert_again(tmp_path, feed_server):
    original = _item(EXPORT, "entity-list")
    repost = dict(
        original,
        guid="aggregator-123",
        link=original["link"] + "?utm_source=rss&utm_medium=feed#top",
    )
    first = feed_server.set("/first.xml", static(rss([original])))
    second = feed_server.set("/second.xml", static(rss([repost], title="Aggregator")))
    feeds = write_feeds(
        tmp_path / "feeds.yaml", [{"url": first}, {"url": second}], defaults={"baseline": False}
    )
    env = environment(tmp_path, write_rules(tmp_path / "rules"), feeds)

    _, printed = run_once(env)
    assert [p["title"] for p in printed] == [EXPORT]


def test_items_older_than_max_age_never_alert(tmp_path, feed_server):
    stale = _item(EXPORT, "stale", age=10 * 86400)
    url = feed_server.set("/feed.xml", static(rss([stale])))
    feeds = write_feeds(tmp_path / "feeds.yaml", [{"url": url, "max_age": "3d", "baseline": False}])
    env = environment(tmp_path, write_rules(tmp_path / "rules"), feeds)
    report, printed = run_once(env)
    assert printed == []
    assert report.polls[0].recorded == 1


def test_an_unreachable_feed_is_reported_and_the_others_still_alert(tmp_path, feed_server):
    good = feed_server.set("/good.xml", static(rss([_item(EXPORT, "good")])))
    dead = "http://127.0.0.1:9/nothing-listens-here.xml"
    feeds = write_feeds(
        tmp_path / "feeds.yaml", [{"url": dead}, {"url": good}], defaults={"baseline": False}
    )
    env = environment(tmp_path, write_rules(tmp_path / "rules"), feeds)

    report, printed = run_once(env)
    assert [p["title"] for p in printed] == [EXPORT]
    [error] = report.errors
    assert error.url == dead
    assert "connect" in error.error

    status = in_process(["status"], env)
    assert status.returncode == 1, "a failing feed makes status fail"
    assert "nothing-listens-here" in status.stdout
    assert "cannot connect" in status.stdout
    assert "consecutive failures: 1" in status.stdout


def test_radar_run_once_as_a_subprocess(tmp_path, feed_server):
    url = feed_server.set("/wire.xml", static(rss([_item(EXPORT, "a"), _item(OTHER, "b")])))
    feeds = write_feeds(tmp_path / "feeds.yaml", [{"url": url, "name": "Wire", "baseline": False}])
    env = environment(tmp_path, write_rules(tmp_path / "rules"), feeds)

    result = cli(["run", "--once"], env)
    assert result.returncode == 0, result.stderr
    assert EXPORT in result.stdout
    assert "Chip export controls" in result.stdout
    assert OTHER not in result.stdout
    assert "1 alert" in result.stderr

    result = in_process(["run", "--once", "--json"], env)
    assert result.returncode == 0
    assert result.stdout.strip() == ""

    feed_server.set(
        "/wire.xml", static(rss([_item("China adds export controls on gallium for chips", "c")]))
    )
    result = in_process(["run", "--once", "--json"], env)
    [line] = result.stdout.splitlines()
    assert json.loads(line)["title"] == "China adds export controls on gallium for chips"


def test_configuration_errors_exit_2_naming_file_and_line(tmp_path):
    rules = write_rules(tmp_path / "rules")
    (rules / "broken.yaml").write_text(
        "id: broken\ntitle: Broken\nmtach:\n  any: [chips]\n", encoding="utf-8"
    )
    feeds = write_feeds(tmp_path / "feeds.yaml", [{"url": "examples/feeds/wire.xml"}])
    env = environment(tmp_path, rules, feeds)
    result = in_process(["run", "--once"], env)
    assert result.returncode == 2
    assert "broken.yaml:3" in result.stderr
    assert "unknown key 'mtach'" in result.stderr
    assert "did you mean 'match'" in result.stderr


def test_an_empty_rules_folder_is_a_configuration_error(tmp_path, feed_server):
    url = feed_server.set("/wire.xml", static(rss([_item(EXPORT, "a")])))
    feeds = write_feeds(tmp_path / "feeds.yaml", [{"url": url, "baseline": False}])
    (tmp_path / "rules").mkdir()
    env = environment(tmp_path, tmp_path / "rules", feeds)
    run = in_process(["run", "--once"], env)
    assert run.returncode == 2
    assert "no rule files" in run.stderr and str(tmp_path / "rules") in run.stderr
    assert not feed_server.hits("/wire.xml"), "nothing polled, so nothing marked seen"
    assert in_process(["rules", "check"], env).returncode == 1


def test_alerts_that_would_reach_nobody_are_warned_about_and_counted(tmp_path, feed_server):
    url = feed_server.set("/wire.xml", static(rss([_item(EXPORT, "a")])))
    feeds = write_feeds(tmp_path / "feeds.yaml", [{"url": url, "baseline": False}])
    rules = write_rules(tmp_path / "rules")
    rule_file = rules / "chip-export.yaml"
    rule_file.write_text(
        rule_file.read_text(encoding="utf-8").replace("slack:\n- '#export-controls'\n", ""),
        encoding="utf-8",
    )
    env = environment(
        tmp_path, rules, feeds, SLACK_BOT_TOKEN="xoxb-test", SLACK_API_URL="http://127.0.0.1:9/"
    )
    check = in_process(["rules", "check"], env)
    assert check.returncode == 0
    assert (
        f"{rule_file}: warning: alerts on 'chip-export' would reach no destination" in check.stdout
    )
    assert "SLACK_DEFAULT_CHANNEL is unset" in check.stdout
    report, _ = run_once(env)
    assert len(report.polls[0].unrouted) == 1
    assert "1 alert with nowhere to go" in report.summary()


def test_run_once_without_slack_or_telegram_imports_neither_client(tmp_path, feed_server):
    url = feed_server.set("/wire.xml", static(rss([_item(EXPORT, "a")])))
    feeds = write_feeds(tmp_path / "feeds.yaml", [{"url": url}])
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("RADAR_", "SLACK_", "TELEGRAM_"))
        },
        **environment(tmp_path, write_rules(tmp_path / "rules"), feeds),
    }
    code = (
        "import sys; from bot.cli import main; code = main(['run', '--once']); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'slack_sdk', 'telegram', 'apscheduler'}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_a_proxy_setting_that_cannot_work_is_a_configuration_error(tmp_path):
    feeds = write_feeds(tmp_path / "feeds.yaml", [{"url": "https://a.example/feed"}])
    env = environment(tmp_path, write_rules(tmp_path / "rules"), feeds)
    done = cli(["run", "--once"], {**env, "HTTPS_PROXY": "http://u:s3cret@proxy.example:port"})
    assert done.returncode == 2, done.stderr
    assert "configuration error" in done.stderr and "proxy" in done.stderr
    assert "s3cret" not in done.stderr and "Traceback" not in done.stderr


def test_commands_with_standard_output_closed_do_not_crash(tmp_path):
    env = environment(tmp_path, write_rules(tmp_path / "rules"), tmp_path / "feeds.yaml")
    write_feeds(tmp_path / "feeds.yaml", [{"url": "https://a.example/feed"}])
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RADAR_")} | env
    done = subprocess.run(
        [sys.executable, "-m", "bot", "rules", "check"],
        env=clean,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
        check=False,
        pass_fds=(),
        preexec_fn=lambda: os.close(1),
    )
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 0
