"""Polling against a misbehaving local server: each misbehaviour gets the right response, the
other feeds are unaffected, and nothing is lost."""

from __future__ import annotations

import asyncio
import gzip
import time
from email.utils import formatdate

import pytest
from feedserver import (
    FeedServer,
    endless,
    now_rfc822,
    redirect,
    reply,
    rss,
    sequence,
    slowloris,
    static,
)
from helpers import environment, in_process, run_once, stored, write_feeds, write_rules

from bot.fetch import Fetcher
from bot.models import FetchLimits
from bot.storage import Store

GOOD_TITLE = "Japan tightens export controls on chipmaking tools"


def _item(title: str, slug: str, age: float = 600) -> dict:
    return {
        "title": title,
        "link": f"https://news.example.com/{slug}",
        "guid": f"https://news.example.com/{slug}",
        "pubDate": now_rfc822(-age),
        "description": title,
    }


def _farm(tmp_path, feed_server, routes: dict, **env_extra):
    """A good feed plus the given (misbehaving) routes, all with baseline off."""
    good = feed_server.set("/good.xml", static(rss([_item(GOOD_TITLE, "good")])))
    urls = [{"url": feed_server.set(path, route)} for path, route in routes.items()]
    feeds = write_feeds(
        tmp_path / "feeds.yaml", [*urls, {"url": good}], defaults={"baseline": False}
    )
    env = environment(tmp_path, write_rules(tmp_path / "rules"), feeds, **env_extra)
    return env


def _state(env, url):
    store = Store(env["RADAR_DB"])
    try:
        return store.feeds.state(url)
    finally:
        store.close()


def _poll(report, path):
    return next(p for p in report.polls if p.url.endswith(path))


def _good_alerted(printed) -> bool:
    return any(p["title"] == GOOD_TITLE for p in printed)


def test_slowloris_times_out_without_stalling_the_others(tmp_path, feed_server):
    env = _farm(tmp_path, feed_server, {"/slow.xml": slowloris(0.3)}, RADAR_FETCH_TIMEOUT="2")
    started = time.monotonic()
    report, printed = run_once(env)
    assert time.monotonic() - started < 10
    assert "timed out" in _poll(report, "/slow.xml").error
    assert _good_alerted(printed)


@pytest.mark.parametrize("declared", [None, 100 * 1024 * 1024])
def test_endless_and_huge_bodies_are_cut_at_the_size_limit(tmp_path, feed_server, declared):
    env = _farm(tmp_path, feed_server, {"/huge.xml": endless(declared=declared)})
    report, printed = run_once(env)
    error = _poll(report, "/huge.xml").error
    assert "larger than the 10 MB limit" in error
    assert ("declares 104,857,600 bytes" in error) if declared else ("body kept coming" in error)
    assert _good_alerted(printed)


def test_an_html_page_instead_of_a_feed_is_reported(tmp_path, feed_server):
    page = b"<!DOCTYPE html><html><head><title>Login</title></head><body><p>Please log in</p></body></html>"
    env = _farm(tmp_path, feed_server, {"/page.xml": static(page, content_type="text/html")})
    report, printed = run_once(env)
    assert _poll(report, "/page.xml").error == "an HTML page, not a feed"
    assert _good_alerted(printed)
    status = in_process(["status"], env)
    assert "[failing]" in status.stdout and "an HTML page, not a feed" in status.stdout


def test_malformed_xml_keeps_what_can_be_read(tmp_path, feed_server):
    body = rss([_item("New export controls on gallium chips", "broken")]).replace(
        b"</channel></rss>", b"<item><title>Cut"
    )
    env = _farm(
        tmp_path,
        feed_server,
        {"/broken.xml": static(body), "/garbage.xml": static(b"\x00\x01 not xml at all {")},
    )
    report, printed = run_once(env)
    titles = {p["title"] for p in printed}
    assert "New export controls on gallium chips" in titles, "the complete item is not lost"
    assert _poll(report, "/garbage.xml").error
    assert _good_alerted(printed)


def test_an_xml_entity_bomb_neither_hangs_nor_explodes(tmp_path, feed_server):
    bomb = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]>
<rss version="2.0"><channel><title>&lol9;</title><item><title>&lol9; export controls chips</title><link>https://x.example/1</link></item></channel></rss>"""
    env = _farm(tmp_path, feed_server, {"/bomb.xml": static(bomb)})
    started = time.monotonic()
    _, printed = run_once(env)
    assert time.monotonic() - started < 20
    assert all(len(p["title"]) <= 500 for p in printed)
    assert _good_alerted(printed)


def test_a_redirect_loop_is_an_error(tmp_path, feed_server):
    feed_server.set("/loop-b.xml", redirect(feed_server.url("/loop-a.xml"), 302))
    env = _farm(
        tmp_path, feed_server, {"/loop-a.xml": redirect(feed_server.url("/loop-b.xml"), 302)}
    )
    report, printed = run_once(env)
    assert "too many redirects" in _poll(report, "/loop-a.xml").error
    assert _good_alerted(printed)


