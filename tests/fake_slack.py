"""A fake Slack Web API on 127.0.0.1, driven by slack-sdk through SLACK_API_URL."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fake_apis import FakeApi


class FakeSlack(FakeApi):
    """Web API at `/api/<method>`: auth.test, chat.postMessage with channels by name or id,
    and reactions.get on the messages posted (`react` adds a user's reaction). A wrong token
    gets `invalid_auth`; `html_answers` posts get a proxy's HTML page (HTTP 200)."""

    def __init__(
        self, token: str = "xoxb-test-token-123456", now: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(now)
        self.token = token
        self.channels: dict[str, str] = {}  # name -> id
        self.not_member: set[str] = set()
        self.posted: list[dict[str, Any]] = []
        self._last: dict[str, float] = {}
        self.retry_after = 1
        self.enforce = True
        self.tolerance = 0.01
        self._ts = 1_700_000_000.0
        self.reactions: dict[tuple[str, str], dict[str, list[str]]] = {}  # message -> name -> users
        self.html_answers = 0  # chat.postMessage calls still to answer with an HTML page (200)

    @property
    def api_url(self) -> str:
        return f"{self.base}/api/"

    def add_channel(self, name: str) -> str:
        channel_id = f"C{len(self.channels) + 100:07d}"
        self.channels[name.lstrip("#")] = channel_id
        return channel_id

    def react(self, channel: str, ts: str, name: str, user: str, *, remove: bool = False) -> None:
        """`user` adds (or removes) the reaction `name` on a message of a channel."""
        channel_id = self._resolve(channel) or channel
        with self.lock:
            users = self.reactions.setdefault((channel_id, ts), {}).setdefault(name, [])
            if remove:
                users.remove(user)
            elif user not in users:
                users.append(user)

    def in_channel(self, name: str) -> list[dict[str, Any]]:
        channel_id = self.channels[name.lstrip("#")]
        with self.lock:
            return [p for p in self.posted if p["channel_id"] == channel_id]

    def dispatch(
        self, path: str, params: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        method = path.removeprefix("/api/")
        if headers.get("authorization") != f"Bearer {self.token}":
            self._record(method, params, 200, headers)
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        with self.lock:
            down = self.now() < self.down_until
            mode = self.down_mode
        if down:
            self._record(method, params, 503 if mode == "error" else 0, headers)
            if mode == "hang":
                time.sleep(self.hang_seconds)
                return 0, None, {}
            return 503, {"ok": False, "error": "service_unavailable"}, {}
        if method == "auth.test":
            self._record(method, params, 200, headers)
            return 200, {"ok": True, "user": "radar", "team": "Test", "user_id": "U1"}, {}
        if method == "chat.postMessage" and self.html_answers > 0:
            with self.lock:
                self.html_answers -= 1
            self._record(method, params, 200, headers)
            return 200, b"<html><body>Please sign in to the proxy</body></html>", {}
        if method == "reactions.get":
            status, body, extra = self._reactions(params)
            self._record(method, params, status, headers)
            return status, body, extra
        if method != "chat.postMessage":
            self._record(method, params, 200, headers)
            return 200, {"ok": False, "error": "unknown_method"}, {}
        status, body, extra = self._post(params)
        self._record(method, params, status, headers)
        return status, body, extra

    def _reactions(self, params: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        channel_id = self._resolve(str(params.get("channel", "")))
        ts = str(params.get("timestamp", ""))
        with self.lock:
            posted = [p for p in self.posted if p["channel_id"] == channel_id and p["ts"] == ts]
            if channel_id is None or not posted:
                return 200, {"ok": False, "error": "message_not_found"}, {}
            named = self.reactions.get((channel_id, ts), {})
            reactions = [
                {"name": name, "users": list(users), "count": len(users)}
                for name, users in named.items()
                if users
            ]
        message = {"type": "message", "ts": ts, "text": posted[0].get("text")}
        if reactions:
            message["reactions"] = reactions
        return 200, {"ok": True, "type": "message", "channel": channel_id, "message": message}, {}

    def _resolve(self, channel: str) -> str | None:
        if channel in self.channels.values():
            return channel
        return self.channels.get(channel.lstrip("#"))

    def _post(self, params: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        channel_id = self._resolve(str(params.get("channel", "")))
        if channel_id is None:
            return 200, {"ok": False, "error": "channel_not_found"}, {}
        if channel_id in {self.channels.get(n.lstrip("#")) for n in self.not_member}:
            return 200, {"ok": False, "error": "not_in_channel"}, {}
        now = self.now()
        with self.lock:
            last = self._last.get(channel_id)
            if self.enforce and last is not None and now - last < 1.0 - self.tolerance:
                self.rate_limited += 1
                return (
                    429,
                    {"ok": False, "error": "ratelimited"},
                    {"Retry-After": str(self.retry_after)},
                )
            self._last[channel_id] = now
            self._ts += 1.0
            ts = f"{self._ts:.6f}"
            self.posted.append({"channel_id": channel_id, "ts": ts, "at": now, **params})
        return (
            200,
            {
                "ok": True,
                "channel": channel_id,
                "ts": ts,
                "message": {"text": params.get("text"), "ts": ts},
            },
            {},
        )
