"""Telegram through python-telegram-bot: alerts to subscribed chats, and the bot's commands.

`TelegramApi` holds the one `Bot` and the rate limits (about 30 messages/s overall, 1/s per
chat, 20/min per group). `TelegramSender` delivers alerts (HTML, follow-ups as replies to the
chat's first alert of the story). `TelegramCommands` reads updates and carries out what
`bot.subscriptions` decides.
"""

from __future__ import annotations

import os

# python-telegram-bot 22 gives Retry-After as a timedelta with this set (and warns without it).
os.environ.setdefault("PTB_TIMEDELTA", "true")

import asyncio
import logging
import re
import time
import warnings
from collections.abc import Callable
from datetime import timedelta

from telegram import (
    Bot,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    ReplyParameters,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter, TelegramError
from telegram.request import HTTPXRequest

from bot import feedback, subscriptions
from bot.config import Settings
from bot.deliver.outbox import Blocked, Failed, Moved, Retry, SendResult, Sent
from bot.deliver.ratelimit import RateLimiter
from bot.deliver.route import target_of
from bot.format import AlertView, telegram_html
from bot.logs import redact
from bot.rules import RuleSet
from bot.storage import Store

log = logging.getLogger(__name__)

GLOBAL_SPACING = 1 / 28  # a little under 30 messages a second
CHAT_SPACING = 1.05
GROUP_SPACING = 3.05  # 20 a minute
POLL_TIMEOUT = 25
OFFSET_KEY = "telegram_update_offset"
_TAG = re.compile(r"<[^>]+>")


def _retry_seconds(exc: RetryAfter) -> float:
    """Seconds Telegram asked us to wait (python-telegram-bot gives an int or a timedelta)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class TelegramApi:
    """The Bot, created once, and the rate limits every message goes through."""

    def __init__(self, token: str, base_url: str, *, limiter: RateLimiter | None = None) -> None:
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

    def limits(self, chat_id: int) -> list[tuple[str, float]]:
        limits = [
            ("telegram", GLOBAL_SPACING * self.instances),
            (f"telegram:{chat_id}", CHAT_SPACING),
        ]
        if chat_id < 0:
            limits.append((f"telegram-group:{chat_id}", GROUP_SPACING))
        return limits

    async def wait_turn(self, chat_id: int) -> None:
        await self.limiter.wait(self.limits(chat_id))

    def flood_wait(self, chat_id: int, seconds: float) -> None:
        self.limiter.pause(f"telegram:{chat_id}", seconds)

    async def aclose(self) -> None:
        if self._ready:
            await self.bot.shutdown()
            self._ready = False


class TelegramSender:
    def __init__(self, api: TelegramApi) -> None:
        self.api = api

    async def aclose(self) -> None:
        await self.api.aclose()

    async def wait_turn(self, destination: str) -> None:
        await self.api.wait_turn(int(target_of(destination)))

    def spacing(self, destination: str) -> float:
        return GROUP_SPACING if int(target_of(destination)) < 0 else CHAT_SPACING

    def share(self, instances: int) -> None:
        self.api.instances = max(1, instances)

    async def send(self, destination: str, view: AlertView, parent_ref: str | None) -> SendResult:
        chat_id = int(target_of(destination))
        text = telegram_html(view)
        try:
            await self.api.ready()
            message = await self._send(chat_id, text, view, parent_ref, ParseMode.HTML)
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
                    message = await self._send(chat_id, plain, view, parent_ref, None)
                except TelegramError as again:
                    return self._failure(chat_id, again)
            else:
                return self._failure(chat_id, exc)
        except TelegramError as exc:
            return self._failure(chat_id, exc)
        return Sent(str(message.message_id))

    async def _send(
        self,
        chat_id: int,
        text: str,
        view: AlertView,
        parent_ref: str | None,
        parse_mode: str | None,
    ) -> Message:
        reply = (
            ReplyParameters(message_id=int(parent_ref), allow_sending_without_reply=True)
            if parent_ref and parent_ref.isdigit()
            else None
        )
        return await self.api.bot.send_message(
            chat_id,
            text,
            parse_mode=parse_mode,
            reply_parameters=reply,
            link_preview_options=LinkPreviewOptions(is_disabled=view.is_followup),
            disable_notification=view.is_followup,
            reply_markup=feedback.telegram_markup(view),
        )

    def _failure(self, chat_id: int, exc: TelegramError) -> SendResult:
        if isinstance(exc, RetryAfter):
            seconds = _retry_seconds(exc)
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


def _markup(
    rows: tuple[tuple[subscriptions.Button, ...], ...] | None,
) -> InlineKeyboardMarkup | None:
    if rows is None:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.text, callback_data=b.data) for b in row] for row in rows]
    )


class TelegramCommands:
    """Reads the bot's updates (long polling) and answers commands."""

    def __init__(
        self,
        api: TelegramApi,
        settings: Settings,
        store: Store,
        ruleset: RuleSet,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.api = api
        self.settings = settings
        self.store = store
        self.clock = clock
        self.topics = [subscriptions.Topic(r.id, r.title, r.description) for r in ruleset.topics]

    async def apply_pending(self) -> int:
        """Handle every update waiting now (for `radar run --once`); return how many."""
        try:
            return await self._poll(timeout=0)
        except TelegramError as exc:
            log.warning("cannot read Telegram commands: %s", redact(str(exc)))
            return 0

    async def run(self, stop: asyncio.Event) -> None:
        """Answer commands until `stop` is set; back off while Telegram is unreachable."""
        failures = 0
        while not stop.is_set():
            try:
                poll = asyncio.create_task(self._poll(timeout=POLL_TIMEOUT))
                stopping = asyncio.create_task(stop.wait())
                done, _ = await asyncio.wait({poll, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if stopping in done:
                    poll.cancel()
                    await asyncio.gather(poll, return_exceptions=True)
                    return
                stopping.cancel()
                poll.result()
                failures = 0
            except RetryAfter as exc:
                await asyncio.sleep(_retry_seconds(exc))
            except TelegramError as exc:
                failures += 1
                wait = min(2**failures, 60)
                log.warning(
                    "reading Telegram commands failed (%s); retrying in %ds", redact(str(exc)), wait
                )
                try:
                    await asyncio.wait_for(stop.wait(), timeout=wait)
                except TimeoutError:
                    continue

    async def _poll(self, timeout: int) -> int:
        await self.api.ready()
        offset = int(await asyncio.to_thread(self.store.meta.get, OFFSET_KEY) or 0)
        updates = await self.api.bot.get_updates(
            offset=offset or None,
            timeout=timeout,
            allowed_updates=["message", "callback_query", "my_chat_member"],
        )
        for update in updates:
            try:
                await self.handle(update)
            except TelegramError as exc:
                log.warning("answering update %d failed: %s", update.update_id, redact(str(exc)))
            await asyncio.to_thread(self.store.meta.set, OFFSET_KEY, str(update.update_id + 1))
        return len(updates)

    async def handle(self, update: Update) -> None:
        if update.my_chat_member is not None:
            await self._membership(update)
        elif update.callback_query is not None and feedback.is_verdict(update.callback_query.data):
            await feedback.on_telegram_callback(self.store, update.callback_query, self.clock())
        elif update.callback_query is not None:
            await self._toggle(update.callback_query)
        elif update.message is not None and update.message.text:
            await self._command(update.message)

    async def _membership(self, update: Update) -> None:
        change = update.my_chat_member
        assert change is not None
        if change.new_chat_member.status in ("kicked", "left"):
            log.info("removed from chat %s; forgetting its subscriptions", change.chat.id)
            await asyncio.to_thread(self.store.subscriptions.forget, change.chat.id)

    async def _chat(
        self,
        chat_id: int,
        kind: str,
        user_id: int | None,
        sender_chat_id: int | None,
        check_admin: bool,
    ) -> subscriptions.Chat:
        allowed = (
            self.settings.telegram_allowed_chats is None
            or chat_id in self.settings.telegram_allowed_chats
        )
        subscribed = frozenset(await asyncio.to_thread(self.store.subscriptions.topics, chat_id))
        is_admin = True
        if kind in ("group", "supergroup") and check_admin:
            is_admin = await self._is_admin(chat_id, user_id, sender_chat_id)
        return subscriptions.Chat(chat_id, kind, allowed, is_admin, subscribed)

    async def _is_admin(
        self, chat_id: int, user_id: int | None, sender_chat_id: int | None
    ) -> bool:
        if sender_chat_id == chat_id:
            return True  # an anonymous administrator posting as the group
        if user_id is None:
            return False
        member = await self.api.bot.get_chat_member(chat_id, user_id)
        return member.status in ("administrator", "creator")

    async def _command(self, message: Message) -> None:
        parsed = subscriptions.parse(message.text or "", self.api.username)
        chat = message.chat
        if parsed is None:
            if chat.type == "private":
                await self._reply(chat.id, "Send /help to see what I can do.", None)
            return
        command, args = parsed
        user = message.from_user
        state = await self._chat(
            chat.id,
            chat.type,
            user.id if user else None,
            message.sender_chat.id if message.sender_chat else None,
            subscriptions.needs_admin(command) or command in ("start", "topics"),
        )
        outcome = subscriptions.handle(command, args, state, self.topics)
        await self._apply(chat.id, chat.type, chat.title, outcome)
        if outcome.reply:
            await self._reply(chat.id, outcome.reply, _markup(outcome.keyboard))

    async def _toggle(self, query: CallbackQuery) -> None:
        message = query.message
        if (
            message is None
            or not query.data
            or not query.data.startswith(subscriptions.TOGGLE_PREFIX)
        ):
            await query.answer()
            return
        chat = message.chat
        state = await self._chat(chat.id, chat.type, query.from_user.id, None, True)
        outcome = subscriptions.handle_toggle(query.data, state, self.topics)
        await self._apply(chat.id, chat.type, chat.title, outcome)
        await query.answer(outcome.notice)
        if outcome.refresh_keyboard:
            subscribed = frozenset(
                await asyncio.to_thread(self.store.subscriptions.topics, chat.id)
            )
            markup = _markup(subscriptions.keyboard(self.topics, subscribed))
            try:
                await self.api.bot.edit_message_reply_markup(
                    chat.id, message.message_id, reply_markup=markup
                )
            except BadRequest as exc:
                if "not modified" not in exc.message.lower():
                    raise

    async def _apply(
        self, chat_id: int, kind: str, title: str | None, outcome: subscriptions.Outcome
    ) -> None:
        now = self.clock()
        if outcome.subscribe:
            await asyncio.to_thread(
                self.store.subscriptions.subscribe, chat_id, outcome.subscribe, now, kind, title
            )
            log.info("chat %s subscribed to %s", chat_id, ", ".join(outcome.subscribe))
        if outcome.unsubscribe:
            await asyncio.to_thread(
                self.store.subscriptions.unsubscribe, chat_id, outcome.unsubscribe
            )
            log.info("chat %s unsubscribed from %s", chat_id, ", ".join(outcome.unsubscribe))

    async def _reply(self, chat_id: int, text: str, markup: InlineKeyboardMarkup | None) -> None:
        await self.api.wait_turn(chat_id)
        try:
            await self.api.bot.send_message(
                chat_id, text, parse_mode=ParseMode.HTML, reply_markup=markup
            )
        except RetryAfter as exc:
            self.api.flood_wait(chat_id, _retry_seconds(exc))
            await asyncio.sleep(_retry_seconds(exc))
            await self.api.bot.send_message(
                chat_id, text, parse_mode=ParseMode.HTML, reply_markup=markup
            )
        except Forbidden:
            await asyncio.to_thread(self.store.subscriptions.forget, chat_id)
