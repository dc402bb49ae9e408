"""A local HTTP server for feeds, including misbehaving ones, on 127.0.0.1.

Routes are set per path; each is a function of the request returning a `Reply` or writing to
the socket itself (for slow, endless or broken responses). Every request is recorded.
"""

from __future__ import annotations

import gzip
import threading
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    at: float
    port: int = 0  # the client's: requests on one kept-alive connection share it


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


Route = Callable[[Request, BaseHTTPRequestHandler], Reply | None]


def rss(items: Iterable[dict], title: str = "Test feed", encoding: str = "utf-8") -> bytes:
    """An RSS 2.0 document; each item is a dict of title, link, guid, pubDate, description."""
    from xml.sax.saxutils import escape

    parts = [
        f'<?xml version="1.0" encoding="{encoding}"?>',
        '<rss version="2.0"><channel>',
        f"<title>{escape(title)}</title><link>http://example.org/</link><description>test</description>",
    ]
    for item in items:
        parts.append("<item>")
        for key in ("title", "link", "guid", "pubDate", "description"):
            if key in item and item[key] is not None:
                parts.append(f"<{key}>{escape(str(item[key]))}</{key}>")
        parts.append("</item>")
    parts.append("</channel></rss>")
    return "\n".join(parts).encode(encoding, errors="xmlcharrefreplace")


def now_rfc822(offset: float = 0.0) -> str:
    return formatdate(time.time() + offset, usegmt=True)


def static(
    body: bytes,
    *,
    status: int = 200,
    etag: str | None = None,
    last_modified: str | None = None,
    headers: dict[str, str] | None = None,
    content_type: str = "application/rss+xml; charset=utf-8",
    gzip_body: bool = False,
) -> Route:
    """A document served with optional validators; answers 304 to a matching conditional GET."""

    def route(request: Request, _handler: BaseHTTPRequestHandler) -> Reply:
        extra = {"Content-Type": content_type, **(headers or {})}
        if etag:
            extra["ETag"] = etag
        if last_modified:
            extra["Last-Modified"] = last_modified
        if etag and request.headers.get("if-none-match") == etag:
            return Reply(304, b"", extra)
        if last_modified and not etag and request.headers.get("if-modified-since") == last_modified:
            return Reply(304, b"", extra)
        data = body
        if gzip_body and "gzip" in request.headers.get("accept-encoding", ""):
            data = gzip.compress(body)
            extra["Content-Encoding"] = "gzip"
        return Reply(status, data, extra)

    return route


class _Encoder:
    """One content coding's compressor, fed in pieces."""

    def __init__(self, encoding: str) -> None:
        if encoding in ("gzip", "deflate"):
            z = zlib.compressobj(1, zlib.DEFLATED, 31 if encoding == "gzip" else 15)
            self.feed, self.finish = z.compress, z.flush
        elif encoding == "br":
            import brotli

            b = brotli.Compressor(quality=5)
            self.feed, self.finish = b.process, b.finish
        else:
            raise ValueError(f"unknown test encoding {encoding!r}")


def encode(body: bytes, encodings: Iterable[str]) -> bytes:
    """`body` encoded with each content coding in turn, as `Content-Encoding: a, b` says."""
    for encoding in encodings:
        encoder = _Encoder(encoding)
        body = encoder.feed(body) + encoder.finish()
    return body


def bomb(encodings: list[str], decoded_size: int) -> bytes:
    """A compression bomb: `decoded_size` zero bytes encoded with each coding in turn; only the
    first layer's input is streamed, so building a 1 GB bomb takes about a second."""
    encoder = _Encoder(encodings[0])
    block = bytes(1 << 20)
    parts = [encoder.feed(block) for _ in range(decoded_size // len(block))]
    parts.append(encoder.finish())
    return encode(b"".join(parts), encodings[1:])


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        return None

    def do_GET(self) -> None:
        request = Request(
            self.path,
            {k.lower(): v for k, v in self.headers.items()},
            time.time(),
            self.client_address[1],
        )
        owner = self.server.owner
        with owner.lock:
            owner.requests.append(request)
            route = owner.routes.get(self.path.split("?", 1)[0])
        if route is None:
            self._reply(Reply(404, b"not found", {"Content-Type": "text/plain"}))
            return
        try:
            reply = route(request, self)
        except (BrokenPipeError, ConnectionResetError):
            return
        if reply is not None:
            self._reply(reply)

    def _reply(self, reply: Reply) -> None:
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if reply.body:
                self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            pass


# How often the serving thread checks for `stop()`: a stop waits this long, not the default 0.5 s.
STOP_POLL = 0.01


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: FeedServer


class FeedServer:
    """Listens on 127.0.0.1, or on another loopback address (127.0.0.2 plays a public host)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        self._server = _Server((host, 0), _Handler)
        self._server.owner = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": STOP_POLL}, daemon=True
        )

    @property
    def base(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def set(self, path: str, route: Route) -> str:
        with self.lock:
            self.routes[path] = route
        return self.url(path)

    def hits(self, path: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.path.split("?", 1)[0] == path]

    def start(self) -> FeedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def redirect(to: str, status: int = 301) -> Route:
    def route(_request: Request, _handler: BaseHTTPRequestHandler) -> Reply:
        return Reply(status, b"", {"Location": to})

    return route


def sequence(*routes: Route) -> Route:
    """Each request gets the next route; the last one repeats."""
    remaining = list(routes)

    def route(request: Request, handler: BaseHTTPRequestHandler) -> Reply | None:
        current = remaining.pop(0) if len(remaining) > 1 else remaining[0]
        return current(request, handler)

    return route


def reply(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> Route:
    def route(_request: Request, _handler: BaseHTTPRequestHandler) -> Reply:
        return Reply(status, body, dict(headers or {}))

    return route


def slowloris(interval: float = 0.5) -> Route:
    """Headers, then one byte every `interval` seconds, for ever."""

    def route(_request: Request, handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/rss+xml")
        handler.send_header("Content-Length", "1000000")
        handler.end_headers()
        handler.wfile.write(b"<?xml version='1.0'?><rss><channel>")
        handler.wfile.flush()
        while True:
            time.sleep(interval)
            handler.wfile.write(b" ")
            handler.wfile.flush()

    return route


def endless(
    chunk: bytes = b"<item><title>x</title></item>" * 1000, declared: int | None = None
) -> Route:
    """A body that never ends (or is `declared` bytes long), sent as fast as possible."""

    def route(_request: Request, handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/rss+xml")
        if declared is not None:
            handler.send_header("Content-Length", str(declared))
        handler.end_headers()
        handler.wfile.write(b"<?xml version='1.0'?><rss><channel><title>t</title>")
        sent = 0
        while declared is None or sent < declared:
            handler.wfile.write(chunk)
            sent += len(chunk)
        handler.close_connection = True

    return route
