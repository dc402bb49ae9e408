"""Hot reload while `radar run` runs as a process: a valid change is swapped in (a new rule
and a new feed, scheduled at once), an invalid one refused with one line naming file and line
while the running rules go on, and SIGHUP checks at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from feedserver import now_rfc822, rss
from helpers import ROOT, distinct_items, environment, write_feeds, write_rules

from bot.rules.version import rules_version
from bot.storage import Store

DEADLINE = 60.0
TRAVEL_RULE = {
    "id": "travel-watch",
    "title": "Travel watch",
    "match": {"all": [{"any": ["travel*"]}, {"any": ["ban*", "restrict*"]}]},
}


def _start(env: dict[str, str], tmp: Path) -> subprocess.Popen:
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("RADAR_", "SLACK_", "TELEGRAM_"))
    }
    clean.update(env)
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        env=clean,
        cwd=ROOT,
        stdout=(tmp / "out.txt").open("wb"),
        stderr=(tmp / "radar.log").open("wb"),
    )


def _wait(tmp: Path, name: str, text: str, *, count: int = 1) -> str:
    """Wait until `text` appears `count` times in the file; its content."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        content = (tmp / name).read_text(encoding="utf-8", errors="replace")
        if content.count(text) >= count:
            return content
        time.sleep(0.05)
    raise AssertionError(f"no {text!r} in {name} after {DEADLINE:g}s:\n{content}")


def _write(path: Path, text: str) -> None:
    """Replace a file at once, as an editor saving it or a git checkout does."""
    part = path.with_suffix(".part")
    part.write_text(text, encoding="utf-8")
    part.replace(path)


def _feed(path: Path, title: str) -> str:
    item = {"title": title, "link": f"https://news.example/{path.stem}", "pubDate": now_rfc822(-60)}
    path.write_bytes(rss([item], title=path.stem))
    return str(path)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.mark.slow
def test_valid_change_is_swapped_in_and_invalid_one_refused(tmp_path):
    rules = write_rules(tmp_path / "rules")
    first = tmp_path / "one.xml"
    first.write_bytes(rss(distinct_items(1)))
    feeds_file = tmp_path / "feeds.yaml"
    one = {"url": str(first), "baseline": False, "interval": "1h"}
    write_feeds(feeds_file, [one])
    env = environment(tmp_path, rules, feeds_file, RADAR_RELOAD_INTERVAL="0.2")
    version_one = rules_version(rules)
    process = _start(env, tmp_path)
    try:
        _wait(tmp_path, "out.txt", "Chip export controls")

        # A valid change: a new rule, and a new feed whose item it matches.
        two = {
            "url": _feed(tmp_path / "two.xml", "Beijing restricts travel abroad by 300 AI experts")
        }
        _write(rules / "travel-watch.yaml", yaml.safe_dump(TRAVEL_RULE, sort_keys=False))
        _write(feeds_file, yaml.safe_dump({"feeds": [one, {**two, "baseline": False}]}))
        _wait(tmp_path, "out.txt", "Travel watch")
        log = _wait(tmp_path, "radar.log", f"feed {two['url']} added")
        assert "rules reloaded: sha256:" in log
        version_two = rules_version(rules)

        # An invalid change: refused, naming file and line; the running rules go on.
        broken = {"id": "travel-watch", "title": "Travel watch", "severity": "urgent"}
        broken["match"] = TRAVEL_RULE["match"]  # severity on line 3
        _write(rules / "travel-watch.yaml", yaml.safe_dump(broken, sort_keys=False))
        three = {"url": _feed(tmp_path / "three.xml", "Seoul bans travel by 45 chip engineers")}
        _write(feeds_file, yaml.safe_dump({"feeds": [one, two, {**three, "baseline": False}]}))
        log = _wait(tmp_path, "radar.log", "rules change refused")
        [line] = [ln for ln in log.splitlines() if "rules change refused" in ln]
        assert f"still running rules {version_two}" in line
        assert f"{rules / 'travel-watch.yaml'}:3: severity: Input should be" in line
        assert process.poll() is None, "a refused change does not stop radar"
        assert f"feed {three['url']} added" not in log

        # Fixed, and checked at once on SIGHUP: the waiting feed is scheduled and alerts.
        _write(rules / "travel-watch.yaml", yaml.safe_dump(TRAVEL_RULE, sort_keys=False))
        process.send_signal(signal.SIGHUP)
        _wait(tmp_path, "out.txt", "Travel watch", count=2)
        _wait(tmp_path, "radar.log", f"feed {three['url']} added")
    finally:
        _stop(process)
    log = (tmp_path / "radar.log").read_text(encoding="utf-8")
    assert process.returncode == 0, log
    assert "Traceback" not in log
    store = Store(env["RADAR_DB"])
    try:
        made = {
            store.items.get(a.item_id).item.link: a.rules_version for a in store.alerts.iterate()
        }
    finally:
        store.close()
    assert made == {
        "https://news.example.com/0/0": version_one,
        "https://news.example/two": version_two,
        "https://news.example/three": version_two,
    }


@pytest.mark.slow
def test_sighup_reloads_when_polling_is_off_and_says_when_nothing_changed(tmp_path):
    rules = write_rules(tmp_path / "rules")
    feeds_file = write_feeds(tmp_path / "feeds.yaml", [{"url": _feed(tmp_path / "a.xml", "x")}])
    env = environment(tmp_path, rules, feeds_file, RADAR_RELOAD_INTERVAL="0")
    process = _start(env, tmp_path)
    try:
        _wait(tmp_path, "radar.log", "radar running")
        process.send_signal(signal.SIGHUP)
        _wait(tmp_path, "radar.log", f"SIGHUP: rules {rules_version(rules)} unchanged")
        _write(rules / "travel-watch.yaml", yaml.safe_dump(TRAVEL_RULE, sort_keys=False))
        process.send_signal(signal.SIGHUP)
        log = _wait(tmp_path, "radar.log", "rules reloaded")
        assert f"rules reloaded: {rules_version(rules)}" in log and ", 2 rules, 1 feeds" in log
    finally:
        _stop(process)
    assert process.returncode == 0
