"""Item normalisation (parse) and the pure polling decisions (decide)."""

from __future__ import annotations

import itertools
import random
from dataclasses import replace
from email.utils import formatdate

import pytest

from bot import decide
from bot.decide import Verdict
from bot.errors import FeedParseError
from bot.models import FeedSpec, FeedState, FetchResult, Item
from bot.parse import parse_feed

NOW = 1_800_000_000.0
RNG = random.Random(7)


def _parse(xml: str, url: str = "https://example.com/feeds/news.xml") -> list[Item]:
    return list(parse_feed(xml.encode(), feed_url=url, base_url=url).items)


def test_relative_links_missing_guids_and_html_titles():
    items = _parse(
        """<rss version="2.0"><channel><title>T</title>
        <item><title>&lt;b&gt;Export&lt;/b&gt; controls &amp;amp; chips</title><link>/2026/story-1</link></item>
        <item><title>No link, no guid</title><description>Some &lt;i&gt;text&lt;/i&gt;</description></item>
        <item><link>https://example.com/only-link</link></item>
        <item><description>nothing to show</description><link>javascript:alert(1)</link></item>
        </channel></rss>"""
    )
    first, second, third, fourth = items
    assert first.title == "Export controls & chips"
    assert first.link == "https://example.com/2026/story-1"
    assert first.guid == "https://example.com/2026/story-1"
    assert second.link is None and second.guid.startswith("radar:sha256:")
    assert second.summary == "Some text"
    assert (third.title, third.link) == ("", "https://example.com/only-link")
    assert fourth.link is None


def test_dates_missing_unparsable_and_future():
    future = formatdate(NOW + 30 * 86400, usegmt=True)
    items = _parse(
        f"""<rss version="2.0"><channel><title>T</title>
        <item><title>a</title><guid>a</guid><pubDate>{formatdate(NOW - 3600, usegmt=True)}</pubDate></item>
        <item><title>b</title><guid>b</guid><pubDate>not a date</pubDate></item>
        <item><title>c</title><guid>c</guid></item>
        <item><title>d</title><guid>d</guid><pubDate>{future}</pubDate></item>
        </channel></rss>"""
    )
    assert items[0].published == NOW - 3600
    assert items[1].published is None and items[2].published is None
    assert decide.effective_time(items[1].published, NOW) == NOW
    assert decide.effective_time(items[3].published, NOW) == NOW, (
        "a future date counts as first seen"
    )


def test_not_a_feed():
    with pytest.raises(FeedParseError, match="HTML page"):
        parse_feed(b"<!doctype html><html><body>hi</body></html>", feed_url="u")
    with pytest.raises(FeedParseError):
        parse_feed(b"", feed_url="u")


def test_aggregator_entries_name_their_source_outlet():
    [item] = _parse(
        """<rss version="2.0"><channel><title>Google News</title>
        <item><title>x</title><guid>x</guid><source url="https://wire.example">Meridian Wire</source></item>
        </channel></rss>"""
    )
    assert item.outlet == "Meridian Wire"


SPEC = FeedSpec(url="https://example.com/f.xml", interval=600)


def _result(status: int | None, body: bytes | None = b"<rss/>", **headers: str) -> FetchResult:
    error = None if status is None or status < 400 else f"HTTP {status}"
    if status is None:
        error = "cannot connect"
    return FetchResult(
        SPEC.url, status, body if status == 200 else None, headers, SPEC.url, None, error
    )


def test_validators_are_replaced_on_2xx_and_kept_on_304():
    state = FeedState(SPEC.url, etag='"old"', last_modified="Mon", body_hash="h")
    plan = decide.after_fetch(SPEC, state, _result(304), NOW, RNG)
    assert (plan.state.etag, plan.state.last_modified, plan.parse) == ('"old"', "Mon", False)
    plan = decide.after_fetch(SPEC, state, _result(200, etag='"new"'), NOW, RNG)
    assert (plan.state.etag, plan.state.last_modified, plan.parse) == ('"new"', None, True)


