"""Telegram through python-telegram-bot: the API and alerts to subscribed chats.

`TelegramApi` holds the one `Bot` and the rate limits (about 30 messages/s overall, 1/s per
chat, 20/min per group). `TelegramSender` delivers alerts (HTML, follow-ups as replies to the
chat's first alert of the story). Commands are read by `telegram_commands` and answered by
`telegram_replies`.

No chat can hold up another: a chat's flood wait (`retry_after`, capped by
RADAR_MAX_RETRY_AFTER) pauses that chat only, its alerts are rescheduled to when the wait ends
and its replies are dropped, and nothing shared ever sleeps on it. A token Telegram refuses
(401/404) holds every alert, to be sent once it is fixed.
"""

from __future__ import annotations

import os

# python-telegram-bot 22 gives Retry-After as a timedelta with this set (and warns without it).
os.environ.setdefault("PTB_TIMEDELTA", "true")

import logging
import re
import warnings
from datetime import timedelta
from typing import Any

from telegram import Bot, InlineKeyboardMarkup, LinkPreviewOptions, Message, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
)
from telegram.request import HTTPXRequest

from bot import feedback
from bot.config import DEFAULT_MAX_RETRY_AFTER
from bot.deliver.outcome import (
    Blocked,
    Failed,
    Held,
    Moved,
    Retry,
    SendResult,
    Sent,
)
from bot.deliver.ratelimit import RateLimiter
from bot.deliver.route import target_of
from bot.digest import Digest, telegram_digest
from bot.format import AlertView, telegram_html
from bot.logs import redact

log = logging.getLogger(__name__)

GLOBAL_SPACING = 1 / 28  # a little under 30 messages a second
CHAT_SPACING = 1.05
GROUP_SPACING = 3.05  # 20 a minute
POLL_TIMEOUT = 25  # seconds a long poll for updates waits
# Link previews are off, as Slack unfurling is: a preview is what the linked page says of itself.
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
_TAG = re.compile(r"<[^>]+>")


def retry_seconds(exc: RetryAfter) -> float:
    """Seconds Telegram asked us to wait (python-telegram-bot gives an int or a timedelta)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class TelegramApi:
    """The Bot, created once, and the rate limits every message goes through."""

    def __init__(
        self,
        token: str,
        base_url: str,
        *,
        limiter: RateLimiter | None = None,
        max_retry_after: float = DEFAULT_MAX_RETRY_AFTER,
    ) -> None:
        self.max_retry_after = max_retry_after
        self.bot = Bot(
            token,
            base_url=base_url,
            request=HTTPXRequest(
                connection_pool_size=64,
                read_timeout=20,
                write_timeout=20,
                connect_timeout=10,
                pool_timeout=30,
            ),
            get_updates_request=HTTPXRequest(
                connection_pool_size=2, read_timeout=POLL_TIMEOUT + 10
            ),
        )
        self.limiter = limiter or RateLimiter()
        self._ready = False
        self.username: str | None = None
        self.instances = 1

    async def ready(self) -> None:
        """Initialise the bot once (getMe); raises TelegramError when the API is unreachable."""
        if not self._ready:
            await self.bot.initialize()
            self.username = self.bot.username
            self._ready = True

    def chat_limits(self, chat_id: int) -> list[tuple[str, float]]:
        """The chat's own limits: 1 message a second, and 20 a minute in a group."""
        limits = [(f"telegram:{chat_id}", CHAT_SPACING)]
        if chat_id < 0:
            limits.append((f"telegram-group:{chat_id}", GROUP_SPACING))
        return limits

    def overall_limits(self) -> list[tuple[str, float]]:
        """The limit all chats share: about 30 messages a second, split between instances."""
        return [("telegram", GLOBAL_SPACING * self.instances)]

    async def wait_turn(self, chat_id: int) -> None:
        await self.limiter.wait(self.chat_limits(chat_id), self.overall_limits())

    async def send_message(self, chat_id: int, text: str, **options: Any) -> Message:
        """Every message to a chat goes through here: its spacing counts from when the
        request ended as well as from when it was booked."""
        try:
            return await self.bot.send_message(chat_id, text, **options)
        finally:
            self.limiter.finished(self.chat_limits(chat_id))

    def turn_in(self, chat_id: int) -> float:
        """Seconds until the chat's own limits allow a message."""
        return self.limiter.free_in(self.chat_limits(chat_id))

    def free_in(self, chat_id: int, extra: list[tuple[str, float]]) -> float:
        """Seconds until every limit of a message to the chat (and `extra`) has room."""
        return self.limiter.free_in([*self.chat_limits(chat_id), *self.overall_limits(), *extra])

    def try_turn(self, chat_id: int, extra: list[tuple[str, float]]) -> bool:
        """Book a message to the chat now, if every limit (and `extra`) has room now."""
        return self.limiter.try_reserve(
            [*self.chat_limits(chat_id), *self.overall_limits(), *extra]
        )

    def flood_wait(self, chat_id: int, seconds: float) -> None:
        """Pause the chat for the wait Telegram asked, at most `max_retry_after` seconds."""
        self.limiter.pause(f"telegram:{chat_id}", min(seconds, self.max_retry_after))

    def held(self, chat_id: int) -> float:
        """Seconds left of a flood wait Telegram asked for on this chat (0: none)."""
        return self.limiter.paused_for([key for key, _ in self.chat_limits(chat_id)])

    async def aclose(self) -> None:
        if self._ready:
            await self.bot.shutdown()
            self._ready = False


