"""Telegram commands: reads the bot's updates (long polling), applies what
`bot.subscriptions` decides and has the answers sent by `telegram_replies`."""

from __future__ import annotations

import asyncio
import logging

from telegram import CallbackQuery, Message, Update
from telegram.error import BadRequest, RetryAfter, TelegramError

from bot import feedback, subscriptions
from bot.clock import SYSTEM_CLOCK, Clock
from bot.config import Settings
from bot.deliver.telegram import POLL_TIMEOUT, TelegramApi, retry_seconds
from bot.deliver.telegram_replies import Replies, Reply, keyboard_markup
from bot.logs import redact
from bot.rules import RuleSet
from bot.storage import Store

log = logging.getLogger(__name__)

OFFSET_KEY = "telegram_update_offset"


class TelegramCommands:
    """Reads the bot's updates (long polling), applies commands and has them answered."""

    def __init__(
        self,
        api: TelegramApi,
        settings: Settings,
        store: Store,
        ruleset: RuleSet,
        *,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.api = api
        self.settings = settings
        self.store = store
        self.clock = clock
        self.topics = [subscriptions.Topic(r.id, r.title, r.description) for r in ruleset.topics]
        self.replies = Replies(api, store, clock)
        self.applied = 0

    async def apply_pending(self) -> int:
        """For `radar run --once`: apply every update waiting now and answer them, within
        TELEGRAM_COMMANDS_TIMEOUT seconds in all; return how many updates were applied.
        Updates left when the time is up wait for the next run; unsent answers are dropped."""
        applied = self.applied
        limit = self.settings.telegram_commands_timeout
        try:
            async with asyncio.timeout(limit):
                while await self._poll(timeout=0):
                    pass
                await self.replies.drain()
        except TimeoutError:
            log.warning(
                "Telegram commands took more than %gs (TELEGRAM_COMMANDS_TIMEOUT): updates "
                "not read yet wait for the next run, replies not sent are dropped",
                limit,
            )
        except TelegramError as exc:
            log.warning("cannot read Telegram commands: %s", redact(str(exc)))
        finally:
            await self.replies.abandon()
        return self.applied - applied

    async def run(self, stop: asyncio.Event) -> None:
        """Answer commands until `stop` is set; back off while Telegram is unreachable."""
        failures = 0
        try:
            while not stop.is_set():
                wait = 0.0
                try:
                    poll = asyncio.create_task(self._poll(timeout=POLL_TIMEOUT))
                    stopping = asyncio.create_task(stop.wait())
                    done, _ = await asyncio.wait(
                        {poll, stopping}, return_when=asyncio.FIRST_COMPLETED
                    )
                    if stopping in done:
                        poll.cancel()
                        await asyncio.gather(poll, return_exceptions=True)
                        return
                    stopping.cancel()
                    poll.result()
                    failures = 0
                except RetryAfter as exc:  # for the bot as a whole, not one chat
                    wait = retry_seconds(exc)
                except TelegramError as exc:
                    failures += 1
                    wait = min(2**failures, 60)
                    log.warning(
                        "reading Telegram commands failed (%s); retrying in %ds",
                        redact(str(exc)),
                        wait,
                    )
                if wait:
                    try:
                        await asyncio.wait_for(stop.wait(), timeout=wait)
                    except TimeoutError:
                        continue
        finally:
            await self.replies.abandon()

    async def _poll(self, timeout: int) -> int:
        """Read one batch of updates and apply them in order; answers are queued, not
        awaited. Returns how many updates there were."""
        await self.api.ready()
        offset = int(await asyncio.to_thread(self.store.meta.get, OFFSET_KEY) or 0)
        updates = await self.api.bot.get_updates(
            offset=offset or None,
            timeout=timeout,
            allowed_updates=["message", "callback_query", "my_chat_member"],
        )
        await self.replies.prepare()
        done = offset
        try:
            for update in updates:
                try:
                    await self.handle(update)
                except TelegramError as exc:
                    log.warning(
                        "answering update %d failed: %s", update.update_id, redact(str(exc))
                    )
                done = update.update_id + 1
                self.applied += 1
        finally:
            if done != offset:
                await asyncio.to_thread(self.store.meta.set, OFFSET_KEY, str(done))
        return len(updates)

    def _allowed(self, chat_id: int) -> bool:
        allowed = self.settings.telegram_allowed_chats
        return allowed is None or chat_id in allowed

    def _reply(self, chat_id: int, outcome: subscriptions.Outcome) -> None:
        if outcome.reply:
            markup = keyboard_markup(outcome.keyboard)
            self.replies.send(Reply(chat_id, outcome.reply, markup, outcome.refusal))

    async def handle(self, update: Update) -> None:
        if update.my_chat_member is not None:
            await self._membership(update)
        elif update.callback_query is not None and feedback.is_verdict(update.callback_query.data):
            await feedback.on_telegram_callback(
                self.store, update.callback_query, self.clock.time()
            )
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
        """What a decision needs to know about a chat. A chat Radar does not serve costs no
        database read and no call to Telegram."""
        if not self._allowed(chat_id):
            return subscriptions.Chat(chat_id, kind, allowed=False)
        subscribed = frozenset(await asyncio.to_thread(self.store.subscriptions.topics, chat_id))
        limit = self.settings.telegram_max_chats
        room = True
        if self.settings.telegram_allowed_chats is None and limit and not subscribed:
            room = await asyncio.to_thread(self.store.subscriptions.subscribed_chat_count) < limit
        is_admin = True
        if kind in ("group", "supergroup") and check_admin:
            # A chat that cannot subscribe (the bot is full) is not worth a call to Telegram.
            is_admin = room and await self._is_admin(chat_id, user_id, sender_chat_id)
        return subscriptions.Chat(chat_id, kind, True, is_admin, subscribed, room, limit)

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
        chat = message.chat
        parsed = subscriptions.parse(message.text or "", self.api.username)
        if parsed is None:
            state = subscriptions.Chat(chat.id, chat.type, allowed=self._allowed(chat.id))
            self._reply(chat.id, subscriptions.handle_text(state))
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
        self._reply(chat.id, outcome)

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
            markup = keyboard_markup(subscriptions.keyboard(self.topics, subscribed))
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
        now = self.clock.time()
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
