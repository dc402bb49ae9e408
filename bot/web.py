"""The HTTP endpoint of `radar run` (`RADAR_HTTP_PORT`): `/healthz`, `/metrics`, and a
read-only status page at `/`.

It runs in threads of its own (the standard library's HTTP server), so a slow scrape never
holds the event loop, and reads the database through the same `Store` as the service. The page
needs no JavaScript and forbids it (Content-Security-Policy); everything it shows is escaped,
since feed titles and headlines come from strangers, and only http(s) links are linked.
"""

from __future__ import annotations

import concurrent.futures
import html
import logging
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from bot import __version__
from bot.durations import format_duration
from bot.errors import ConfigError, StorageError
from bot.format import plural, when
from bot.logs import redact
from bot.metrics import CONTENT_TYPE, Metrics
from bot.models import FeedSpec

if TYPE_CHECKING:
    from bot.watchlist import Watchlist
from bot.snapshot import FAILING_HEALTH, Snapshot, ago, span, take
from bot.storage import Store
from bot.types import DeliveryStatus

log = logging.getLogger(__name__)

MIN_STALE = 600.0  # /healthz allows at least this long without a successful poll
STALE_INTERVALS = 3  # … or this many of the shortest feed interval, if longer
DB_TIMEOUT = 5.0  # seconds /healthz waits for the database
STORIES_SHOWN = 20
REQUEST_TIMEOUT = 10.0  # a client that sends nothing for this long is dropped
PAGE_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)


def stale_after(feeds: Sequence[FeedSpec]) -> float:
    """How long `/healthz` stays healthy without any successful poll."""
    shortest = min((spec.interval for spec in feeds), default=MIN_STALE)
    return max(MIN_STALE, STALE_INTERVALS * shortest)


@dataclass(frozen=True, slots=True)
class Verdict:
    healthy: bool
    reason: str


@dataclass(slots=True)
class Site:
    """What the endpoint serves: one running service's view of its database."""

    store: Store
    feeds: Sequence[FeedSpec]
    metrics: Metrics
    liveness: Callable[[], str | None]  # why the service is not alive, or None
    database: str  # the database's name, without its password
    feeds_file: str
    rules_dir: str
    rules_version: str
    clock: Callable[[], float] = time.time
    started: float = field(default_factory=time.time)
    _checks: concurrent.futures.ThreadPoolExecutor = field(
        default_factory=lambda: concurrent.futures.ThreadPoolExecutor(1, "radar-healthz")
    )
    _pending: concurrent.futures.Future[dict[str, tuple[float | None, int]]] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reloaded(self, config: Watchlist) -> None:
        """Show the feeds and rules version of a reload from the next request on."""
        self.feeds = config.feeds
        self.rules_version = config.version

    def _poll_times(self) -> dict[str, tuple[float | None, int]]:
        return {url: (s.last_poll, s.failures) for url, s in self.store.feeds.states().items()}

    def health(self) -> Verdict:
        """Healthy when the service is alive, the database answers, and some feed was polled
        successfully (by any instance) within `stale_after`, or the service started that
        recently."""
        if (problem := self.liveness()) is not None:
            return Verdict(False, problem)
        with self._lock:  # one database check at a time; a hung one is reported, not stacked
            if self._pending is None or self._pending.done():
                self._pending = self._checks.submit(self._poll_times)
            pending = self._pending
        try:
            polls = pending.result(timeout=DB_TIMEOUT)
        except concurrent.futures.TimeoutError:
            return Verdict(False, f"database {self.database} did not answer within {DB_TIMEOUT:g}s")
        except StorageError as exc:
            return Verdict(False, f"database unreachable: {redact(str(exc))}")
        now = self.clock()
        urls = {spec.url for spec in self.feeds}
        last_ok = max(
            (t for url, (t, failures) in polls.items() if url in urls and t and not failures),
            default=None,
        )
        window = stale_after(self.feeds)
        if last_ok is not None and now - last_ok <= window:
            return Verdict(True, f"ok: last successful poll {ago(now, last_ok)}")
        if now - self.started <= window:
            return Verdict(True, f"ok: started {ago(now, self.started)}, no poll succeeded yet")
        last = f" (the last {ago(now, last_ok)})" if last_ok is not None else ""
        return Verdict(False, f"no feed was polled successfully in the last {span(window)}{last}")

    def snapshot(self) -> Snapshot:
        return take(self.store, self.feeds, self.clock(), stories=STORIES_SHOWN, last_items=True)

    def close(self) -> None:
        self._checks.shutdown(wait=False, cancel_futures=True)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = REQUEST_TIMEOUT

    def version_string(self) -> str:
        return f"Radar/{__version__}"

    def do_HEAD(self) -> None:
        self._route(body=False)

    def do_GET(self) -> None:
        self._route(body=True)

    def _route(self, *, body: bool) -> None:
        site = self.server.site
        path = urlsplit(self.path).path
        if path == "/healthz":
            verdict = site.health()
            status = HTTPStatus.OK if verdict.healthy else HTTPStatus.SERVICE_UNAVAILABLE
            self._send(status, "text/plain; charset=utf-8", (verdict.reason + "\n").encode(), body)
        elif path == "/metrics":
            self._send(HTTPStatus.OK, CONTENT_TYPE, site.metrics.exposition(), body)
        elif path == "/":
            try:
                page, status = render_page(site, site.snapshot()), HTTPStatus.OK
            except StorageError as exc:
                page, status = render_error(redact(str(exc))), HTTPStatus.SERVICE_UNAVAILABLE
            self._send(status, "text/html; charset=utf-8", page.encode(), body)
        else:
            self._send(HTTPStatus.NOT_FOUND, "text/plain; charset=utf-8", b"not found\n", body)

    def _send(self, status: HTTPStatus, content_type: str, data: bytes, body: bool) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        if content_type.startswith("text/html"):
            self.send_header("Content-Security-Policy", PAGE_POLICY)
            self.send_header("Referrer-Policy", "no-referrer")
            self.send_header("X-Frame-Options", "DENY")
        self.end_headers()
        if body:
            self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("http %s: " + format, self.address_string(), *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], site: Site) -> None:
        self.site = site
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def handle_error(self, request: object, client_address: object) -> None:
        """A failed request goes to the log (redacted, JSON when logs are), not to stderr."""
        log.exception("http: answering %s failed", client_address)


