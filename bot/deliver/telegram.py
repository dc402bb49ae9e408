"""Telegram through python-telegram-bot: alerts to subscribed chats, and the bot's commands.

`TelegramApi` holds the one `Bot` and the rate limits (about 30 messages/s overall, 1/s per
chat, 20/min per group). `TelegramSender` delivers alerts (HTML, follow-ups as replies to the
chat's first alert of the story). `TelegramCommands` reads updates and carries out what
`bot.subscriptions` decides; `Replies` answers them, each chat in its own lane.

No chat can hold up another: a chat's flood wait (`retry_after`) pauses that chat only, its
alerts are rescheduled to when the wait ends and its replies are dropped, and nothing shared
ever sleeps on it. Chats Radar does not serve get at most one refusal a day, sent only when
Telegram's overall rate has room for it.
"""

from __future__ import annotations

import os

# python-telegram-bot 22 gives Retry-After as a timedelta with this set (and warns without it).
os.environ.setdefault("PTB_TIMEDELTA", "true")

import asyncio
import json
import logging
import re
import time
import warnings
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
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
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
)
from telegram.request import HTTPXRequest

from bot import feedback, subscriptions
from bot.config import DEFAULT_MAX_RETRY_AFTER, Settings
from bot.deliver.outcome import (
    Blocked,
    Failed,
    Held,
    Moved,
    Retry,
    SendResult,
    Sent,
)
from bot.deliver.ratelimit import LATE, RateLimiter
from bot.deliver.route import target_of
from bot.format import AlertView, telegram_html, telegram_parts
from bot.logs import redact
from bot.rules import RuleSet
from bot.storage import Store

log = logging.getLogger(__name__)

GLOBAL_SPACING = 1 / 28  # a little under 30 messages a second
CHAT_SPACING = 1.05
GROUP_SPACING = 3.05  # 20 a minute
POLL_TIMEOUT = 25
OFFSET_KEY = "telegram_update_offset"
REFUSED_KEY = "telegram_refused"  # meta: when each chat Radar does not serve was last refused
REFUSALS_KEY = "telegram-refusals"  # the rate limit all refusals share
REFUSAL_PERIOD = 86400.0  # a chat Radar does not serve is refused at most once a day
REFUSAL_SPACING = 3.0  # and refusals, all chats together, go out at most every 3 s
MAX_REFUSED = 10_000  # refusals remembered (the oldest are forgotten first)
REFUSALS_QUEUED = 100  # refusals waiting to be sent; more are dropped
REPLY_QUEUE = 5  # replies waiting per chat; a chat that floods commands gets the latest
MAX_REPLY_WAIT = 30.0  # a reply that would wait longer for its chat's turn is dropped
REPLY_CONCURRENCY = 16  # replies in flight at once
# Link previews are off, as Slack unfurling is: a preview is what the linked page says of itself.
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
_TAG = re.compile(r"<[^>]+>")


def _retry_seconds(exc: RetryAfter) -> float:
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
    def __init__(
        self, api: TelegramApi, *, max_retry_after: float = DEFAULT_MAX_RETRY_AFTER
    ) -> None:
        self.api = api
        self.max_retry_after = max_retry_after

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
        chat_id = int(target_of(destination))
        if (held := self.api.held(chat_id)) > 0:
            return Retry(f"Telegram flood control: {held:.0f}s left", after=held)
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
            link_preview_options=NO_PREVIEW,
            disable_notification=view.is_followup,
            reply_markup=feedback.telegram_markup(view),
        )

    def _failure(self, chat_id: int, exc: TelegramError) -> SendResult:
        if isinstance(exc, InvalidToken):
            return _token_refused(exc)
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


def _token_refused(exc: InvalidToken) -> Held:
    return Held(redact(f"Telegram refused TELEGRAM_BOT_TOKEN: {exc.message}"))


def _markup(
    rows: tuple[tuple[subscriptions.Button, ...], ...] | None,
) -> InlineKeyboardMarkup | None:
    if rows is None:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.text, callback_data=b.data) for b in row] for row in rows]
    )


@dataclass(frozen=True, slots=True)
class Reply:
    """An answer to a command (HTML). A `refusal` goes to a chat Radar does not serve."""

    chat_id: int
    text: str
    markup: InlineKeyboardMarkup | None = None
    refusal: bool = False


