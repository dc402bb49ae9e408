"""The HTTP endpoint of `radar run`: /healthz, /metrics and the status page, scraped over a
real socket from a real `radar run`; /healthz turning 503 when the database goes away; two
instances on PostgreSQL, each with its endpoint."""

from __future__ import annotations

import re
import time
from urllib.parse import urlsplit, urlunsplit

import pytest
from feedserver import now_rfc822, rss, static
from helpers import distinct_items, environment, write_feeds, write_rules
from ops_helpers import TcpProxy, get, radar_running, wait_for
from prometheus_client.parser import text_string_to_metric_families

from bot.metrics import Metrics
from bot.models import FeedSpec, FeedState
from bot.storage import Store
from bot.web import Site, stale_after

HOSTILE_FEED = '<script>alert("feed")</script> Wire'
# A feed's name comes from feeds.yaml (a pull request); a headline from anyone (markup is
# stripped when parsing, but `<`, `&` and quotes are text and stay).
HOSTILE_TITLE = "Ottawa adds export controls on NAND chips, 4321 firms: 5 < 6 & \"x\" > 'y'"


def _hostile_items() -> list[dict]:
    return [
        *distinct_items(2),
        {
            "title": HOSTILE_TITLE,
            "link": "javascript:window.pwned=2",
            "guid": "hostile-1",
            "pubDate": now_rfc822(-30),
        },
    ]


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus exposition, parsed by prometheus-client's own parser."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def _value(samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def _hostile_env(tmp_path, feed_server, **extra: str) -> dict[str, str]:
    url = feed_server.set("/hostile.xml", static(rss(_hostile_items())))
    feeds = write_feeds(
        tmp_path / "feeds.yaml",
        [
            {"url": url, "name": HOSTILE_FEED, "baseline": False, "interval": "1h"},
            {"url": "http://127.0.0.1:9/nothing.xml", "name": "Dead feed", "interval": "1h"},
        ],
    )
    return environment(tmp_path, write_rules(tmp_path / "rules"), feeds, **extra)


def test_healthz_metrics_and_status_page_while_radar_runs(tmp_path, feed_server):
    env = _hostile_env(tmp_path, feed_server)
    with radar_running(env, tmp_path / "radar.log") as radar:
        wait_for(
            lambda: "last successful poll" in get(radar.base, "/healthz")[2],
            60,
            "a successful poll",
        )
        status, headers, body = get(radar.base, "/healthz")
        assert status == 200 and body.startswith("ok: last successful poll")

        def delivered():
            samples = _samples(get(radar.base, "/metrics")[2])
            sent = _value(samples, "radar_deliveries_total", kind="console", outcome="sent")
            pending = _value(samples, "radar_outbox_pending", kind="console")
            return samples if (sent, pending) == (3, 0) else None

        samples = wait_for(delivered, 60, "three console deliveries in /metrics")
        status, headers, text = get(radar.base, "/metrics")
        assert status == 200 and headers["content-type"].startswith("text/plain; version=0.0.4")
        assert _value(samples, "radar_polls_total", result="ok") == 1
        assert _value(samples, "radar_polls_total", result="error") == 1
        assert _value(samples, "radar_polls_total", result="not_modified") == 0
        assert _value(samples, "radar_items_total", verdict="new") == 3
        assert _value(samples, "radar_alerts_total") == 3
        assert _value(samples, "radar_followups_total") == 0
        assert _value(samples, "radar_poll_bytes_total") > 0
        assert _value(samples, "radar_poll_duration_seconds_count") == 2
        assert _value(samples, "radar_delivery_duration_seconds_count", kind="console") == 3
        assert _value(samples, "radar_outbox_pending", kind="console") == 0
        assert _value(samples, "radar_outbox_oldest_pending_age_seconds", kind="console") == 0
        assert _value(samples, "radar_feeds", health="ok") == 1
        assert _value(samples, "radar_feeds", health="failing") == 1
        assert _value(samples, "radar_feeds", health="broken") == 0
        assert _value(samples, "radar_database_up") == 1
        assert _value(samples, "radar_last_successful_poll_timestamp_seconds") <= time.time()
        [rules] = [k for k in samples if k[0] == "radar_rules_info"]
        assert dict(rules[1])["rules"] == "1" and re.fullmatch(
            r"(git:[0-9a-f]{40}|sha256:[0-9a-f]{12})", dict(rules[1])["version"]
        )
        assert "_created" not in text

        status, headers, page = get(radar.base, "/")
        assert status == 200 and headers["content-type"] == "text/html; charset=utf-8"
        assert "script-src" not in headers["content-security-policy"]  # default-src 'none'
        assert "default-src 'none'" in headers["content-security-policy"]
        assert "Dead feed" in page and 'class="badge failing"' in page
        assert "cannot connect" in page
        # Untrusted text is shown, escaped: no markup of a feed's reaches the page.
        assert "&lt;script&gt;alert(&quot;feed&quot;)&lt;/script&gt; Wire" in page
        assert "4321 firms: 5 &lt; 6 &amp; &quot;x&quot; &gt; &#x27;y&#x27;" in page
        assert "<script" not in page and "javascript:" not in page
        assert "Recent stories (3)" in page and "3 alerts, 0 follow-ups" in page

        assert get(radar.base, "/nowhere")[0] == 404
    assert radar.process.returncode == 0, radar.log()


