"""Hostile feed servers: compression bombs, redirects into the private network, impossible URLs.

Everything goes over real sockets on loopback. A second feed server on 127.0.0.2 plays a host
on the public internet: the fetcher's address classifier is told that 127.0.0.2 is public.
"""

from __future__ import annotations

import asyncio
import json
import resource
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from ipaddress import ip_address

import pytest
from feedserver import FeedServer, bomb, encode, now_rfc822, redirect, rss, static
from helpers import ROOT, environment, run_once, write_feeds, write_rules

from bot.config import load_settings
from bot.fetch import Fetcher
from bot.models import FetchLimits, FetchResult
from bot.storage import Store
from bot.urls import IPAddress, is_public_address

GOOD_TITLE = "Japan tightens export controls on chipmaking tools"
PUBLIC_HOST = "127.0.0.2"
GIB = 1 << 30
PEAK_BOUND = 200 * 1024 * 1024
GROWTH_BOUND = 64 * 1024 * 1024  # what fetching may add to the peak, over the imports
CHILD_ADDRESS_SPACE = 2 * GIB  # a regression fails the test instead of exhausting the machine

# Fetch one URL with the default limits and report the error, the resident memory once
# imported and the peak (bytes). The peak is the child's own: on Linux ru_maxrss carries the
# parent's peak across fork and exec, so it is read from VmHWM, which exec starts afresh.
FETCH_AND_MEASURE = """
import asyncio, json, resource, sys
from bot.fetch import Fetcher

def status(field):
    try:
        with open("/proc/self/status", encoding="ascii") as lines:
            for line in lines:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)

async def main():
    async with Fetcher() as fetcher:
        return await fetcher.fetch(sys.argv[1])

before = status("VmRSS")
result = asyncio.run(main())
peak = status("VmHWM")
print(json.dumps({"error": result.error, "body": len(result.body or b""), "before": before, "peak": peak}))
"""


def _item(title: str, slug: str) -> dict:
    return {
        "title": title,
        "link": f"https://news.example.com/{slug}",
        "guid": f"https://news.example.com/{slug}",
        "pubDate": now_rfc822(-600),
        "description": title,
    }


GOOD_FEED = rss([_item(GOOD_TITLE, "good")])


@pytest.fixture
def public_server() -> Iterator[FeedServer]:
    server = FeedServer(PUBLIC_HOST).start()
    try:
        yield server
    finally:
        server.stop()


def _public_only_127_0_0_2(ip: IPAddress) -> bool:
    return ip == ip_address(PUBLIC_HOST) or is_public_address(ip)


def _limits(**changes: object) -> FetchLimits:
    return replace(FetchLimits(total_timeout=10), is_public=_public_only_127_0_0_2, **changes)


def _fetch(url: str, limits: FetchLimits | None = None) -> FetchResult:
    async def go() -> FetchResult:
        async with Fetcher(limits or _limits()) as fetcher:
            return await fetcher.fetch(url)

    return asyncio.run(go())


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _limit_address_space() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (CHILD_ADDRESS_SPACE, CHILD_ADDRESS_SPACE))


# Compression bombs


