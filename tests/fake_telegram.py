"""A fake Telegram Bot API on 127.0.0.1, driven by python-telegram-bot through TELEGRAM_API_URL."""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

from fake_apis import FakeApi

TELEGRAM_TAGS = {
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "a",
    "code",
    "pre",
    "tg-spoiler",
    "blockquote",
    "span",
}


class FakeTelegram(FakeApi):
    """Bot API at `/bot<token>/<method>`: getMe, sendMessage, getUpdates, getChatMember,
    answerCallbackQuery, editMessageReplyMarkup."""

    def __init__(
        self, token: str = "123456:TEST-token-abcdef", now: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(now)
        self.token = token
        self.updates: deque[dict[str, Any]] = deque()
        self.next_update = 1
        self.admins: dict[int, set[int]] = {}
        self.blocked: set[int] = set()
        self.migrated: dict[int, int] = {}
        self.flood: dict[int, float] = {}  # chat id -> retry_after to answer once
        self.hang_chats: set[int] = set()  # sendMessage to these chats never answers
        self.sent: list[dict[str, Any]] = []
        self._message_id = 1000
        self._sends: deque[float] = deque()
        self._chat_sends: dict[int, float] = {}
        self._group_sends: dict[int, deque[float]] = {}
        self.enforce = True
        self.tolerance = 0.01
        self.updates_ready = threading.Condition(self.lock)

    @property
    def api_url(self) -> str:
        return f"{self.base}/bot"

    def add_update(self, payload: dict[str, Any]) -> int:
        with self.lock:
            update_id = self.next_update
            self.next_update += 1
            self.updates.append({"update_id": update_id, **payload})
            self.updates_ready.notify_all()
            return update_id

    def command(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int = 7,
        chat_type: str | None = None,
        title: str | None = None,
    ) -> int:
        kind = chat_type or ("private" if chat_id > 0 else "group")
        chat: dict[str, Any] = {"id": chat_id, "type": kind}
        if kind != "private":
            chat["title"] = title or f"Group {chat_id}"
        entities = (
            [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
            if text.startswith("/")
            else []
        )
        return self.add_update(
            {
                "message": {
                    "message_id": self._new_message_id(),
                    "date": int(time.time()),
                    "chat": chat,
                    "from": {"id": user_id, "is_bot": False, "first_name": "Tester"},
                    "text": text,
                    "entities": entities,
                }
            }
        )

    def press(self, chat_id: int, message_id: int, data: str, *, user_id: int = 7) -> int:
        kind = "private" if chat_id > 0 else "group"
        return self.add_update(
            {
                "callback_query": {
                    "id": f"cb{self.next_update}",
                    "from": {"id": user_id, "is_bot": False, "first_name": "Tester"},
                    "chat_instance": "ci",
                    "data": data,
                    "message": {
                        "message_id": message_id,
                        "date": int(time.time()),
                        "chat": {
                            "id": chat_id,
                            "type": kind,
                            **({"title": "G"} if kind != "private" else {}),
                        },
                        "text": "Topics",
                    },
                }
            }
        )

    def _new_message_id(self) -> int:
        with self.lock:
            self._message_id += 1
            return self._message_id

    def messages_to(self, chat_id: int) -> list[dict[str, Any]]:
        with self.lock:
            return [m for m in self.sent if m["chat_id"] == chat_id]

    def _error(
        self, code: int, description: str, **parameters: Any
    ) -> tuple[int, Any, dict[str, str]]:
        body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
        if parameters:
            body["parameters"] = parameters
        return code, body, {}

    def dispatch(
        self, path: str, params: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        prefix = f"/bot{self.token}/"
        if not path.startswith(prefix):
            self._record(path, params, 401, headers)
            return self._error(401, "Unauthorized")
        method = path[len(prefix) :]
        with self.lock:
            down = self.now() < self.down_until
            mode = self.down_mode
        if down and method != "getUpdates":
            self._record(method, params, 503 if mode == "error" else 0, headers)
            if mode == "hang":
                time.sleep(self.hang_seconds)
                return 0, None, {}
            return self._error(503, "Service Unavailable")
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            self._record(method, params, 404, headers)
            return self._error(404, "Not Found: method not found")
        status, body, extra = handler(params)
        self._record(method, params, status, headers)
        return status, body, extra

    def _ok(self, result: Any) -> tuple[int, Any, dict[str, str]]:
        return 200, {"ok": True, "result": result}, {}

    def _m_getMe(self, params: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        return self._ok(
            {"id": 4242, "is_bot": True, "first_name": "Radar", "username": "RadarTestBot"}
        )

    def _m_deleteWebhook(self, params: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        return self._ok(True)

    def _m_getUpdates(self, params: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        deadline = time.monotonic() + min(timeout, 5.0)
        with self.lock:
            while True:
                while self.updates and self.updates[0]["update_id"] < offset:
                    self.updates.popleft()
                pending = [u for u in self.updates if u["update_id"] >= offset]
                remaining = deadline - time.monotonic()
                if pending or remaining <= 0:
                    return self._ok(pending)
                self.updates_ready.wait(remaining)

    def _m_getChatMember(self, params: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        chat_id, user_id = int(params["chat_id"]), int(params["user_id"])
        user = {"id": user_id, "is_bot": False, "first_name": "Tester"}
        if user_id in self.admins.get(chat_id, set()):
            rights = dict.fromkeys(
                [
                    "can_be_edited", "is_anonymous", "can_manage_chat", "can_delete_messages",
                    "can_manage_video_chats", "can_restrict_members", "can_promote_members",
                    "can_change_info", "can_invite_users", "can_post_stories", "can_edit_stories",
                    "can_delete_stories",
                ],
                False,
            )  # fmt: skip
            return self._ok({"status": "administrator", "user": user, **rights})
        return self._ok({"status": "member", "user": user})

    def _m_answerCallbackQuery(self, params: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        return self._ok(True)

    def _m_editMessageReplyMarkup(self, params: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        return self._ok(True)

    def _m_sendMessage(self, params: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        chat_id = int(params["chat_id"])
        text = str(params.get("text", ""))
        if chat_id in self.hang_chats:
            time.sleep(self.hang_seconds)
            return 0, None, {}
        now = self.now()
        with self.lock:
            if chat_id in self.blocked:
                return self._error(403, "Forbidden: bot was blocked by the user")
            if chat_id in self.migrated:
                return self._error(
                    400,
                    "Bad Request: group chat was upgraded to a supergroup chat",
                    migrate_to_chat_id=self.migrated[chat_id],
                )
            if chat_id in self.flood:
                retry = self.flood.pop(chat_id)
                return self._error(
                    429, f"Too Many Requests: retry after {retry:g}", retry_after=retry
                )
            if self.enforce and (retry := self._limit(chat_id, now)) is not None:
                self.rate_limited += 1
                return self._error(
                    429, f"Too Many Requests: retry after {retry}", retry_after=retry
                )
            if len(text) > 4096:
                return self._error(400, "Bad Request: message is too long")
            if params.get("parse_mode") == "HTML" and (problem := _html_problem(text)):
                return self._error(400, f"Bad Request: can't parse entities: {problem}")
            self._sends.append(now)
            self._chat_sends[chat_id] = now
            if chat_id < 0:
                self._group_sends.setdefault(chat_id, deque()).append(now)
            message_id = self._message_id = self._message_id + 1
            record = {"chat_id": chat_id, "message_id": message_id, "at": now, **params}
            self.sent.append(record)
        kind = "private" if chat_id > 0 else "group"
        return self._ok(
            {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": {
                    "id": chat_id,
                    "type": kind,
                    **({"title": "G"} if kind != "private" else {}),
                },
                "text": text,
            }
        )

    def _limit(self, chat_id: int, now: float) -> int | None:
        """Seconds to wait, when this send would break a limit (30/s, 1/s per chat, 20/min per group)."""
        while self._sends and now - self._sends[0] >= 1.0:
            self._sends.popleft()
        if len(self._sends) >= 30:
            return 1
        last = self._chat_sends.get(chat_id)
        if last is not None and now - last < 1.0 - self.tolerance:
            return 1
        if chat_id < 0:
            window = self._group_sends.setdefault(chat_id, deque())
            while window and now - window[0] >= 60.0:
                window.popleft()
            if len(window) >= 20:
                return max(1, int(60 - (now - window[0])) + 1)
        return None


class _TagChecker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problem: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in TELEGRAM_TAGS:
            self.problem = self.problem or f'unsupported start tag "{tag}"'
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.problem = self.problem or f'unexpected end tag "{tag}"'
        else:
            self.stack.pop()


_ALLOWED_TAG = re.compile(r"</?(?:" + "|".join(sorted(TELEGRAM_TAGS)) + r")(?:\s[^<>]*)?>")
_BARE_AMPERSAND = re.compile(r"&(?![a-zA-Z]+;|#\d+;|#x[0-9a-fA-F]+;)")


def _html_problem(text: str) -> str | None:
    """What Telegram's HTML parse mode would reject: unknown or unbalanced tags, bare < > &."""
    checker = _TagChecker()
    checker.feed(text)
    checker.close()
    if checker.problem:
        return checker.problem
    if checker.stack:
        return f'unclosed tag "{checker.stack[-1]}"'
    outside = _ALLOWED_TAG.sub("", text)
    if "<" in outside or ">" in outside:
        return "unescaped < or >"
    if _BARE_AMPERSAND.search(outside):
        return "unescaped &"
    return None