def test_500_then_recovery_backs_off_and_loses_nothing(tmp_path, feed_server, clock):
    body = rss([_item("Entity List adds 12 chip firms", "e")])
    env = _farm(tmp_path, feed_server, {"/flaky.xml": sequence(reply(500, b"oops"), static(body))})
    url = feed_server.url("/flaky.xml")
    report, printed = run_once(env)
    assert _poll(report, "/flaky.xml").error == "HTTP 500 Internal Server Error"
    state = _state(env, url)
    assert (
        state.failures == 1 and state.next_due > time.time() + 400
    )  # 10 min interval, doubled, ±10%

    report, printed = run_once(env)
    assert not any(p.url == url for p in report.polls), "backing off: not polled before it is due"
    clock.advance(3600)
    report, printed = run_once(env, clock=clock)
    assert [p["title"] for p in printed] == ["Entity List adds 12 chip firms"]
    assert _state(env, url).failures == 0


@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_429_retry_after_is_obeyed_in_both_forms(tmp_path, feed_server, form):
    value = "7200" if form == "seconds" else formatdate(time.time() + 7200, usegmt=True)
    env = _farm(
        tmp_path, feed_server, {"/busy.xml": reply(429, b"slow down", {"Retry-After": value})}
    )
    _report, printed = run_once(env)
    state = _state(env, feed_server.url("/busy.xml"))
    assert state.last_status == 429
    assert 7100 < state.next_due - time.time() < 7300
    assert _good_alerted(printed)


@pytest.mark.parametrize(
    ("validators", "header"),
    [
        ({"etag": '"v1"'}, "if-none-match"),
        ({"last_modified": "Wed, 21 Oct 2026 07:28:00 GMT"}, "if-modified-since"),
    ],
)
def test_conditional_get_with_one_validator(tmp_path, feed_server, validators, header):
    env = _farm(
        tmp_path,
        feed_server,
        {"/cond.xml": static(rss([_item("New chip export controls", "c")]), **validators)},
    )
    run_once(env)
    report, printed = run_once(env)
    second = feed_server.hits("/cond.xml")[-1]
    assert second.headers[header] == next(iter(validators.values()))
    assert _poll(report, "/cond.xml").status == "not modified"
    state = _state(env, feed_server.url("/cond.xml"))
    assert (state.etag, state.last_modified) == (
        validators.get("etag"),
        validators.get("last_modified"),
    )
    assert printed == []


def test_a_304_leaves_its_connection_open_for_the_next_request(feed_server):
    for path in ("/a.xml", "/b.xml"):
        feed_server.set(path, static(rss([_item("Chip news", path)]), etag='"v1"'))

    async def polls() -> list[int | None]:
        async with Fetcher(FetchLimits(concurrency=1, per_host=1)) as fetcher:
            first = await fetcher.fetch(feed_server.url("/a.xml"))
            statuses = [first.status]
            for path in ("/a.xml", "/b.xml", "/a.xml"):
                statuses.append((await fetcher.fetch(feed_server.url(path), etag='"v1"')).status)
            return statuses

    assert asyncio.run(polls()) == [200, 304, 304, 304]
    ports = {r.port for r in feed_server.requests}
    assert len(feed_server.requests) == 4
    assert len(ports) == 1, "each 304 must hand its connection back to the pool, not close it"


@pytest.mark.parametrize("body", [b"", b"<rss>a body a 304 should not have</rss>"])
def test_a_304_with_a_body_does_not_break_the_next_request(feed_server, body):
    feed_server.set("/a.xml", reply(304, body, {"ETag": '"v1"'}))
    feed_server.set("/b.xml", static(rss([_item("Chip news", "b")])))

    async def polls() -> list[int | None]:
        async with Fetcher(FetchLimits(concurrency=1, per_host=1)) as fetcher:
            first = await fetcher.fetch(feed_server.url("/a.xml"), etag='"v1"')
            second = await fetcher.fetch(feed_server.url("/b.xml"))
            return [first.status, second.status]

    assert asyncio.run(polls()) == [304, 200]


def test_recent_hosts_keep_their_connections_and_older_ones_are_closed(feed_server):
    servers = [feed_server, FeedServer().start(), FeedServer().start()]
    try:
        urls = [s.set("/f.xml", static(rss([_item("Chip news", "f")]))) for s in servers]

        async def polls() -> None:
            async with Fetcher(FetchLimits(concurrency=2, per_host=1)) as fetcher:
                for url in [*urls, urls[2], urls[0]]:  # A B C, then C again, then A again
                    assert (await fetcher.fetch(url)).status == 200

        asyncio.run(polls())
        a, b, c = ([r.port for r in s.requests] for s in servers)
    finally:
        for server in servers[1:]:
            server.stop()
    assert len(b) == 1
    assert c[0] == c[1], "the most recent host's connection is kept alive"
    assert a[0] != a[1], "with two hosts' pools kept, the oldest was closed"