class Replies:
    """Answers to commands, one lane per chat, the lanes served concurrently.

    A chat's replies go out in order, within its own limits; a chat that floods commands gets
    answers to its latest `REPLY_QUEUE`. A reply is dropped, never waited for, when its chat
    is in a flood wait or its turn is more than `MAX_REPLY_WAIT` away.

    Refusals (to chats Radar does not serve) have one lane of their own, served last: a
    refusal goes out only when every limit has room at that moment (it books no slot ahead of
    anything), refusals together at most every `REFUSAL_SPACING` seconds, and a chat gets at
    most one per `REFUSAL_PERIOD` (remembered in the database). What strangers send never
    delays an alert or another chat's answer.
    """

    def __init__(self, api: TelegramApi, store: Store, clock: Callable[[], float]) -> None:
        self.api = api
        self.store = store
        self.clock = clock
        self._lanes: dict[int, deque[Reply]] = {}
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._refusals: deque[Reply] = deque(maxlen=REFUSALS_QUEUED)
        self._refusing: asyncio.Task[None] | None = None
        self._sending: set[asyncio.Task[None]] = set()  # refusals booked, being sent
        self._refused: dict[int, float] | None = None
        self._slots = asyncio.Semaphore(REPLY_CONCURRENCY)
        self.dropped = 0  # replies not sent (flood waits, full queues, time up): logged

    def send(self, reply: Reply) -> None:
        """Queue a reply; its chat's lane sends it (call from the event loop)."""
        if reply.refusal:
            self._refuse(reply)
            return
        lane = self._lanes.setdefault(reply.chat_id, deque(maxlen=REPLY_QUEUE))
        if len(lane) == lane.maxlen:
            self.dropped += 1
        lane.append(reply)
        if reply.chat_id not in self._tasks:
            task = asyncio.create_task(self._serve(reply.chat_id), name=f"replies:{reply.chat_id}")
            self._tasks[reply.chat_id] = task
            task.add_done_callback(self._done)

    async def drain(self) -> None:
        """Wait until every queued answer, and every refusal already booked, is sent or
        dropped (refusals still waiting for room are not waited for)."""
        while self._tasks or self._sending:
            tasks = [*self._tasks.values(), *self._sending]
            await asyncio.gather(*tasks, return_exceptions=True)

    async def abandon(self) -> None:
        """Stop sending: replies not yet sent are dropped (a late answer helps no one)."""
        tasks = [
            *self._tasks.values(),
            *self._sending,
            *([self._refusing] if self._refusing else []),
        ]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.dropped += sum(len(lane) for lane in self._lanes.values()) + len(self._refusals)
        self._lanes.clear()
        self._refusals.clear()
        if self.dropped:
            log.info("%d replies to Telegram commands were not sent", self.dropped)
            self.dropped = 0

    def _done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("answering Telegram commands failed: %s", redact(repr(exc)))

    async def _serve(self, chat_id: int) -> None:
        lane = self._lanes[chat_id]
        try:
            while lane:
                reply = lane.popleft()
                await self._send(reply, await self._turn(reply.chat_id))
        finally:
            del self._tasks[chat_id]
            if not lane:
                self._lanes.pop(chat_id, None)

    async def _turn(self, chat_id: int) -> bool:
        """Wait for the chat's turn; False when the reply should be dropped instead."""
        if self.api.held(chat_id) > 0 or self.api.turn_in(chat_id) > MAX_REPLY_WAIT:
            return False
        await self.api.wait_turn(chat_id)
        return True

    async def prepare(self) -> None:
        """Read which chats were refused lately (once, before the first update is handled)."""
        if self._refused is None:
            self._refused = await asyncio.to_thread(self._load_refused)

    def _refuse(self, reply: Reply) -> None:
        """Send a refusal now if every limit has room now and none is waiting; else queue
        it behind the others, to go when there is room (or never)."""
        if self._recently_refused(reply.chat_id):
            return
        if self._refusing is None and self._book_refusal(reply.chat_id):
            task = asyncio.create_task(self._send_refusal(reply), name="refusal")
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)
            task.add_done_callback(self._done)
            return
        if len(self._refusals) == self._refusals.maxlen:
            self.dropped += 1
        self._refusals.append(reply)
        if self._refusing is None:
            self._refusing = asyncio.create_task(self._serve_refusals(), name="refusals")
            self._refusing.add_done_callback(self._done)

    def _recently_refused(self, chat_id: int) -> bool:
        assert self._refused is not None, "prepare() reads the refusals first"
        last = self._refused.get(chat_id)
        return last is not None and self.clock() - last < REFUSAL_PERIOD

    def _book_refusal(self, chat_id: int) -> bool:
        """Book a refusal to the chat if every limit has room at this moment, and remember
        it (so the chat is not refused again for a day)."""
        assert self._refused is not None
        if not self.api.try_turn(chat_id, [(REFUSALS_KEY, REFUSAL_SPACING)]):
            return False
        self._refused.pop(chat_id, None)
        self._refused[chat_id] = self.clock()
        while len(self._refused) > MAX_REFUSED:
            del self._refused[next(iter(self._refused))]
        return True

    async def _send_refusal(self, reply: Reply) -> None:
        await asyncio.to_thread(self._save_refused)
        await self._send(reply, True)

    async def _serve_refusals(self) -> None:
        """The queued refusals, one at a time, each when there is room: waiting books
        nothing, so it never delays another message."""
        try:
            while self._refusals:
                reply = self._refusals.popleft()
                if self._recently_refused(reply.chat_id):
                    continue
                if await self._refusal_turn(reply.chat_id):
                    await self._send_refusal(reply)
                else:
                    self.dropped += 1
        finally:
            self._refusing = None

    async def _refusal_turn(self, chat_id: int) -> bool:
        """Wait, booking nothing, until every limit has room at once; then book it. False
        when that takes longer than `MAX_REPLY_WAIT`."""
        waited = 0.0
        while not self._book_refusal(chat_id):
            wait = max(self.api.free_in(chat_id, [(REFUSALS_KEY, REFUSAL_SPACING)]), LATE)
            if self.api.held(chat_id) > 0 or waited + wait > MAX_REPLY_WAIT:
                return False
            await asyncio.sleep(wait)
            waited += wait
        return True

    def _load_refused(self) -> dict[int, float]:
        raw = self.store.meta.get(REFUSED_KEY)
        try:
            stored = json.loads(raw) if raw else {}
        except ValueError:
            stored = {}
        now = self.clock()
        return {
            int(chat): float(at)
            for chat, at in sorted(stored.items(), key=lambda kv: float(kv[1]))
            if now - float(at) < REFUSAL_PERIOD
        }

    def _save_refused(self) -> None:
        assert self._refused is not None
        self.store.meta.set(REFUSED_KEY, json.dumps({str(c): t for c, t in self._refused.items()}))

    async def _send(self, reply: Reply, turn: bool) -> None:
        """Send a reply (in parts when it is longer than a message), the first part in the
        turn already waited for; the keyboard goes with the last part. A short flood wait
        is waited out in this chat's lane (once); a long one drops the reply."""
        chat_id = reply.chat_id
        parts = telegram_parts(reply.text)
        for number, text in enumerate(parts, start=1):
            if number > 1:
                turn = await self._turn(chat_id)
            for attempt in range(2):
                if not turn:
                    self.dropped += 1
                    return
                try:
                    async with self._slots:
                        await self.api.bot.send_message(
                            chat_id,
                            text,
                            parse_mode=ParseMode.HTML,
                            reply_markup=reply.markup if number == len(parts) else None,
                            link_preview_options=NO_PREVIEW,
                        )
                    break
                except RetryAfter as exc:
                    seconds = _retry_seconds(exc)
                    self.api.flood_wait(chat_id, seconds)
                    if attempt or reply.refusal or seconds > MAX_REPLY_WAIT:
                        log.info(
                            "Telegram asks to wait %gs before writing to chat %s: reply dropped",
                            seconds,
                            chat_id,
                        )
                        self.dropped += 1
                        return
                    await self.api.wait_turn(chat_id)  # the chat's own keys wait `seconds`
                    turn = True
                except Forbidden:
                    await asyncio.to_thread(self.store.subscriptions.forget, chat_id)
                    self.dropped += 1
                    return
                except TelegramError as exc:
                    log.warning("answering chat %s failed: %s", chat_id, redact(str(exc)))
                    self.dropped += 1
                    return


class TelegramCommands:
    """Reads the bot's updates (long polling), applies commands and has them answered."""

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
                    wait = _retry_seconds(exc)
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
            markup = _markup(outcome.keyboard)
            self.replies.send(Reply(chat_id, outcome.reply, markup, outcome.refusal))

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
