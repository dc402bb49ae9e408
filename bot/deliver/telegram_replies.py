"""Answers to Telegram commands: one lane per chat, the lanes served concurrently, and
refusals to chats Radar does not serve sent only when every limit has room."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import Forbidden, RetryAfter, TelegramError

from bot import subscriptions
from bot.clock import Clock
from bot.deliver.ratelimit import LATE
from bot.deliver.telegram import NO_PREVIEW, TelegramApi, retry_seconds
from bot.format import telegram_parts
from bot.logs import redact
from bot.storage import Store

log = logging.getLogger(__name__)

REFUSED_KEY = "telegram_refused"  # meta: when each chat Radar does not serve was last refused
REFUSALS_KEY = "telegram-refusals"  # the rate limit all refusals share
REFUSAL_PERIOD = 86400.0  # a chat Radar does not serve is refused at most once a day
REFUSAL_SPACING = 3.0  # and refusals, all chats together, go out at most every 3 s
MAX_REFUSED = 10_000  # refusals remembered (the oldest are forgotten first)
REFUSALS_QUEUED = 100  # refusals waiting to be sent; more are dropped
REPLY_QUEUE = 5  # replies waiting per chat; a chat that floods commands gets the latest
MAX_REPLY_WAIT = 30.0  # a reply that would wait longer for its chat's turn is dropped
REPLY_CONCURRENCY = 16  # replies in flight at once


def keyboard_markup(
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

    def __init__(self, api: TelegramApi, store: Store, clock: Clock) -> None:
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
        return last is not None and self.clock.time() - last < REFUSAL_PERIOD

    def _book_refusal(self, chat_id: int) -> bool:
        """Book a refusal to the chat if every limit has room at this moment, and remember
        it (so the chat is not refused again for a day)."""
        assert self._refused is not None
        if not self.api.try_turn(chat_id, [(REFUSALS_KEY, REFUSAL_SPACING)]):
            return False
        self._refused.pop(chat_id, None)
        self._refused[chat_id] = self.clock.time()
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
            await self.clock.sleep(wait)
            waited += wait
        return True

    def _load_refused(self) -> dict[int, float]:
        raw = self.store.meta.get(REFUSED_KEY)
        try:
            stored = json.loads(raw) if raw else {}
        except ValueError:
            stored = {}
        now = self.clock.time()
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
                        await self.api.send_message(
                            chat_id,
                            text,
                            parse_mode=ParseMode.HTML,
                            reply_markup=reply.markup if number == len(parts) else None,
                            link_preview_options=NO_PREVIEW,
                        )
                    break
                except RetryAfter as exc:
                    seconds = retry_seconds(exc)
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