def test_many_more_hosts_than_requests_at_once_all_answer(feed_server):
    servers = [feed_server, *(FeedServer().start() for _ in range(11))]
    try:
        urls = [s.set("/f.xml", static(rss([_item("Chip news", "f")]))) for s in servers]

        async def rounds() -> list[int | None]:
            async with Fetcher(FetchLimits(concurrency=4, per_host=2)) as fetcher:
                results = []
                for _ in range(3):  # old pools are closed while other fetches run
                    results += await asyncio.gather(*(fetcher.fetch(u) for u in urls))
                return [r.status for r in results]

        assert asyncio.run(rounds()) == [200] * 36
    finally:
        for server in servers[1:]:
            server.stop()


def test_no_validators_skips_parsing_an_unchanged_body(tmp_path, feed_server):
    env = _farm(
        tmp_path, feed_server, {"/plain.xml": static(rss([_item("New chip export controls", "p")]))}
    )
    run_once(env)
    report, _ = run_once(env)
    assert _poll(report, "/plain.xml").status == "unchanged body"
    assert "if-none-match" not in feed_server.hits("/plain.xml")[-1].headers


def test_gzip_is_requested_and_decoded(tmp_path, feed_server):
    body = rss([_item(f"Chip export controls, part {n}", f"g{n}") for n in range(30)])
    env = _farm(tmp_path, feed_server, {"/gz.xml": static(body, gzip_body=True)})
    _report, printed = run_once(env)
    assert "gzip" in feed_server.hits("/gz.xml")[0].headers["accept-encoding"]
    assert len(printed) >= 30
    assert len(gzip.compress(body)) < len(body)


@pytest.mark.parametrize(
    ("encoding", "title"),
    [
        ("gb2312", "美国将长江存储列入实体清单 芯片出口管制"),
        ("big5", "美國將長江存儲列入實體清單 晶片出口管制"),
        ("shift_jis", "米国、半導体の輸出規制を強化"),
        ("windows-1252", "Pékin: contrôles à l'exportation des puces – “nouvelles” restrictions"),
    ],
)
def test_odd_encodings_and_a_wrong_declared_charset(tmp_path, feed_server, encoding, title):
    body = rss([_item(title, "enc")], encoding=encoding)
    route = static(body, content_type="application/rss+xml; charset=utf-8")  # the header lies
    env = _farm(tmp_path, feed_server, {"/enc.xml": route})
    write_rules(
        tmp_path / "rules",
        rules=[
            {"id": "any-news", "match": {"any": ["实体清单", "實體清單", "輸出規制", "contrôles"]}}
        ],
    )
    _, printed = run_once(env)
    expected = title.replace("“", '"').replace("”", '"').replace("–", "-")
    assert [p["title"] for p in printed if p["title"] != GOOD_TITLE] == [expected]


def test_byte_order_marks_are_ignored(tmp_path, feed_server):
    body = "\ufeff".encode() + rss([_item("New chip export controls", "bom")])
    env = _farm(tmp_path, feed_server, {"/bom.xml": static(body)})
    _, printed = run_once(env)
    assert "New chip export controls" in {p["title"] for p in printed}


def test_permanent_redirect_is_followed_remembered_and_shown(tmp_path, feed_server):
    feed_server.set("/new.xml", static(rss([_item("New chip export controls", "moved")])))
    env = _farm(tmp_path, feed_server, {"/old.xml": redirect(feed_server.url("/new.xml"), 301)})
    _, printed = run_once(env)
    assert "New chip export controls" in {p["title"] for p in printed}
    old = feed_server.url("/old.xml")
    assert _state(env, old).moved_to == feed_server.url("/new.xml")
    status = in_process(["status"], env)
    assert f"moved permanently to {feed_server.url('/new.xml')}" in status.stdout
    before = len(feed_server.hits("/old.xml"))
    run_once(env)
    assert len(feed_server.hits("/old.xml")) == before, "the next poll goes straight to the new URL"


def test_410_gone_stops_polling(tmp_path, feed_server):
    env = _farm(tmp_path, feed_server, {"/gone.xml": reply(410, b"gone")})
    _report, printed = run_once(env)
    assert _state(env, feed_server.url("/gone.xml")).gone
    run_once(env)
    assert len(feed_server.hits("/gone.xml")) == 1
    assert "[gone]" in in_process(["status"], env).stdout
    assert _good_alerted(printed)


def test_cache_control_stretches_the_interval(tmp_path, feed_server):
    route = static(
        rss([_item("New chip export controls", "cc")]),
        headers={"Cache-Control": "public, max-age=3600"},
    )
    env = _farm(tmp_path, feed_server, {"/cached.xml": route})
    run_once(env)
    state = _state(env, feed_server.url("/cached.xml"))
    assert 3000 < state.next_due - time.time() < 4000  # 10 min interval stretched to the hour


def test_status_shows_validators_and_http_status(tmp_path, feed_server):
    env = _farm(tmp_path, feed_server, {"/cond.xml": static(rss([_item("x", "x")]), etag='"abc"')})
    run_once(env)
    out = in_process(["status"], env).stdout
    assert "validators: etag" in out
    assert "(HTTP 200)" in out
    states = stored(env["RADAR_DB"], lambda store: store.feeds.states())
    assert [s.etag for url, s in states.items() if url.endswith("cond.xml")] == ['"abc"']