@pytest.mark.parametrize(
    ("encodings", "decoded", "error"),
    [
        (["gzip", "gzip"], GIB, "stacked content encodings refused (gzip, gzip)"),
        (["br", "gzip"], GIB, "stacked content encodings refused (br, gzip)"),
        (["br"], GIB, "larger than the 10 MB limit (decompressed body kept coming)"),
        (["gzip"], GIB // 4, "larger than the 10 MB limit (decompressed body kept coming)"),
        (["deflate"], GIB // 4, "larger than the 10 MB limit (decompressed body kept coming)"),
    ],
)
@pytest.mark.slow
def test_a_compression_bomb_is_refused_with_bounded_memory(feed_server, encodings, decoded, error):
    body = bomb(encodings, decoded)
    url = feed_server.set(
        "/bomb.xml", static(body, headers={"Content-Encoding": ", ".join(encodings)})
    )
    child = subprocess.run(
        [sys.executable, "-c", FETCH_AND_MEASURE, url],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        preexec_fn=_limit_address_space,
    )
    assert child.returncode == 0, child.stderr[-2000:]
    measured = json.loads(child.stdout)
    assert error in measured["error"]
    assert measured["peak"] < PEAK_BOUND, f"peak memory {measured['peak'] / 2**20:.0f} MiB"
    growth = measured["peak"] - measured["before"]
    assert growth < GROWTH_BOUND, f"fetching grew the peak by {growth / 2**20:.0f} MiB"


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "raw-deflate", "br"])
def test_gzip_deflate_and_brotli_feeds_still_work(tmp_path, feed_server, encoding):
    if encoding == "raw-deflate":  # some servers send deflate without the zlib wrapper
        body, header = encode(GOOD_FEED, ["deflate"])[2:-4], "deflate"
    else:
        body, header = encode(GOOD_FEED, [encoding]), encoding
    url = feed_server.set("/enc.xml", static(body, headers={"Content-Encoding": header}))
    feeds = write_feeds(tmp_path / "feeds.yaml", [{"url": url}], defaults={"baseline": False})
    env = environment(tmp_path, write_rules(tmp_path / "rules"), feeds)
    report, printed = run_once(env)
    assert [p.error for p in report.polls] == [None]
    assert [p["title"] for p in printed] == [GOOD_TITLE]
    asked = feed_server.hits("/enc.xml")[0].headers["accept-encoding"]
    assert {"gzip", "deflate", "br"} <= {c.strip() for c in asked.split(",")}


def test_an_unknown_encoding_is_an_error_of_that_feed(tmp_path, feed_server):
    odd = feed_server.set(
        "/zstd.xml", static(b"\x28\xb5\x2f\xfd", headers={"Content-Encoding": "zstd"})
    )
    good = feed_server.set("/good.xml", static(GOOD_FEED))
    feeds = write_feeds(
        tmp_path / "feeds.yaml", [{"url": odd}, {"url": good}], defaults={"baseline": False}
    )
    report, printed = run_once(environment(tmp_path, write_rules(tmp_path / "rules"), feeds))
    errors = {p.url: p.error for p in report.polls}
    assert errors == {odd: "unsupported content encoding 'zstd'", good: None}
    assert [p["title"] for p in printed] == [GOOD_TITLE]


# Redirects into the private network


@pytest.mark.parametrize(
    "private_target",
    [
        "http://127.0.0.1:{port}/secret.xml",
        "http://localhost:{port}/secret.xml",
        "http://[::1]:{port}/",
    ],
)
def test_a_public_feed_cannot_redirect_into_the_private_network(
    feed_server, public_server, private_target
):
    feed_server.set("/secret.xml", static(GOOD_FEED))
    target = private_target.format(port=feed_server.url("").rsplit(":", 1)[1])
    url = public_server.set("/feed.xml", redirect(target, 302))
    result = _fetch(url)
    assert result.error == (
        f"redirect to a private address refused ({target}); "
        "RADAR_ALLOW_PRIVATE_REDIRECTS=1 allows it"
    )
    assert result.body is None and result.status is None
    assert feed_server.hits("/secret.xml") == [], "refused before connecting"


def test_a_refusal_does_not_tell_open_from_closed_ports(feed_server, public_server):
    feed_server.set("/secret.xml", static(GOOD_FEED))
    open_port = feed_server.url("").rsplit(":", 1)[1]
    errors = []
    for port in (open_port, _closed_port()):
        url = public_server.set(f"/to-{port}.xml", redirect(f"http://127.0.0.1:{port}/x", 302))
        errors.append(_fetch(url).error.replace(str(port), "PORT"))
    assert errors[0] == errors[1]


def test_redirects_through_public_hosts_and_private_feeds_are_followed(feed_server, public_server):
    public_server.set("/real.xml", static(GOOD_FEED))
    hop = public_server.set("/hop.xml", redirect(public_server.url("/real.xml"), 302))
    assert _fetch(hop).body == GOOD_FEED
    # A feed the operator configured at a private address may redirect within private space,
    # and out to a public host.
    feed_server.set("/intranet.xml", static(GOOD_FEED))
    private = feed_server.set("/old.xml", redirect(feed_server.url("/intranet.xml"), 301))
    result = _fetch(private)
    assert (result.body, result.permanent_redirect) == (GOOD_FEED, feed_server.url("/intranet.xml"))
    outward = feed_server.set("/out.xml", redirect(public_server.url("/real.xml"), 302))
    assert _fetch(outward).body == GOOD_FEED


