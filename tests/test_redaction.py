"""Secrets never shown: tokens raw or percent-encoded, and credentials inside URLs, in logs,
errors, the database and `radar status`."""

from __future__ import annotations

import base64
import logging
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote

import pytest
from feedserver import Reply, now_rfc822, reply, rss
from helpers import cli, environment, in_process, stored, write_feeds, write_rules

from bot import logs
from bot.storage import Store
from bot.urls import hide_credentials

TOKEN = "123456789:AAH-redaction_Test-token"
TITLE = "Japan tightens export controls on chipmaking tools"


def _forms(secret: str) -> list[str]:
    """The ways a secret leaks: raw, percent-encoded in either case, encoded twice."""
    encoded = quote(secret, safe="")
    lower = re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), encoded)
    return [secret, encoded, lower, quote(encoded, safe="")]


def _leaks(text: str, secret: str) -> list[str]:
    return [form for form in _forms(secret) if form in text]


@pytest.mark.parametrize("form", _forms(TOKEN))
def test_a_token_is_redacted_in_every_form(form):
    logs.protect([TOKEN])
    assert (
        logs.redact(f"GET /bot{form}/sendMessage failed") == "GET /bot[redacted]/sendMessage failed"
    )


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("https://user:pass@host/feed", "https://***@host/feed"),
        (
            "cannot fetch http://u:p@ss@feeds.example:8080/x?a=b@c",
            "cannot fetch http://***@feeds.example:8080/x?a=b@c",
        ),
        ("next=https%3A%2F%2Fuser%3Apass%40host%2Ffeed", "next=https%3A%2F%2F***%40host%2Ffeed"),
        ("https://host/feed?contact=me@example.org", "https://host/feed?contact=me@example.org"),
        ("mail me@example.org, see https://host/", "mail me@example.org, see https://host/"),
    ],
)
def test_url_credentials_are_hidden(text, shown):
    assert hide_credentials(text) == shown
    assert logs.redact(text) == shown


def test_log_records_are_redacted_whatever_the_logger(caplog):
    logs.protect([TOKEN])
    caplog.set_level(logging.DEBUG)
    log = logging.getLogger("some.library")
    log.debug("POST %s", f"https://proxy.example/login?next=/bot{quote(TOKEN, safe='')}/getMe")
    try:
        raise ValueError("cannot open https://alice:hunter22@feeds.example/private.xml")
    except ValueError:
        log.exception("fetch failed")
    assert not _leaks(caplog.text, TOKEN)
    assert "hunter22" not in caplog.text
    assert "https://***@feeds.example/private.xml" in caplog.text


class _EchoProxy(ThreadingHTTPServer):
    """A proxy's login page that echoes the request path, percent-encoded (HTTP 200, HTML)."""

    daemon_threads = True


class _EchoHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        return None

    def _page(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        body = (
            f"<html><body>Please log in to continue to {quote(self.path, safe='')}</body></html>"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _page


@pytest.fixture
def echo_proxy() -> Iterator[str]:
    server = _EchoProxy(("127.0.0.1", 0), _EchoHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host}:{port}/bot"
    finally:
        server.shutdown()
        server.server_close()


def test_a_proxy_echoing_the_token_percent_encoded_leaks_it_nowhere(
    tmp_path, feed_server, echo_proxy
):
    item = {"title": TITLE, "link": "https://n.example/1", "guid": "g1", "pubDate": now_rfc822(-60)}
    url = feed_server.set(
        "/wire.xml", reply(200, rss([item]), {"Content-Type": "application/rss+xml"})
    )
    feeds = write_feeds(tmp_path / "feeds.yaml", [{"url": url}], defaults={"baseline": False})
    env = environment(
        tmp_path,
        write_rules(tmp_path / "rules"),
        feeds,
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=echo_proxy,
    )
    store = Store(env["RADAR_DB"])
    store.subscriptions.subscribe(42, ["chip-export"], time.time())
    store.close()

    run = cli(["-vv", "run", "--once"], env)
    assert run.returncode == 0, run.stderr
    status = in_process(["status"], env)
    as_json = in_process(["status", "--json"], env)
    errors = " ".join(
        str(d.error) for d in stored(env["RADAR_DB"], lambda store: store.outbox.all())
    )
    assert errors.strip(), "the failed delivery is recorded"
    for where, text in {
        "run": run.stdout + run.stderr,
        "status": status.stdout + status.stderr,
        "status --json": as_json.stdout,
        "outbox": errors,
    }.items():
        assert not _leaks(text, TOKEN), where


def test_feed_url_credentials_are_used_but_never_shown(tmp_path, feed_server):
    expected = "Basic " + base64.b64encode(b"alice:hunter22").decode()

    def private(request, _handler) -> Reply:
        if request.headers.get("authorization") != expected:
            return Reply(401, b"who are you?", {"WWW-Authenticate": 'Basic realm="feeds"'})
        item = {
            "title": TITLE,
            "link": "https://n.example/2",
            "guid": "g2",
            "pubDate": now_rfc822(-60),
        }
        return Reply(200, rss([item]), {"Content-Type": "application/rss+xml"})

    feed_server.set("/private.xml", private)
    feed_server.set("/broken.xml", reply(500, b"oops"))
    good = feed_server.url("/private.xml").replace("http://", "http://alice:hunter22@")
    bad = feed_server.url("/broken.xml").replace("http://", "http://alice:hunter22@")
    feeds = write_feeds(
        tmp_path / "feeds.yaml", [{"url": good}, {"url": bad}], defaults={"baseline": False}
    )
    env = environment(tmp_path, write_rules(tmp_path / "rules"), feeds)

    run = cli(["-vv", "run", "--once"], env)
    assert run.returncode == 0, run.stderr
    assert TITLE in run.stdout, "the credentials were sent"
    shown = feed_server.url("/broken.xml").replace("http://", "http://***@")
    assert f"feed {shown}: HTTP 500" in run.stderr
    status = in_process(["status"], env)
    as_json = in_process(["status", "--json"], env)
    check = in_process(["rules", "check"], env)
    for text in (run.stdout + run.stderr, status.stdout, as_json.stdout, check.stdout):
        assert "hunter22" not in text
    assert shown in as_json.stdout
