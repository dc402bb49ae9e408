"""The shared part of the fake Slack Web API and Telegram Bot API servers on 127.0.0.1
(`fake_slack.py`, `fake_telegram.py`), driven by the real clients.

Both record every request, enforce the services' rate limits (answering 429 like the real
ones), and can be told to fail: outages (5xx or hanging), 429 with Retry-After, and the
permanent errors (unknown channel, bot blocked, chat migrated, bad markup).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

JSON_FIELDS = {
    "chat_id", "reply_markup", "reply_parameters", "link_preview_options", "offset", "timeout",
    "limit", "allowed_updates", "disable_notification", "message_id", "user_id",
}  # fmt: skip


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out as separate writes: without TCP_NODELAY, Nagle's algorithm and
    # the client's delayed ACK hold each answer back about 40 ms, as no real API does.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        return None

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        kind = self.headers.get("Content-Type", "")
        params: dict[str, Any] = {}
        if "json" in kind and raw:
            params = json.loads(raw)
        elif raw:
            for key, values in parse_qs(raw.decode("utf-8"), keep_blank_values=True).items():
                value: Any = values[-1]
                if key in JSON_FIELDS:
                    with contextlib.suppress(ValueError):
                        value = json.loads(value)
                params[key] = value
        path, _, query = self.path.partition("?")
        for key, values in parse_qs(query, keep_blank_values=True).items():
            params.setdefault(key, values[-1])  # a GET's parameters (reactions.get)
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, body, extra = self.server.api.dispatch(path, params, headers)
        if status == 0:  # hang up without answering (a timeout, from the client's side)
            self.close_connection = True
            return
        raw_body = isinstance(body, bytes)  # not JSON at all (a proxy's HTML page)
        data = body if raw_body else json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "text/html" if raw_body else "application/json")
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    do_GET = do_POST


# How often the serving thread checks for `stop()`: a stop waits this long, not the default 0.5 s.
STOP_POLL = 0.01


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    api: FakeApi


class FakeApi(ABC):
    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        """`now` is the clock the service's rate limits and outages are kept on (a test's
        skip clock, so that waits Radar skips count here too)."""
        self.now = now
        self.lock = threading.RLock()
        self.calls: list[Call] = []
        self.rate_limited = 0
        self.down_until = 0.0
        self.down_mode = (
            "error"  # "error" (HTTP 503) or "hang" (no answer until the client gives up)
        )
        self.hang_seconds = 30.0
        self.changed = threading.Condition(self.lock)  # notified on every call
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.api = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": STOP_POLL}, daemon=True
        )

    @property
    def base(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeApi:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def outage(self, seconds: float, mode: str = "error") -> None:
        with self.lock:
            self.down_until = self.now() + seconds
            self.down_mode = mode

    def _record(
        self, method: str, params: dict[str, Any], status: int, headers: dict[str, str]
    ) -> Call:
        call = Call(method, params, self.now(), status, headers)
        with self.lock:
            self.calls.append(call)
            self.changed.notify_all()
        return call

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 30.0) -> bool:
        """Wait until `predicate()` holds, checked after every call (the timeout only keeps
        a broken run from hanging the tests); True when it holds."""
        with self.changed:
            return self.changed.wait_for(predicate, timeout)

    @abstractmethod
    def dispatch(
        self, path: str, params: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        """Answer one call: (HTTP status, JSON body, extra headers); status 0 hangs up."""
