"""The operator's commands, in-process over real sockets: global options anywhere, help with a
description and an example, `status` naming its sources with truthful exit codes, `run --feed`
and `run --dry-run`, `feeds list|test|import|export`, and JSON or dated text logs."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import pytest
import yaml
from fake_slack import FakeSlack
from feedserver import now_rfc822, rss, static
from helpers import ROOT, distinct_items, environment, run_once, write_feeds, write_rules
from ops_helpers import run_cli

from bot import cli
from bot.config import VARIABLES
from bot.feeds import load_feeds
from bot.storage import Store
from bot.types import AlertKind, DeliveryStatus

EXPORT = "Japan adds export controls on chipmaking tools"


def _good_and_dead(tmp_path, feed_server, **extra: str) -> dict[str, str]:
    good = feed_server.set("/good.xml", static(rss(distinct_items(2), title="Good wire")))
    feeds = write_feeds(
        tmp_path / "feeds.yaml",
        [
            {"url": good, "name": "Good wire", "tags": ["primary"]},
            {"url": "http://127.0.0.1:9/dead.xml", "name": "Dead feed"},
        ],
        defaults={"baseline": False},
    )
    return environment(tmp_path, write_rules(tmp_path / "rules"), feeds, **extra)


# Global options and help


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "-v", "--once"],
        ["-v", "run", "--once"],
        ["run", "--once", "-v"],
    ],
)
def test_global_options_work_before_and_after_the_command(argv):
    args = cli._parser().parse_args(argv)
    assert args.verbose == 1 and args.once and args.handler is cli._run
    assert "verbose" not in vars(cli._parser().parse_args(["run"]))  # main() reads 0 then


def test_db_feeds_and_rules_flags_stand_beside_the_variables(tmp_path):
    parser = cli._parser()
    first = parser.parse_args(["--db", "sqlite:///a.db", "status", "--rules", "r"])
    second = parser.parse_args(["feeds", "list", "--feeds", "f.yaml", "--db", "sqlite:///b.db"])
    assert cli._environment(first, {"RADAR_DB": "sqlite:///env.db"}) == {
        "RADAR_DB": "sqlite:///a.db",
        "RADAR_RULES": "r",
    }
    assert cli._environment(second, {"RADAR_RULES": "x"}) == {
        "RADAR_RULES": "x",
        "RADAR_FEEDS": "f.yaml",
        "RADAR_DB": "sqlite:///b.db",
    }


def _parsers(parser: argparse.ArgumentParser):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                yield from _parsers(sub)


def test_every_command_has_a_description_and_an_example_and_every_variable_is_listed():
    parsers = list(_parsers(cli._parser()))
    assert len(parsers) >= 18
    for parser in parsers:
        text = parser.format_help()
        assert parser.description, parser.prog
        assert "example:\n  " in text and "radar " in text.split("example:")[-1], parser.prog
        assert "--db URL" in text and "-v, --verbose" in text, parser.prog
    top = cli._parser().format_help()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    example = (ROOT / "radar.env.example").read_text(encoding="utf-8")
    for variable in VARIABLES:
        assert variable in top
        assert re.search(rf"^\|[^|\n]*`{variable}`[^|\n]*\|", readme, re.M), variable
        assert re.search(rf"^#? ?{variable}=", example, re.M), variable


# radar status


def test_status_names_its_sources_and_fails_while_a_feed_fails(
    tmp_path, feed_server, monkeypatch, capsys
):
    env = _good_and_dead(tmp_path, feed_server)
    run_once(env)
    result = run_cli(["status"], env, monkeypatch, capsys)
    assert result.code == 1
    lines = result.out.splitlines()
    assert lines[0] == f"Database: sqlite:///{tmp_path / 'radar.db'}"
    assert lines[1] == f"Feeds file: {tmp_path / 'feeds.yaml'}"
    assert re.fullmatch(
        rf"Rules: {re.escape(str(tmp_path / 'rules'))} at (git|sha256):[0-9a-f]{{12}}; latest alert made by (git|sha256):[0-9a-f]{{12}}",
        lines[2],
    )
    assert "  [failing] Dead feed" in lines
    assert lines[-1] == "status: FAILING (1 feed failing)"
    as_json = run_cli(["status", "--json"], env, monkeypatch, capsys)
    payload = json.loads(as_json.out)
    assert as_json.code == 1 and payload["ok"] is False
    assert payload["sources"]["database"] == f"sqlite:///{tmp_path / 'radar.db'}"

    only_good = write_feeds(
        tmp_path / "good.yaml", [{"url": feed_server.url("/good.xml"), "name": "Good wire"}]
    )
    result = run_cli(["status", "--feeds", str(only_good)], env, monkeypatch, capsys)
    assert result.code == 0 and result.out.splitlines()[-1] == "status: ok"


def test_status_fails_while_a_delivery_has_failed(tmp_path, feed_server, monkeypatch, capsys):
    env = _good_and_dead(tmp_path, feed_server)
    env["RADAR_FEEDS"] = str(
        write_feeds(
            tmp_path / "good.yaml",
            [{"url": feed_server.url("/good.xml")}],
            defaults={"baseline": False},
        )
    )
    run_once(env)
    assert run_cli(["status"], env, monkeypatch, capsys).code == 0
    store = Store(env["RADAR_DB"])
    try:
        [story] = store.stories.recent(1)
        alert = store.alerts.create(
            story_id=story.id,
            item_id=story.first_item_id,
            kind=AlertKind.ALERT,
            rules=["chip-export"],
            matches={},
            destinations=[("slack:#nowhere", None)],
            now=time.time(),
        )
        [row] = [d for d in store.outbox.due(time.time()) if d.alert_id == alert]
        store.outbox.finish(
            row.id, status=DeliveryStatus.FAILED, now=time.time(), error="channel_not_found"
        )
    finally:
        store.close()
    result = run_cli(["status"], env, monkeypatch, capsys)
    assert result.code == 1
    assert "  FAILED slack:#nowhere" in result.out
    assert result.out.splitlines()[-1] == "status: FAILING (1 delivery failed)"


def test_status_of_a_database_that_does_not_exist_says_so(tmp_path, monkeypatch, capsys):
    feeds = write_feeds(tmp_path / "feeds.yaml", [{"url": "https://example.org/feed.xml"}])
    env = environment(tmp_path, write_rules(tmp_path / "rules"), feeds)
    missing = tmp_path / "elsewhere" / "radar.db"
    result = run_cli(["status", "--db", f"sqlite:///{missing}"], env, monkeypatch, capsys)
    assert result.code == 2
    assert f"no database at {missing}: nothing has run with it yet" in result.err
    assert not missing.exists() and not missing.parent.exists()


def _runnable_as(uid: int) -> list[str] | None:
    """A command line running this checkout's Radar as another user (root writes anywhere, so
    a permission check is seen only as someone else), or None where that user cannot."""
    packages = sysconfig.get_paths()["purelib"]
    env = {"PYTHONPATH": f"{ROOT}{os.pathsep}{packages}", "PATH": "/usr/bin:/bin"}
    for python in dict.fromkeys([sys.executable, "/usr/bin/python3", "/usr/local/bin/python3"]):
        try:
            probe = subprocess.run(
                [python, "-c", "import bot.cli, sqlalchemy, yaml"],
                env=env,
                user=uid,
                group=uid,
                extra_groups=[],
                cwd="/",
                capture_output=True,
            )
        except OSError:  # that user may not run this interpreter
            continue
        if probe.returncode == 0:
            return [python, "-m", "bot"]
    return None


def test_an_unwritable_state_directory_is_a_clear_configuration_error():
    nobody = 65534
    folder = Path(tempfile.mkdtemp(prefix="radar-state-"))
    try:
        folder.chmod(0o755)
        state = folder / "state"
        state.mkdir(mode=0o700)  # the image's state directory, mounted from a root-owned folder
        env = {
            "RADAR_DB": f"sqlite:///{state / 'radar.db'}",
            "RADAR_FEEDS": str(ROOT / "examples" / "feeds.yaml"),
            "RADAR_RULES": str(ROOT / "rules"),
            "PATH": "/usr/bin:/bin",
        }
        if os.getuid() == 0:
            command = _runnable_as(nobody)
            if command is None:
                pytest.skip("no Python that another user may run sees this checkout's packages")
            env["PYTHONPATH"] = f"{ROOT}{os.pathsep}{sysconfig.get_paths()['purelib']}"
            who = {"user": nobody, "group": nobody, "extra_groups": []}
        else:
            state.chmod(0o500)
            command, who = [sys.executable, "-m", "bot"], {}
        result = subprocess.run(
            [*command, "run", "--once"], env=env, cwd=folder, capture_output=True, text=True, **who
        )
        assert result.returncode == 2, result.stderr
        uid = nobody if who else os.getuid()
        assert result.stderr == (
            "radar: configuration error:\n"
            f"RADAR_DB: {state} is not writable by this user (uid {uid}), so the database "
            f"{state / 'radar.db'} cannot be written: give it to that user (chown -R {uid} "
            f"{state}) or mount a writable volume there\n"
        )
        assert not (state / "radar.db").exists()
    finally:
        shutil.rmtree(folder)


# radar run --feed, --dry-run


def test_run_feed_polls_only_the_named_feed(tmp_path, feed_server, monkeypatch, capsys):
    good = feed_server.set("/good.xml", static(rss(distinct_items(2))))
    other = feed_server.set("/other.xml", static(rss(distinct_items(1, feed=3))))
    feeds = write_feeds(
        tmp_path / "feeds.yaml",
        [
            {"url": good, "name": "Good wire"},
            {"url": "http://127.0.0.1:9/dead.xml", "name": "Dead feed"},
            {"url": other, "name": "Other"},
        ],
        defaults={"baseline": False},
    )
    env = environment(tmp_path, write_rules(tmp_path / "rules"), feeds)
    result = run_cli(["run", "--once", "--json", "--feed", "good wire"], env, monkeypatch, capsys)
    assert result.code == 0, result.err
    assert len(result.out.splitlines()) == 2
    assert "polled 1 feed" in result.err
    assert feed_server.hits("/other.xml") == [] and len(feed_server.hits("/good.xml")) == 1

    unknown = run_cli(["run", "--once", "--feed", "Nope"], env, monkeypatch, capsys)
    assert unknown.code == 2
    assert "--feed 'Nope': no feed of that name or URL" in unknown.err
    assert "'Good wire', 'Dead feed', 'Other'" in unknown.err


def test_dry_run_prints_to_the_console_only_and_stores_nothing(
    tmp_path, feed_server, monkeypatch, capsys
):
    slack = FakeSlack().start()
    slack.add_channel("#export-controls")
    try:
        url = feed_server.set("/wire.xml", static(rss(distinct_items(3))))
        feeds = write_feeds(tmp_path / "feeds.yaml", [{"url": url, "name": "Wire"}])
        env = environment(
            tmp_path,
            write_rules(tmp_path / "rules"),
            feeds,
            SLACK_BOT_TOKEN=slack.token,
            SLACK_API_URL=slack.api_url,
        )
        result = run_cli(["run", "--dry-run", "--once", "--json"], env, monkeypatch, capsys)
        assert result.code == 0, result.err
        printed = [json.loads(line) for line in result.out.splitlines()]
        # A first poll alerts in a dry run (no baseline): it shows what the rules catch.
        assert len(printed) == 3 and {p["kind"] for p in printed} == {"alert"}
        assert "dry run of 1 feed" in result.err and "nothing is stored or sent" in result.err
        assert slack.posted == []
        assert not (tmp_path / "radar.db").exists()
    finally:
        slack.stop()


# radar feeds list / test


def test_feeds_list_shows_name_url_interval_health_and_last_new_item(
    tmp_path, feed_server, monkeypatch, capsys
):
    env = _good_and_dead(tmp_path, feed_server)
    before = run_cli(["feeds", "list"], env, monkeypatch, capsys)
    assert before.code == 0 and "every feed shows as new" in before.err
    assert before.out.count("new      ") == 2
    assert not (tmp_path / "radar.db").exists()

    run_once(env)
    result = run_cli(["feeds", "list"], env, monkeypatch, capsys)
    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[0] == f"2 feeds in {tmp_path / 'feeds.yaml'}"
    assert lines[1] == "ok       Good wire (every 10m) [primary]"
    assert lines[2].strip() == feed_server.url("/good.xml")
    assert re.fullmatch(r"\s+last new item \d+s ago: Tokyo adds export controls .*", lines[3])
    assert "failing  Dead feed (every 10m)" in lines
    entries = json.loads(run_cli(["feeds", "list", "--json"], env, monkeypatch, capsys).out)
    [good, dead] = entries["feeds"]
    assert good["health"] == "ok" and good["last_item"]["title"].startswith("Tokyo adds")
    assert dead["health"] == "failing" and "cannot connect" in dead["last_error"]


def test_feeds_test_fetches_parses_and_matches_without_storing(
    tmp_path, feed_server, monkeypatch, capsys
):
    items = [
        {"title": EXPORT, "link": "https://news.example.com/a", "pubDate": now_rfc822(-60)},
        {"title": "Snack maker recalls potato chips", "link": "https://news.example.com/b"},
    ]
    url = feed_server.set("/try.xml", static(rss(items, title="Trial wire")))
    feeds = write_feeds(tmp_path / "feeds.yaml", [{"url": "https://example.org/feed.xml"}])
    env = environment(tmp_path, write_rules(tmp_path / "rules"), feeds)
    result = run_cli(["feeds", "test", url], env, monkeypatch, capsys)
    assert result.code == 0, result.err
    out = result.out
    assert out.startswith(f"Trial wire — {url}: HTTP 200, 2 items, ")
    assert f"[chip-export] {EXPORT}" in out
    assert "    chip-export: 'export controls', 'chipmaking'" in out
    assert "[-] Snack maker recalls potato chips" in out
    assert out.splitlines()[-1].startswith("1 of 2 items match a rule of ")
    assert "(nothing was stored)" in out
    assert not (tmp_path / "radar.db").exists()

    only = run_cli(["feeds", "test", url, "--matching"], env, monkeypatch, capsys)
    assert "potato" not in only.out

    failing = run_cli(["feeds", "test", feed_server.url("/missing.xml")], env, monkeypatch, capsys)
    assert failing.code == 1 and "HTTP 404" in failing.err


# radar feeds import / export


COMMENTED = """\
# Our feeds: keep this comment.
defaults: {interval: 10m, max_age: 3d}   # and this one
feeds:
  # Government
  - url: https://www.federalregister.gov/documents.rss
    name: Federal Register
    tags: [primary]   # primary sources