def test_unchanged_body_is_not_parsed_again():
    first = decide.after_fetch(SPEC, FeedState(SPEC.url), _result(200), NOW, RNG)
    state = FeedState(SPEC.url, body_hash=first.body_hash)
    again = decide.after_fetch(SPEC, state, _result(200), NOW, RNG)
    assert again.parse is False and again.note == "unchanged body"


def test_backoff_grows_with_jitter_and_resets_on_success():
    state = FeedState(SPEC.url)
    waits = []
    for _ in range(5):
        plan = decide.after_fetch(SPEC, state, _result(None), NOW, RNG)
        state = plan.state
        waits.append(state.next_due - NOW)
    assert state.failures == 5
    assert all(b > a for a, b in itertools.pairwise(waits))
    assert waits[0] == pytest.approx(1200, rel=0.11)
    ok = decide.after_fetch(SPEC, state, _result(200), NOW, RNG)
    assert ok.state.failures == 0 and ok.state.failing_since is None
    assert ok.state.next_due - NOW == pytest.approx(600, rel=0.11)


def test_a_feed_failing_for_days_is_broken():
    state = FeedState(SPEC.url, failures=40, failing_since=NOW - 3 * 86400)
    assert decide.is_broken(state, NOW)
    assert not decide.is_broken(FeedState(SPEC.url, failures=2, failing_since=NOW - 3600), NOW)


def test_retry_after_forms():
    assert decide.parse_retry_after("120", NOW) == 120
    assert decide.parse_retry_after(formatdate(NOW + 300, usegmt=True), NOW) == pytest.approx(300)
    assert decide.parse_retry_after("soon", NOW) is None


def test_restart_resumes_the_stored_schedule_and_spreads_overdue_feeds():
    rng = random.Random(1)
    assert (
        decide.first_due(
            SPEC, FeedState(SPEC.url, next_due=NOW + 300, last_poll=NOW - 300), NOW, rng
        )
        == NOW + 300
    )
    assert decide.first_due(SPEC, None, NOW, rng) == NOW
    overdue = [
        decide.first_due(
            SPEC, FeedState(SPEC.url, next_due=NOW - 999, last_poll=NOW - 2000), NOW, rng
        )
        for _ in range(50)
    ]
    assert all(NOW <= t <= NOW + 60 for t in overdue) and len(set(overdue)) > 40
    assert decide.first_due(SPEC, FeedState(SPEC.url, gone=True), NOW, rng) is None


def test_classify_items():
    def item(guid: str, link: str | None = None, published: float | None = NOW - 60) -> Item:
        return Item(
            feed_url=SPEC.url,
            guid=guid,
            title=guid,
            link=link,
            canonical_link=link,
            published=published,
        )

    items = [
        item("seen"),
        item("repost", "example.com/a"),
        item("old", published=NOW - 10 * 86400),
        item("new"),
        item("new"),
    ]
    decisions = decide.classify_items(
        items,
        known_guids={"seen"},
        known_links={"example.com/a"},
        baseline=False,
        max_age=3 * 86400,
        now=NOW,
    )
    assert [d.verdict for d in decisions] == [
        Verdict.SEEN,
        Verdict.SEEN,
        Verdict.RECORD,
        Verdict.NEW,
        Verdict.SEEN,
    ]
    baseline = decide.classify_items(
        items[3:4], known_guids=set(), known_links=set(), baseline=True, max_age=3 * 86400, now=NOW
    )
    assert baseline[0].verdict is Verdict.RECORD and baseline[0].reason == "first poll of the feed"


def test_one_decision_says_whether_a_feed_is_polled_now():
    now = 10_000.0
    healthy = FeedState(url="u", last_poll=now - 60, next_due=now + 540)
    backing_off = replace(healthy, failures=3)
    gone = replace(healthy, gone=True)
    assert decide.poll_now(None, now), "never polled"
    assert not decide.poll_now(healthy, now), "its interval has not passed"
    assert decide.poll_now(healthy, now, every_feed=True), "run --once polls every feed"
    assert decide.poll_now(replace(healthy, next_due=now - 1), now)
    assert not decide.poll_now(backing_off, now, every_feed=True)
    assert not decide.poll_now(gone, now, every_feed=True)