class WebServer:
    """Serves a `Site` on `host:port` in a background thread until `stop()`."""

    def __init__(self, site: Site, host: str, port: int) -> None:
        try:
            self._server = _Server((host, port), site)
        except OSError as exc:
            raise ConfigError(
                f"RADAR_HTTP_PORT: cannot listen on {host}:{port}: {exc.strerror or exc}"
            ) from exc
        self.site = site
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="radar-http", daemon=True
        )

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        text = host.decode() if isinstance(host, bytes) else str(host)
        return f"http://[{text}]:{port}" if ":" in text else f"http://{text}:{port}"

    def start(self) -> None:
        self._thread.start()
        log.info("serving /healthz, /metrics and the status page at %s", self.address)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self.site.close()


# The page.

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;max-width:80em}
h1{font-size:1.4em;margin:0 0 .2em}h2{font-size:1.1em;margin:1.6em 0 .4em}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.25em .5em;
vertical-align:top;border-bottom:1px solid #ddd}th{background:#f4f4f4}
.meta{color:#555}.small{font-size:.9em;color:#555;overflow-wrap:anywhere}
.badge{display:inline-block;padding:0 .5em;border-radius:.6em;font-size:.85em;color:#fff}
.ok{background:#2e7d32}.new{background:#607d8b}.failing{background:#ef6c00}
.broken,.gone,.failed{background:#c62828}.pending{background:#1565c0}
.bad{color:#c62828;font-weight:600}
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _link(url: str | None, label: str) -> str:
    """A link for http(s) URLs only (a feed may send `javascript:`); else the text alone."""
    if url and urlsplit(url).scheme.lower() in ("http", "https"):
        return f'<a href="{_e(url)}" rel="noopener noreferrer nofollow">{_e(label)}</a>'
    return _e(label)


def _badge(text: str) -> str:
    return f'<span class="badge {_e(text)}">{_e(text)}</span>'


def _document(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="refresh" content="60"><title>{_e(title)}</title>'
        f"<style>{STYLE}</style></head><body>{body}</body></html>"
    )


def render_error(message: str) -> str:
    return _document(
        "Radar: database unreachable",
        f'<h1>Radar</h1><p class="bad">The database did not answer: {_e(message)}</p>',
    )


def render_page(site: Site, snapshot: Snapshot) -> str:
    """The status page: feeds with their health, recent stories with their outlets, and the
    deliveries waiting or failed."""
    now = snapshot.now
    failing = len(snapshot.failing_feeds)
    parts = [
        "<h1>Radar</h1>",
        f'<p class="meta">database {_e(site.database)} · feeds {_e(site.feeds_file)} · '
        f"rules {_e(site.rules_dir)} (version {_e(site.rules_version or 'unknown')}) · "
        f"radar {_e(__version__)} · up {_e(span(now - site.started))} · {_e(when(now))}</p>",
        f"<p>{_e(plural(len(snapshot.feeds), 'feed'))}, "
        + (f'<span class="bad">{failing} failing</span>' if failing else "none failing")
        + f"; {_e(_stories_count(snapshot.counts.get('stories', 0)))}, "
        f"{_e(plural(snapshot.counts.get('alerts', 0), 'alert'))}, "
        f"{_e(plural(snapshot.counts.get('follow-ups', 0), 'follow-up'))}.</p>",
        _feeds_table(snapshot),
        _stories_table(snapshot),
        _deliveries(snapshot),
    ]
    return _document("Radar status", "".join(parts))


def _stories_count(count: int) -> str:
    return f"{count} {'story' if count == 1 else 'stories'}"


def _feeds_table(snapshot: Snapshot) -> str:
    now = snapshot.now
    rows = []
    for row in snapshot.feeds:
        state = row.state
        last_item = row.last_item
        item = (
            f"{_link(last_item.item.link, last_item.item.title)}"
            f'<br><span class="small">{_e(ago(now, last_item.first_seen))}</span>'
            if last_item is not None
            else "—"
        )
        error = ""
        if state is not None and state.last_error:
            css = "bad" if row.health in FAILING_HEALTH else "small"
            error = f'<br><span class="{css}">{_e(redact(state.last_error))}</span>'
        if state is not None and state.moved_to:
            error += f'<br><span class="small">moved to {_e(redact(state.moved_to))}</span>'
        status = f"HTTP {state.last_status}" if state is not None and state.last_status else ""
        rows.append(
            "<tr>"
            f'<td>{_e(row.name)}<br><span class="small">{_e(redact(row.spec.url))}</span></td>'
            f"<td>{_badge(row.health.value)}{error}</td>"
            f"<td>{_e(ago(now, state.last_poll if state else None))}"
            f'<br><span class="small">{_e(status)}</span></td>'
            f"<td>{_e(ago(now, state.next_due) if state and state.next_due else '—')}</td>"
            f"<td>{_e(format_duration(row.spec.interval))}</td>"
            f"<td>{item}</td></tr>"
        )
    return (
        f"<h2>Feeds ({len(snapshot.feeds)})</h2><table><thead><tr><th>feed</th><th>health</th>"
        "<th>last poll</th><th>next due</th><th>every</th><th>last new item</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _stories_table(snapshot: Snapshot) -> str:
    if not snapshot.stories:
        return "<h2>Recent stories</h2><p>No stories yet.</p>"
    rows = [
        "<tr>"
        f"<td>{_link(view.link, view.story.title)}</td>"
        f"<td>{_e(when(view.story.first_published))}</td>"
        f"<td>{_e(', '.join(view.story.rules))}</td>"
        f"<td>{_e(', '.join(view.outlets) or '—')}"
        f'<br><span class="small">{_e(plural(view.story.item_count, "item"))}</span></td></tr>'
        for view in snapshot.stories
    ]
    return (
        f"<h2>Recent stories ({len(snapshot.stories)})</h2><table><thead><tr><th>headline</th>"
        "<th>published</th><th>rules</th><th>outlets</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _deliveries(snapshot: Snapshot) -> str:
    now = snapshot.now
    kinds = sorted({kind for kind, _ in snapshot.outbox})
    summary = []
    for kind in kinds:
        counts = ", ".join(
            f"{snapshot.outbox[(kind, status)]} {status}"
            for status in DeliveryStatus
            if (kind, status) in snapshot.outbox
        )
        oldest = snapshot.pending.get(kind)
        waiting = f" (oldest waiting {ago(now, oldest[1])})" if oldest else ""
        summary.append(f"<li>{_e(kind)}: {_e(counts)}{_e(waiting)}</li>")
    rows = [
        "<tr>"
        f"<td>{_badge('failed' if d.status is DeliveryStatus.FAILED else 'pending')}</td>"
        f"<td>{_e(d.destination)}</td><td>{_e(d.alert_id)}</td><td>{_e(d.attempts)}</td>"
        f"<td>{_e(redact(d.error or ''))}</td>"
        f"<td>{_e(ago(now, d.next_attempt) if d.status is DeliveryStatus.PENDING else '—')}</td>"
        "</tr>"
        for d in [*snapshot.retrying, *snapshot.failed]
    ]
    table = (
        "<table><thead><tr><th>state</th><th>destination</th><th>alert</th><th>attempts</th>"
        f"<th>error</th><th>next attempt</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        if rows
        else "<p>No deliveries retrying or failed.</p>"
    )
    listed = f"<ul>{''.join(summary)}</ul>" if summary else "<p>No deliveries yet.</p>"
    return f"<h2>Deliveries</h2>{listed}{table}"