# Ask ops before adding a feed here.
"""


def test_opml_round_trip_keeps_the_feeds_files_comments(tmp_path, feed_server, monkeypatch, capsys):
    rules = write_rules(tmp_path / "rules")
    source = write_feeds(
        tmp_path / "source.yaml",
        [
            {"url": "https://news.example.com/rss?a=1&b=2", "name": 'Wire & "Co" <x>'},
            {
                "url": "https://asia.example.com/feed",
                "name": "Asia: wire",
                "tags": ["asia", "outlet"],
            },
            {"url": "https://www.federalregister.gov/documents.rss", "name": "Federal Register"},
            {"url": "examples/feeds/wire.xml", "name": "Local sample"},
        ],
    )
    env = environment(tmp_path, rules, source)
    opml = tmp_path / "feeds.opml"
    exported = run_cli(["feeds", "export", "-o", str(opml)], env, monkeypatch, capsys)
    assert exported.code == 0 and "1 local file feed left out" in exported.err

    target = tmp_path / "ours.yaml"
    target.write_text(COMMENTED, encoding="utf-8")
    env["RADAR_FEEDS"] = str(target)
    dry = run_cli(["feeds", "import", str(opml), "--dry-run"], env, monkeypatch, capsys)
    assert dry.code == 0 and "2 feeds to add to" in dry.out
    assert target.read_text(encoding="utf-8") == COMMENTED

    imported = run_cli(["feeds", "import", str(opml)], env, monkeypatch, capsys)
    assert imported.code == 0, imported.err
    assert imported.out.splitlines()[-1] == f"2 feeds added to {target}; 1 already there"
    text = target.read_text(encoding="utf-8")
    assert text.startswith(COMMENTED.split("# Ask ops")[0])
    assert text.endswith("# Ask ops before adding a feed here.\n")
    for comment in (
        "# Our feeds: keep this comment.",
        "# and this one",
        "# Government",
        "# primary sources",
    ):
        assert comment in text
    loaded = load_feeds(target).feeds
    assert [(s.url, s.name, s.tags) for s in loaded] == [
        ("https://www.federalregister.gov/documents.rss", "Federal Register", ("primary",)),
        ("https://news.example.com/rss?a=1&b=2", 'Wire & "Co" <x>', ()),
        ("https://asia.example.com/feed", "Asia: wire", ("asia", "outlet")),
    ]
    assert yaml.safe_load(text)["defaults"] == {"interval": "10m", "max_age": "3d"}

    again = run_cli(["feeds", "import", str(opml)], env, monkeypatch, capsys)
    assert again.out.splitlines()[-1] == f"0 feeds added to {target}; 3 already there"
    assert target.read_text(encoding="utf-8") == text


def test_opml_import_refuses_entities_and_names_bad_xml(tmp_path, monkeypatch, capsys):
    feeds = write_feeds(tmp_path / "feeds.yaml", [{"url": "https://example.org/feed.xml"}])
    env = environment(tmp_path, write_rules(tmp_path / "rules"), feeds)
    bomb = tmp_path / "bomb.opml"
    bomb.write_text(
        '<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><opml><body>'
        '<outline text="&b;" xmlUrl="https://x.example/feed"/></body></opml>'
    )
    result = run_cli(["feeds", "import", str(bomb)], env, monkeypatch, capsys)
    assert result.code == 2 and "a DTD or entities is refused" in result.err
    broken = tmp_path / "broken.opml"
    broken.write_text("<opml><body><outline")
    result = run_cli(["feeds", "import", str(broken)], env, monkeypatch, capsys)
    assert result.code == 2 and f"{broken}:1: not valid XML" in result.err
    assert (tmp_path / "feeds.yaml").read_text().count("url:") == 1


def test_opml_folders_and_categories_become_tags(tmp_path, monkeypatch, capsys):
    feeds = tmp_path / "feeds.yaml"
    env = environment(tmp_path, write_rules(tmp_path / "rules"), feeds)
    opml = tmp_path / "reader.opml"
    opml.write_text(
        '<?xml version="1.0"?><opml version="1.0"><head><title>Reader</title></head><body>'
        '<outline text="Policy"><outline text="BIS" type="rss" xmlUrl="https://bis.example/rss"'
        ' category="/us/primary"/></outline>'
        '<outline title="Loose" xmlUrl="https://loose.example/atom"/>'
        '<outline title="Relative" xmlUrl="feeds/local.xml"/>'
        '<outline text="Not a feed" htmlUrl="https://site.example/"/></body></opml>'
    )
    result = run_cli(["feeds", "import", str(opml)], env, monkeypatch, capsys)
    assert result.code == 0, result.err
    assert "skipping 'feeds/local.xml': not a web feed" in result.err
    assert [(s.url, s.name, s.tags) for s in load_feeds(feeds).feeds] == [
        ("https://bis.example/rss", "BIS", ("primary", "Policy")),
        ("https://loose.example/atom", "Loose", ()),
    ]


# Logs


def test_json_logs_are_one_redacted_object_per_line(tmp_path, feed_server, monkeypatch, capsys):
    good = feed_server.set("/good.xml", static(rss(distinct_items(1))))
    feeds = write_feeds(
        tmp_path / "feeds.yaml",
        [
            {"url": good, "name": "Good wire"},
            {"url": "http://reader:hunter2secret@127.0.0.1:9/dead.xml", "name": "Dead feed"},
        ],
        defaults={"baseline": False},
    )
    env = environment(tmp_path, write_rules(tmp_path / "rules"), feeds, RADAR_LOG_FORMAT="json")
    result = run_cli(["run", "--once", "--json"], env, monkeypatch, capsys)
    assert result.code == 0
    records = [json.loads(line) for line in result.err.splitlines()]
    assert records, "the run logged something"
    for record in records:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d", record["time"])
        assert {"level", "logger", "message"} <= set(record)
    [dead] = [r for r in records if r.get("feed") == "Dead feed"]
    assert dead["level"] == "WARNING" and dead["message"].startswith(
        "feed Dead feed: cannot connect"
    )
    assert dead["feed_url"] == "http://***@127.0.0.1:9/dead.xml"
    assert "hunter2secret" not in result.err
    assert any(r["message"].startswith("radar: polled 2 feeds") for r in records)


def test_text_logs_carry_the_date_and_the_time_zone(tmp_path, feed_server, monkeypatch, capsys):
    env = _good_and_dead(tmp_path, feed_server)
    result = run_cli(["run", "--once", "--json"], env, monkeypatch, capsys)
    [line] = [x for x in result.err.splitlines() if "WARNING" in x]
    assert re.match(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d WARNING bot\.app: feed Dead feed: ",
        line,
    ), line