def test_a_private_hop_after_a_public_one_is_refused_even_from_a_private_feed(
    feed_server, public_server
):
    feed_server.set("/secret.xml", static(GOOD_FEED))
    public_server.set("/bounce.xml", redirect(feed_server.url("/secret.xml"), 302))
    start = feed_server.set("/start.xml", redirect(public_server.url("/bounce.xml"), 302))
    assert "redirect to a private address refused" in _fetch(start).error
    assert feed_server.hits("/secret.xml") == []


def test_a_permanent_redirect_to_a_private_address_is_not_remembered(
    tmp_path, feed_server, public_server
):
    feed_server.set("/secret.xml", static(GOOD_FEED))
    url = public_server.set("/feed.xml", redirect(feed_server.url("/secret.xml"), 301))
    feeds = write_feeds(tmp_path / "feeds.yaml", [{"url": url}], defaults={"baseline": False})
    env = environment(tmp_path, write_rules(tmp_path / "rules"), feeds)
    report, printed = run_once(env, fetch=_limits())
    assert "redirect to a private address refused" in report.polls[0].error
    assert printed == []
    store = Store(env["RADAR_DB"])
    try:
        state = store.feeds.state(url)
    finally:
        store.close()
    assert state is not None and state.moved_to is None
    assert "redirect to a private address refused" in (state.last_error or "")


def test_radar_allow_private_redirects_opens_the_rest(tmp_path, feed_server, public_server):
    feed_server.set("/secret.xml", static(GOOD_FEED))
    url = public_server.set("/feed.xml", redirect(feed_server.url("/secret.xml"), 302))
    feeds = write_feeds(tmp_path / "feeds.yaml", [{"url": url}], defaults={"baseline": False})
    env = environment(
        tmp_path, write_rules(tmp_path / "rules"), feeds, RADAR_ALLOW_PRIVATE_REDIRECTS="1"
    )
    limits = replace(load_settings(env).fetch, is_public=_public_only_127_0_0_2)
    assert limits.allow_private_redirects
    _report, printed = run_once(env, fetch=limits)
    assert [p["title"] for p in printed] == [GOOD_TITLE]


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # carrier-grade NAT
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("255.255.255.255", False),
        ("192.0.2.1", False),  # documentation
        ("::1", False),
        ("::", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("ff02::1", False),
        ("::ffff:127.0.0.1", False),  # IPv4-mapped
        ("::ffff:8.8.8.8", True),
        ("2002:7f00:1::", False),  # 6to4 around 127.0.0.1
        ("64:ff9b::a00:1", False),  # NAT64 around 10.0.0.1
        ("64:ff9b::808:808", True),
    ],
)
def test_the_address_classifier(address, public):
    assert is_public_address(ip_address(address)) is public


# Impossible URLs


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("https://localhost:99999/feed", "invalid URL: its port must be a number from 0 to 65535"),
        ("https://", "invalid URL: it has no host"),
        ("http://exa mple.com/feed", "invalid URL: it contains spaces or control characters"),
        ("http://[::1/feed", "invalid URL: it is not a valid URL (invalid ipv6 url)"),
        ("ftp://example.com/feed", "invalid URL: unsupported scheme 'ftp': use http or https"),
    ],
)
def test_an_impossible_url_is_an_error_not_an_exception(url, error):
    assert _fetch(url).error == error


@pytest.mark.parametrize(
    ("location", "error"),
    [
        ("http://localhost:99999/feed", "port must be a number from 0 to 65535"),
        ("ftp://example.com/feed", "unsupported scheme 'ftp'"),
        ("http://exa\tmple.com/", "invalid url"),
    ],
)
def test_a_redirect_to_an_impossible_url_is_an_error(feed_server, location, error):
    url = feed_server.set("/odd.xml", redirect(location, 302))
    assert error in _fetch(url).error.lower()


def test_fetch_time_limits_default_to_20s_and_stay_configurable():
    default = load_settings({}).fetch
    assert default.total_timeout == 20 and default.read_timeout <= default.total_timeout
    short = load_settings({"RADAR_FETCH_TIMEOUT": "5"}).fetch
    assert short.total_timeout == 5 and short.read_timeout <= 5
    assert load_settings({"RADAR_FETCH_TIMEOUT": "90"}).fetch.total_timeout == 90
    assert not default.allow_private_redirects