def _site(store: Store, feeds: list[FeedSpec], **kwargs) -> Site:
    metrics = Metrics(store, feeds, rules=0, rules_version="")
    defaults = {
        "liveness": lambda: None,
        "database": store.name,
        "feeds_file": "feeds.yaml",
        "rules_dir": "rules",
        "rules_version": "",
    }
    return Site(store=store, feeds=feeds, metrics=metrics, **{**defaults, **kwargs})


def test_health_needs_a_live_service_and_a_recent_successful_poll(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'radar.db'}")
    feeds = [FeedSpec("https://a.example/feed", interval=60), FeedSpec("https://b.example/feed")]
    now = 2_000_000_000.0
    window = stale_after(feeds)
    assert window == 600  # ten minutes at least, or three of the shortest interval
    try:
        site = _site(store, feeds, clock=lambda: now, started=now - 5)
        assert site.health().healthy, "a service that just started gets one window of grace"
        assert "no poll succeeded yet" in site.health().reason

        site = _site(store, feeds, clock=lambda: now, started=now - window - 1)
        verdict = site.health()
        assert not verdict.healthy
        assert verdict.reason == "no feed was polled successfully in the last 10m"

        store.feeds.save(FeedState("https://b.example/feed", last_poll=now - 60, failures=0))
        assert site.health().healthy and site.health().reason == "ok: last successful poll 1m ago"

        store.feeds.save(FeedState("https://b.example/feed", last_poll=now - 30, failures=1))
        store.feeds.save(FeedState("https://a.example/feed", last_poll=now - 700, failures=0))
        verdict = site.health()
        assert not verdict.healthy, "the only recent poll failed"
        assert "(the last 12m ago)" in verdict.reason

        stalled = _site(store, feeds, liveness=lambda: "the scheduler has stopped")
        assert stalled.health() == type(verdict)(False, "the scheduler has stopped")
        for s in (site, stalled):
            s.close()
    finally:
        store.close()


def _through(url: str, port: int) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host))


@pytest.mark.postgres
def test_healthz_turns_503_when_the_database_goes_away(tmp_path, feed_server, pg_schema_url):
    proxy = TcpProxy(urlsplit(pg_schema_url).port or 5432).start()
    try:
        env = _hostile_env(tmp_path, feed_server, RADAR_DB=_through(pg_schema_url, proxy.port))
        with radar_running(env, tmp_path / "radar.log") as radar:
            wait_for(
                lambda: "last successful poll" in get(radar.base, "/healthz")[2],
                60,
                "a successful poll",
            )
            proxy.cut()
            radar.wait_status("/healthz", 503)
            status, _, reason = get(radar.base, "/healthz")
            assert status == 503
            assert reason.startswith("database unreachable: database postgresql://")
            assert "cannot reach the database" in reason
            samples = _samples(get(radar.base, "/metrics")[2])
            assert _value(samples, "radar_database_up") == 0
            assert get(radar.base, "/")[0] == 503

            proxy.restore()
            radar.wait_status("/healthz", 200)
        assert radar.process.returncode == 0, radar.log()
    finally:
        proxy.cut()


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.timeout(240)
def test_two_instances_on_postgresql_each_answer_200(tmp_path, feed_server, pg_schema_url):
    feeds_list = []
    for n in range(4):
        url = feed_server.set(f"/f{n}.xml", static(rss(distinct_items(2, feed=n))))
        feeds_list.append({"url": url, "baseline": False, "interval": "1h"})
    feeds = write_feeds(tmp_path / "feeds.yaml", feeds_list)
    env = environment(tmp_path, write_rules(tmp_path / "rules"), feeds, RADAR_DB=pg_schema_url)
    with (
        radar_running(env, tmp_path / "a.log") as first,
        radar_running(env, tmp_path / "b.log") as second,
    ):
        assert first.base != second.base
        for radar in (first, second):
            wait_for(
                lambda r=radar: "last successful poll" in get(r.base, "/healthz")[2],
                60,
                f"{radar.base}/healthz",
            )

        def delivered() -> bool:
            total = 0.0
            for radar in (first, second):
                samples = _samples(get(radar.base, "/metrics")[2])
                total += _value(samples, "radar_deliveries_total", kind="console", outcome="sent")
            return total == 8

        wait_for(delivered, 60, "eight alerts delivered between the two")
        polled = 0.0
        for radar in (first, second):
            status, _, body = get(radar.base, "/healthz")
            assert status == 200, body
            samples = _samples(get(radar.base, "/metrics")[2])
            polled += _value(samples, "radar_polls_total", result="ok")
            # Stored state is the same seen from either instance.
            assert _value(samples, "radar_feeds", health="ok") == 4
            assert _value(samples, "radar_outbox_pending", kind="console") == 0
        assert polled == 4, "each feed polled once, by one of the two"
    assert first.process.returncode == 0 and second.process.returncode == 0
