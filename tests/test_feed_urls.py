"""Impossible feed URLs: `rules check` fails naming file and line; `run` skips those feeds with
one error line each and polls the others."""

from __future__ import annotations

import json

from feedserver import now_rfc822, rss, static
from helpers import environment, in_process, write_rules

from bot.feeds import load_feeds

GOOD_TITLE = "Japan tightens export controls on chipmaking tools"
BAD_URLS = {
    "https://localhost:99999/feed": "its port must be a number from 0 to 65535",
    "https://": "it has no host",
    "http://exa mple.com/feed": "it contains spaces or control characters",
    "ftp://example.com/feed.xml": "unsupported scheme 'ftp'",
    "http:/example.com/feed": "it has no host",
}


def _feeds_file(tmp_path, good_url: str):
    """A feeds file with the bad URLs first (lines 3, 4, …) and the good feed last."""
    lines = ["defaults: {baseline: false}", "feeds:"]
    lines += [f"  - url: {json.dumps(url)}" for url in BAD_URLS]
    lines += [f"  - url: {good_url}", "    name: Good wire"]
    path = tmp_path / "feeds.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _good_feed(feed_server) -> str:
    item = {
        "title": GOOD_TITLE,
        "link": "https://news.example.com/good",
        "guid": "https://news.example.com/good",
        "pubDate": now_rfc822(-600),
    }
    return feed_server.set("/good.xml", static(rss([item])))


def test_load_feeds_keeps_the_good_feeds_and_reports_each_bad_one_with_its_line(
    tmp_path, feed_server
):
    path = _feeds_file(tmp_path, _good_feed(feed_server))
    loaded = load_feeds(path)
    assert [f.url for f in loaded.feeds] == [feed_server.url("/good.xml")]
    assert [(p.line, p.severity) for p in loaded.problems] == [
        (3 + n, "error") for n in range(len(BAD_URLS))
    ]
    for problem, (url, why) in zip(loaded.problems, BAD_URLS.items(), strict=True):
        assert problem.path == path
        assert f"invalid feed URL {url!r}: {why}" in problem.message


def test_rules_check_fails_on_an_impossible_feed_url(tmp_path, feed_server):
    feeds = _feeds_file(tmp_path, _good_feed(feed_server))
    result = in_process(
        ["rules", "check"], environment(tmp_path, write_rules(tmp_path / "rules"), feeds)
    )
    assert result.returncode != 0
    assert f"{feeds}:3: invalid feed URL 'https://localhost:99999/feed'" in result.stdout
    assert f"{feeds}:5: invalid feed URL 'http://exa mple.com/feed'" in result.stdout
    assert f"{len(BAD_URLS)} errors found" in result.stdout


def test_run_once_skips_impossible_feed_urls_and_delivers_the_good_feed(tmp_path, feed_server):
    feeds = _feeds_file(tmp_path, _good_feed(feed_server))
    env = environment(tmp_path, write_rules(tmp_path / "rules"), feeds)
    result = in_process(["run", "--once", "--json"], env)
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["title"] for line in result.stdout.splitlines()] == [GOOD_TITLE]
    assert "Traceback" not in result.stderr
    for n, url in enumerate(BAD_URLS):
        [line] = [line for line in result.stderr.splitlines() if repr(url) in line]
        assert line.startswith(f"{feeds}:{3 + n}: invalid feed URL {url!r}")
        assert line.endswith("radar run skips it")
    assert "polled 1 feed" in result.stderr


def test_a_scheme_in_capitals_is_a_web_feed(tmp_path, feed_server):
    url = _good_feed(feed_server)
    path = tmp_path / "feeds.yaml"
    path.write_text(f"feeds:\n  - url: {url.replace('http://', 'HTTP://')}\n", encoding="utf-8")
    [spec] = load_feeds(path).feeds
    assert spec.url == url and not spec.is_local