class TelegramSender:
    def __init__(self, api: TelegramApi) -> None:
        self.api = api

    async def check(self) -> Held | None:
        """getMe, once: a token Telegram refuses (401/404) is a hold; trouble reaching
        Telegram is not."""
        try:
            await self.api.ready()
        except InvalidToken as exc:
            return _token_refused(exc)
        except TelegramError as exc:
            log.warning("cannot reach Telegram to check the token: %s", redact(str(exc)))
            return None
        log.info("Telegram token ok: bot @%s", self.api.username)
        return None

    async def aclose(self) -> None:
        await self.api.aclose()

    async def wait_turn(self, destination: str) -> None:
        chat_id = int(target_of(destination))
        if self.api.held(chat_id) == 0:  # a chat in a flood wait is not waited for: see send
            await self.api.wait_turn(chat_id)

    def spacing(self, destination: str) -> float:
        return GROUP_SPACING if int(target_of(destination)) < 0 else CHAT_SPACING

    def share(self, instances: int) -> None:
        self.api.instances = max(1, instances)

    async def send(self, destination: str, view: AlertView, parent_ref: str | None) -> SendResult:
        return await self._message(
            destination,
            telegram_html(view),
            parent_ref,
            quiet=view.is_followup,
            markup=feedback.telegram_markup(view),
        )

    async def send_digest(self, destination: str, digest: Digest) -> SendResult:
        return await self._message(destination, telegram_digest(digest), None)

    async def _message(
        self,
        destination: str,
        text: str,
        parent_ref: str | None,
        *,
        quiet: bool = False,
        markup: InlineKeyboardMarkup | None = None,
    ) -> SendResult:
        """Send HTML `text` (as plain text if Telegram cannot parse it), replying to
        `parent_ref`, without notification when `quiet`."""
        chat_id = int(target_of(destination))
        if (held := self.api.held(chat_id)) > 0:
            return Retry(f"Telegram flood control: {held:.0f}s left", after=held)
        reply = (
            ReplyParameters(message_id=int(parent_ref), allow_sending_without_reply=True)
            if parent_ref and parent_ref.isdigit()
            else None
        )

        async def post(body: str, parse_mode: str | None) -> Message:
            return await self.api.send_message(
                chat_id,
                body,
                parse_mode=parse_mode,
                reply_parameters=reply,
                link_preview_options=NO_PREVIEW,
                disable_notification=quiet,
                reply_markup=markup,
            )

        try:
            await self.api.ready()
            message = await post(text, ParseMode.HTML)
        except BadRequest as exc:
            reason = exc.message.lower()
            if "can't parse entities" in reason or "unsupported start tag" in reason:
                # Our escaping should prevent this; still, never lose the alert over markup.
                try:
                    plain = (
                        _TAG.sub("", text)
                        .replace("&lt;", "<")
                        .replace("&gt;", ">")
                        .replace("&amp;", "&")
                    )
                    message = await post(plain, None)
                except TelegramError as again:
                    return self._failure(chat_id, again)
            else:
                return self._failure(chat_id, exc)
        except TelegramError as exc:
            return self._failure(chat_id, exc)
        return Sent(str(message.message_id))

    def _failure(self, chat_id: int, exc: TelegramError) -> SendResult:
        if isinstance(exc, InvalidToken):
            return _token_refused(exc)
        if isinstance(exc, RetryAfter):
            seconds = retry_seconds(exc)
            self.api.flood_wait(chat_id, seconds)
            return Retry(f"Telegram flood control: retry after {seconds:g}s", after=seconds)
        if isinstance(exc, ChatMigrated):
            return Moved(f"telegram:{exc.new_chat_id}")
        if isinstance(exc, Forbidden):
            return Blocked(redact(f"Telegram: {exc.message}"))
        if isinstance(exc, BadRequest):
            reason = exc.message.lower()
            if (
                "chat not found" in reason
                or "bot was kicked" in reason
                or "user is deactivated" in reason
            ):
                return Blocked(redact(f"Telegram: {exc.message}"))
            return Failed(redact(f"Telegram refused the message: {exc.message}"))
        return Retry(redact(f"Telegram unreachable: {type(exc).__name__}: {exc}"))


def _token_refused(exc: InvalidToken) -> Held:
    return Held(redact(f"Telegram refused TELEGRAM_BOT_TOKEN: {exc.message}"))
